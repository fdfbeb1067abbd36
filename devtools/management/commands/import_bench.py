"""Time a migration: N historical tickets with 3 messages each (customer message, agent reply, internal note)
through the CSV import, as Settings > Import runs it (the background task's ``execute``), in the bench database.

Target (issue 21): 100,000 tickets in under 60 s. Each run imports into an organization of its own (the bench
database is disposable: ``make bench`` uses lumiodesk_bench).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from django.core.management import call_command
from django.core.management.base import BaseCommand

from lumiodesk.models import Membership, Organization, Role
from lumiodesk.permissions import SystemActor
from tickets.imports import services as imports
from tickets.imports.models import ImportKind, ImportState
from tickets.models import Message, Ticket

STATUSES = ("fermé", "résolu", "ouvert", "en attente client")


def csv_of(n: int, agent: str) -> bytes:
    start = datetime(2023, 1, 2, 9, 0, tzinfo=UTC)
    lines = ["email;nom;sujet;description;créé le;statut;priorité;agent;tags;fermé le;réponse;note interne"]
    for i in range(n):
        created = start + timedelta(minutes=7 * i)
        status = STATUSES[i % 4]
        closed = (created + timedelta(hours=5)).strftime("%Y-%m-%d %H:%M") if i % 4 < 2 else ""
        lines.append(f"c{i % 20000}@ex.fr;Client {i % 20000};Commande {i} en retard;La commande {i} n'est pas "
                     f"arrivée.;{created:%Y-%m-%d %H:%M};{status};normale;{agent};livraison;{closed};"
                     f"Nous relançons le transporteur.;Appel le {i % 28 + 1}.")
    return ("\n".join(lines) + "\n").encode()


class Command(BaseCommand):
    help = "Import N historical tickets (3 messages each) through the CSV import and time it."

    def add_arguments(self, parser):
        parser.add_argument("--tickets", type=int, default=100_000)

    def handle(self, *args, tickets: int, **options):
        call_command("migrate", interactive=False, verbosity=0)
        from django.contrib.auth import get_user_model  # noqa: PLC0415 (kept local to the command)

        org = Organization.objects.create(name="Import bench", slug=f"import-bench-{time.time_ns()}",
                                          plan="business")
        user, _ = get_user_model().objects.get_or_create(username="bench-agent@ex.fr",
                                                          defaults={"email": "bench-agent@ex.fr"})
        Membership.objects.create(organization=org, user=user, role=Role.AGENT)
        data = csv_of(tickets, user.email)
        actor = SystemActor("import bench")
        began = time.perf_counter()
        run = imports.start_import(organization=org, actor=actor, kind=ImportKind.TICKETS, filename="bench.csv",
                                   data=data)
        # What the background task does (``run_import_task``), in this process.
        type(run).objects.filter(pk=run.pk).update(state=ImportState.RUNNING)
        run = imports.execute(run.pk)
        elapsed = time.perf_counter() - began
        run.refresh_from_db()
        made = Ticket.objects.filter(organization=org).count()
        messages = Message.objects.filter(organization=org).count()
        self.stdout.write(
            f"import {tickets:,} tickets ({len(data) / 1e6:.1f} MB CSV): {elapsed:.1f} s, "
            f"{made / elapsed:,.0f} tickets/s; {made:,} tickets and {messages:,} messages written; "
            f"report {run.counts}; target < 60 s at 100,000"
        )
