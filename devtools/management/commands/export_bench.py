"""Time the tickets CSV export (Reports > Exports) over the bench organization's 100,000 tickets, as the
background task builds it (``tickets.exports.services.build``), in the bench database.

Target (issue 20): 100,000 tickets to CSV in at most 30 s. The tickets are those ``manage.py bench`` seeds
(one organization "Bench" on Scale, reused; seeded here first if missing). The file is written to a temporary
media root and deleted afterwards; the month's export count of the bench organization is reset before each run
(the bench database is disposable: ``make bench`` uses lumiodesk_bench). ``--archive`` also times the full
archive (ZIP with messages, customers, articles and attachments).
"""

from __future__ import annotations

import tempfile
import time

from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext, override_settings

from crm.models import Company
from lumiodesk.models import Organization, Plan
from lumiodesk.permissions import SystemActor
from tickets.exports import services as exports
from tickets.exports.models import Export, ExportQuota
from tickets.models import Tag, Ticket
from tickets.selectors import TicketFilters
from tickets.services import SEARCH_DOCUMENT_SQL

TARGET_SECONDS = 30
CUSTOMERS = 5_000
TAGS = ("facturation", "bug", "question-produit", "livraison", "urgent-client")
STATUSES = ("new", "open", "waiting_customer", "waiting_internal", "resolved", "closed", "closed", "closed")
PRIORITIES = ("low", "normal", "normal", "normal", "high", "urgent")

_CUSTOMERS_SQL = """
INSERT INTO crm_customer (organization_id, first_name, last_name, email, phone, company_id,
                          notification_preference, attributes, created_at)
SELECT %s, 'Prénom' || i, 'Nom ' || i, 'client' || i || '@exemple.fr', '', CASE WHEN i %% 10 = 0 THEN %s END,
       'both', '{}', now()
FROM generate_series(1, %s) i
"""
_TICKETS_SQL = """
INSERT INTO tickets_ticket (organization_id, number, subject, status, priority, channel, customer_id, imported,
                            sender_unverified, is_automatic, out_of_sla, created_at, updated_at, status_changed_at,
                            resolved_at, closed_at, followups_sent, sla_paused_seconds)
SELECT %s, i, 'Commande ' || i || ' en retard, merci de vérifier', s.status, p.priority, 'email',
       c.ids[1 + i %% array_length(c.ids, 1)], false, false, false, false,
       now() - (i || ' minutes')::interval, now(), now(),
       CASE WHEN s.status IN ('resolved', 'closed') THEN now() END,
       CASE WHEN s.status = 'closed' THEN now() END, 0, 0
FROM generate_series(1, %s) i
CROSS JOIN (SELECT array_agg(id ORDER BY id) ids FROM crm_customer WHERE organization_id = %s) c
CROSS JOIN LATERAL (SELECT (%s::text[])[1 + i %% 8] status) s
CROSS JOIN LATERAL (SELECT (%s::text[])[1 + i %% 6] priority) p
"""
_MESSAGES_SQL = """
INSERT INTO tickets_message (organization_id, ticket_id, kind, author_customer_id, channel, body_html, body_text,
                             body_quoted, email_message_id, created_at)
SELECT organization_id, id, 'customer', customer_id, 'email', '<p>Ma commande n''est pas arrivée.</p>',
       'Ma commande n''est pas arrivée.', '', '', created_at
FROM tickets_ticket WHERE organization_id = %s
"""
_TAGS_SQL = """
INSERT INTO tickets_tickettag (organization_id, ticket_id, tag_id)
SELECT organization_id, id, (%s::bigint[])[1 + number %% 5] FROM tickets_ticket
WHERE organization_id = %s AND number %% 3 = 0
"""


class Command(BaseCommand):
    help = "Export the bench organization's 100,000 tickets to CSV (and optionally the full archive) and time it."

    def add_arguments(self, parser):
        parser.add_argument("--tickets", type=int, default=100_000)
        parser.add_argument("--runs", type=int, default=3)
        parser.add_argument("--archive", action="store_true", help="Also time the full archive (ZIP).")

    def handle(self, *args, tickets: int, runs: int, archive: bool, **options):
        name = connection.settings_dict["NAME"]
        if "bench" not in name:
            raise CommandError(f"Refusing to run on database {name!r}: its name must contain 'bench'.")
        call_command("migrate", interactive=False, verbosity=0)
        org = self._organization(tickets)
        actor = SystemActor("export bench")
        with tempfile.TemporaryDirectory() as media, override_settings(MEDIA_ROOT=media):
            cases = [("all tickets", {}), ("closed tickets", {"status": "closed"}), ("search 'commande'",
                                                                                    {"q": "commande"})]
            for label, params in cases:
                timings = []
                for _run in range(runs if not params else 1):
                    ExportQuota.objects.filter(organization=org).delete()
                    began = time.perf_counter()
                    with CaptureQueriesContext(connection) as queries:
                        export = exports.start_tickets_export(organization=org, actor=actor,
                                                              filters=TicketFilters.from_params(params))
                        export = exports.build(export.pk)
                    timings.append(time.perf_counter() - began)
                    self._cleanup(export)
                best = min(timings)
                verdict = "OK" if export.total < tickets or best <= TARGET_SECONDS else "MISSED"
                self.stdout.write(
                    f"CSV export, {label}: {export.total:,} tickets, {export.size / 1e6:.1f} MB in "
                    f"{best:.2f} s (runs: {', '.join(f'{t:.2f}' for t in timings)}), "
                    f"{export.total / best:,.0f} tickets/s, {len(queries.captured_queries)} queries; "
                    f"target <= {TARGET_SECONDS} s at 100,000: {verdict}"
                )
            if archive:
                Export.objects.filter(organization=org, kind="archive", state__in=["pending", "running"]).delete()
                began = time.perf_counter()
                export = exports.build(exports.start_archive(organization=org, actor=actor).pk)
                elapsed = time.perf_counter() - began
                self._cleanup(export)
                self.stdout.write(f"Full archive: {export.total:,} rows, {export.size / 1e6:.1f} MB ZIP in "
                                  f"{elapsed:.1f} s")
        ExportQuota.objects.filter(organization=org).delete()

    def _organization(self, tickets: int) -> Organization:
        """``manage.py bench``'s organization when it holds the tickets, else one of our own, seeded in SQL."""
        for slug in ("bench", "export-bench"):
            org = Organization.objects.filter(slug=slug).first()
            if org is not None and Ticket.objects.filter(organization=org).count() == tickets:
                self.stdout.write(f"Reusing organization {slug!r} ({tickets:,} tickets).")
                return org
        Organization.objects.filter(slug="export-bench").delete()
        began = time.perf_counter()
        org = Organization.objects.create(name="Export bench", slug="export-bench", plan=Plan.SCALE,
                                          time_zone="Europe/Paris", last_ticket_number=tickets)
        with transaction.atomic(), connection.cursor() as cur:
            company = Company.objects.create(organization=org, name="=Société piégée").pk  # a formula to quote
            cur.execute(_CUSTOMERS_SQL, [org.pk, company, CUSTOMERS])
            tags = [Tag.objects.create(organization=org, name=name).pk for name in TAGS]
            cur.execute(_TICKETS_SQL, [org.pk, tickets, org.pk, list(STATUSES), list(PRIORITIES)])
            cur.execute(_MESSAGES_SQL, [org.pk])
            cur.execute(_TAGS_SQL, [tags, org.pk])
            cur.execute("SELECT array_agg(id) FROM tickets_ticket WHERE organization_id = %s", [org.pk])
            cur.execute(SEARCH_DOCUMENT_SQL, [cur.fetchone()[0]])
        with connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
        self.stdout.write(f"Seeded {tickets:,} tickets in {time.perf_counter() - began:.1f} s.")
        return org

    def _cleanup(self, export: Export) -> None:
        if export.file:
            default_storage.delete(export.file)
        Export.objects.filter(pk=export.pk).delete()
