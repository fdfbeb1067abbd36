"""python manage.py bench_ingest — email intake throughput (run by `make bench`).

Messages per second from raw bytes to a threaded ticket message, in one process
(one worker): receive (raw stored, dedup) + parse + thread + ticket/message + search
document, each message in its own transactions as in production (DEBUG off). 60 % start a ticket,
40 % answer an earlier one through In-Reply-To; a quarter carry an HTML part and a PDF.
"""

from __future__ import annotations

import random
import statistics
import time
from email.message import EmailMessage

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import override_settings

from crm.models import Customer
from lumiodesk.models import AuditLog, Organization
from tickets.email.intake import ingest
from tickets.email.models import EmailReference, InboundEmail, InboundStatus, Mailbox
from tickets.models import Attachment, Message, Ticket

SUBJECTS = ["Facture de mars incorrecte", "Widget chat invisible", "Réinitialiser mon mot de passe",
            "Export CSV vide", "Problème de connexion SSO", "Question sur le forfait Business"]
BODIES = ["Bonjour,\n\nma facture de ce mois comporte un agent supplémentaire que nous n'avons pas.\n\nMerci",
          "Bonjour,\n\nle widget ne s'affiche plus sur notre site depuis ce matin.\n\nCordialement",
          "Hello,\n\nI cannot reset my password, the link expired.\n\nThanks"]
PDF = b"%PDF-1.4\n" + b"0" * 20_000


def build(i: int, rng: random.Random, parent: str | None) -> tuple[bytes, str]:
    msg = EmailMessage()
    mid = f"bench-{i}-{rng.randrange(10**9)}@client.example"
    msg["From"] = f"Client {i % 500} <client{i % 500}@client.example>"
    msg["To"] = "support@bench.test"
    msg["Subject"] = ("Re: " if parent else "") + rng.choice(SUBJECTS)
    msg["Message-ID"] = f"<{mid}>"
    if parent:
        msg["In-Reply-To"] = f"<{parent}>"
        msg["References"] = f"<{parent}>"
    body = rng.choice(BODIES)
    msg.set_content(body + ("\n\nLe lundi, Support a écrit :\n> précédent\n> message" if parent else ""))
    if i % 4 == 0:
        msg.add_alternative(f"<p>{body.replace(chr(10), '<br>')}</p>", subtype="html")
        msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="facture.pdf")
    return msg.as_bytes(), mid


class Command(BaseCommand):
    help = "Measure email intake throughput (messages per second, one process)."

    def add_arguments(self, parser):
        parser.add_argument("--messages", type=int, default=1000)

    def handle(self, *args, messages: int, **options):
        # As in production: DEBUG off, so Django does not keep every query's SQL text (as `bench` does).
        with override_settings(DEBUG=False):
            self._run(messages)

    def _run(self, messages: int) -> None:
        name = connection.settings_dict["NAME"]
        if "bench" not in name:
            raise CommandError(f"Refusing to run on database {name!r}: its name must contain 'bench'.")
        call_command("migrate", interactive=False, verbosity=0)
        org, _ = Organization.objects.get_or_create(
            slug="bench-ingest", defaults={"name": "Bench ingest", "plan": "scale"}
        )
        Ticket.objects.filter(organization=org).delete()
        InboundEmail.objects.filter(organization=org).delete()
        EmailReference.objects.filter(organization=org).delete()
        mailbox, _ = Mailbox.objects.get_or_create(organization=org, address="support@bench.test",
                                                   defaults={"name": "Bench"})
        rng = random.Random(7)
        raws, earlier = [], []
        for i in range(messages):
            parent = rng.choice(earlier) if earlier and rng.random() < 0.4 else None
            raw, mid = build(i, rng, parent)
            raws.append(raw)
            earlier.append(mid)
        # warm-up outside the timing
        for raw, _mid in [build(10**6 + k, rng, None) for k in range(20)]:
            ingest(mailbox=mailbox, raw=raw, source="bench")
        # Dead rows of the clean-up vacuumed, statistics fresh, as autovacuum keeps them in production (a server
        # with autovacuum off would otherwise read customers by the organization index, row by row).
        with connection.cursor() as cur:
            for model in (Customer, Ticket, Message, InboundEmail, EmailReference, Attachment, AuditLog):
                cur.execute(f"VACUUM ANALYZE {model._meta.db_table}")
        durations = []
        started = time.perf_counter()
        statuses: dict[str, int] = {}
        for raw in raws:
            t0 = time.perf_counter()
            inbound = ingest(mailbox=mailbox, raw=raw, source="bench")
            durations.append(time.perf_counter() - t0)
            statuses[str(inbound.status)] = statuses.get(str(inbound.status), 0) + 1
        total = time.perf_counter() - started
        rate = messages / total
        durations.sort()
        p95 = durations[int(len(durations) * 0.95) - 1] * 1000
        # Round trips per message, counted on 50 more messages after the timing (the counter costs time).
        statements = 0

        def count(execute, sql, params, many, context):
            nonlocal statements
            statements += 1
            return execute(sql, params, many, context)

        extra = []
        for k in range(50):
            parent = earlier[-1 - k] if k % 5 < 2 else None
            extra.append(build(2 * 10**6 + k, rng, parent)[0])
        with connection.execute_wrapper(count):
            for raw in extra:
                ingest(mailbox=mailbox, raw=raw, source="bench")
        threaded = Ticket.objects.filter(organization=org).count()
        self.stdout.write(
            f"\nEmail intake: {messages} messages in {total:.1f} s = {rate:.0f} messages/s "
            f"(median {statistics.median(durations) * 1000:.1f} ms, p95 {p95:.1f} ms per message; "
            f"{statements / len(extra):.1f} SQL statements per message besides BEGIN/COMMIT; "
            f"{threaded} tickets, statuses {statuses}) — target ≥ 100/s: "
            f"{'PASS' if rate >= 100 and statuses.get(InboundStatus.IMPORTED, 0) == messages else 'FAIL'}"
        )
