"""python manage.py bench_ingest — email intake throughput (run by `make bench`).

Messages per second from raw bytes to a threaded ticket message, in one process
(one worker): receive (raw stored, dedup) + parse + thread + ticket/message + search
document, each message in its own transactions as in production (DEBUG off). 60 % start a ticket,
40 % answer an earlier one through In-Reply-To; a quarter carry an HTML part and a PDF.

Wall-clock time on a shared machine says as much about the other processes as about the intake: the
line also gives the CPU time per message, this process's and its database backend's (read from
/proc when the server runs on this machine), and the load average. Then the same intake with
``--workers`` processes at once (production runs several Celery workers and SMTP sessions): the
figure to compare with the target is said to be which.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import statistics
import time
from email.message import EmailMessage

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, connections
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
        parser.add_argument("--workers", type=int, default=os.cpu_count() or 2,
                            help="processes ingesting at once in the second measurement (0: none); by default "
                                 "one per CPU, as Celery's worker pool")

    def handle(self, *args, messages: int, workers: int, **options):
        # As in production: DEBUG off, so Django does not keep every query's SQL text (as `bench` does).
        with override_settings(DEBUG=False):
            self._run(messages)
            if workers > 0:
                self._run_concurrent(messages, workers)

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
        load = os.getloadavg()[0]
        backend = _backend_cpu()
        cpu = time.process_time()
        started = time.perf_counter()
        statuses: dict[str, int] = {}
        for raw in raws:
            t0 = time.perf_counter()
            inbound = ingest(mailbox=mailbox, raw=raw, source="bench")
            durations.append(time.perf_counter() - t0)
            statuses[str(inbound.status)] = statuses.get(str(inbound.status), 0) + 1
        total = time.perf_counter() - started
        cpu = time.process_time() - cpu
        backend = _backend_cpu() - backend if backend is not None else None
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
            f"\n  one process, CPU per message: {_cpu_line(cpu, backend, messages)}; load average {load:.2f} "
            f"({os.cpu_count()} CPUs)"
        )
        self.mailbox = mailbox

    def _run_concurrent(self, messages: int, workers: int) -> None:
        """The same messages (new Message-IDs) ingested by ``workers`` processes at once, each its own
        connection, one message after the other as a Celery worker does."""
        rng = random.Random(11)
        raws, earlier = [], []
        for i in range(messages):
            parent = rng.choice(earlier) if earlier and rng.random() < 0.4 else None
            raw, mid = build(3 * 10**6 + i, rng, parent)
            raws.append(raw)
            earlier.append(mid)
        context = multiprocessing.get_context("fork")
        connections.close_all()  # each process opens its own
        barrier = context.Barrier(workers + 1)
        results = context.Queue()
        processes = [
            context.Process(target=_worker, args=(self.mailbox.pk, raws[k::workers], barrier, results))
            for k in range(workers)
        ]
        for process in processes:
            process.start()
        load = os.getloadavg()[0]
        barrier.wait(timeout=120)
        started = time.perf_counter()
        outcomes = [results.get(timeout=1800) for _p in processes]
        total = time.perf_counter() - started
        for process in processes:
            process.join(timeout=60)
        statuses: dict[str, int] = {}
        for _cpu, _backend, counted in outcomes:
            for status, n in counted.items():
                statuses[status] = statuses.get(status, 0) + n
        cpu = sum(o[0] for o in outcomes)
        backend = None if any(o[1] is None for o in outcomes) else sum(o[1] for o in outcomes)
        rate = messages / total
        ok = rate >= 100 and statuses.get(InboundStatus.IMPORTED, 0) == messages
        self.stdout.write(
            f"Email intake, {workers} processes at once: {messages} messages in {total:.1f} s = {rate:.0f} "
            f"messages/s (statuses {statuses}) — target ≥ 100/s: {'PASS' if ok else 'FAIL'}\n"
            f"  CPU per message: {_cpu_line(cpu, backend, messages)}; load average {load:.2f} at the start "
            f"({os.cpu_count()} CPUs)"
        )


def _worker(mailbox_id: int, raws: list[bytes], barrier, results) -> None:
    try:
        mailbox = Mailbox.objects.select_related("organization").get(pk=mailbox_id)
        backend = _backend_cpu()
        barrier.wait(timeout=120)
        cpu = time.process_time()
        statuses: dict[str, int] = {}
        for raw in raws:
            inbound = ingest(mailbox=mailbox, raw=raw, source="bench")
            statuses[str(inbound.status)] = statuses.get(str(inbound.status), 0) + 1
        cpu = time.process_time() - cpu
        backend = _backend_cpu() - backend if backend is not None else None
        results.put((cpu, backend, statuses))
    except BaseException as exc:
        results.put((0.0, None, {f"error: {exc!r}"[:200]: len(raws)}))
    finally:
        results.close()
        results.join_thread()  # the result written before the process ends
        connections.close_all()
        os._exit(0)  # no atexit, no Django teardown of the parent's state


def _backend_cpu() -> float | None:
    """CPU seconds (user + system) used so far by this connection's PostgreSQL backend; None when the
    server does not run on this machine (its process cannot be read)."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        (pid,) = cur.fetchone()
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_line(cpu: float, backend: float | None, messages: int) -> str:
    here = cpu / messages * 1000
    if backend is None:
        return f"{here:.1f} ms in this process (database backend not on this machine)"
    there = backend / messages * 1000
    return (f"{here:.1f} ms in this process + {there:.1f} ms in its database backend = {here + there:.1f} ms "
            f"(≈ {1000 / (here + there):.0f} messages/s per CPU core, waits aside)")
