"""Writing an export's file: the tickets CSV (PostgreSQL's COPY, batch by batch) and the full archive (ZIP).

Contract:
- Every cell that a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return) is prefixed with a quote, in SQL for the COPY and in Python for the archive's other files
  (OWASP "CSV injection"). Numbers and dates are written by us and never start so.
- The CSV is UTF-8 with a byte-order mark and ``;`` between cells, as French spreadsheets open it; dates are in
  the organization's time zone; the columns read back through the CSV import (status words, assignee email).
- Nothing here writes to the database but the progress callback the caller gives; the caller stores the file.
- Attachments are never in the CSV (section 11); the archive holds them under ``attachments/<ticket number>/``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable
from typing import IO

from django.contrib.auth import get_user_model
from django.contrib.postgres.aggregates import ArrayAgg
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import F, Q
from django.utils.translation import gettext as _

from crm.models import Company, Customer
from kb.models import Article
from lumiodesk.models import Organization

from ..models import Attachment, Channel, Message, Priority, Status, Ticket

BATCH = 10_000  # tickets per COPY; the progress moves between two
SEPARATOR = ";"
BOM = "\ufeff".encode()
Progress = Callable[[int], None]  # called with how many more rows are written

_FORMULA = re.compile(r"^[=+\-@\t\r]")


def safe_cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula, quoted; anything else as it is."""
    if isinstance(value, str) and _FORMULA.match(value):
        return "'" + value
    return value


def _safe_sql(expression: str) -> str:
    return f"CASE WHEN {expression} ~ '^[-=+@\t\r]' THEN '''' || {expression} ELSE {expression} END"


def _labels_sql(column: str, choices: type) -> tuple[str, list[str]]:
    whens = " ".join("WHEN %s THEN %s" for _c in choices.values)
    params: list[str] = []
    for value, label in choices.choices:
        params += [value, str(label)]
    return f"CASE {column} {whens} ELSE {column} END", params


def ticket_headers() -> list[str]:
    return [_("Numéro"), _("Sujet"), _("Statut"), _("Priorité"), _("Canal"), _("Client"), _("Email du client"),
            _("Entreprise"), _("Responsable (email)"), _("Tags"), _("Créé le"), _("Mis à jour le"),
            _("Première réponse le"), _("Résolu le"), _("Fermé le")]


def _tickets_copy_sql(organization: Organization) -> tuple[str, list]:
    """COPY of the tickets whose ids are the last parameter, in number order, labels in the active language."""
    status, status_params = _labels_sql("t.status", Status)
    priority, priority_params = _labels_sql("t.priority", Priority)
    channel, channel_params = _labels_sql("t.channel", Channel)
    users = get_user_model()._meta.db_table
    dates = [f"to_char(t.{c} AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI')"
             for c in ("created_at", "updated_at", "first_response_at", "resolved_at", "closed_at")]
    tags = ("(SELECT string_agg(g.name, ', ' ORDER BY g.name) FROM tickets_tickettag tt "
            "JOIN tickets_tag g ON g.id = tt.tag_id WHERE tt.ticket_id = t.id)")
    columns = [
        "t.number", _safe_sql("t.subject"), status, priority, channel,
        _safe_sql("NULLIF(trim(c.first_name || ' ' || c.last_name), '')"), _safe_sql("c.email"),
        _safe_sql("co.name"), _safe_sql("u.email"), _safe_sql(tags), *dates,
    ]
    sql = (
        f"COPY (SELECT {', '.join(columns)} FROM tickets_ticket t "
        "JOIN crm_customer c ON c.id = t.customer_id "
        "LEFT JOIN crm_company co ON co.id = c.company_id "
        f"LEFT JOIN {users} u ON u.id = t.assignee_id "
        "WHERE t.organization_id = %s AND t.id = ANY(%s) ORDER BY t.number) "
        f"TO STDOUT WITH (FORMAT csv, DELIMITER '{SEPARATOR}')"
    )
    params = [*status_params, *priority_params, *channel_params, *[organization.time_zone] * len(dates),
              organization.pk]
    return sql, params


def write_tickets_csv(out: IO[bytes], organization: Organization, ids: list[int], progress: Progress,
                      *, bom: bool = True) -> None:
    """The tickets ``ids`` (already in the export's order, number order) as CSV into ``out``."""
    header = io.StringIO()
    csv.writer(header, delimiter=SEPARATOR, lineterminator="\n").writerow(ticket_headers())
    out.write((BOM if bom else b"") + header.getvalue().encode())
    sql, params = _tickets_copy_sql(organization)
    with connection.cursor() as cursor:
        for start in range(0, len(ids), BATCH):
            chunk = ids[start:start + BATCH]
            with cursor.cursor.copy(sql, [*params, chunk]) as copy:
                for data in copy:
                    out.write(data)
            progress(len(chunk))


# --- the full archive ------------------------------------------------------------------------------------


def _write_dataset(archive: zipfile.ZipFile, name: str, columns: list[str], rows: Callable[[], Iterable[dict]],
                   progress: Progress) -> int:
    """``name``.csv and ``name``.json from ``rows()`` (called twice: each file streams from the database)."""
    count = 0
    with archive.open(f"{name}.csv", "w", force_zip64=True) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        writer = csv.writer(text, delimiter=SEPARATOR, lineterminator="\n")
        writer.writerow(columns)
        for row in rows():
            writer.writerow([safe_cell(_flat(row[c])) for c in columns])
            count += 1
        text.flush()
        text.detach()
    with archive.open(f"{name}.json", "w", force_zip64=True) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        text.write("[")
        for i, row in enumerate(rows()):
            text.write(("," if i else "") + "\n" + json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False))
        text.write("\n]\n")
        text.flush()
        text.detach()
    progress(count)
    return count


def _flat(value: object) -> object:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def _stream(queryset) -> Callable[[], Iterable[dict]]:
    return lambda: queryset.iterator(chunk_size=2000)


_SAFE_NAME = re.compile(r"[^\w.\-]+")


def archive_counts(organization: Organization) -> int:
    """How many rows the archive writes (its progress bar's length)."""
    org = organization.pk
    return sum(model.objects.filter(organization_id=org).count()
               for model in (Ticket, Message, Customer, Company, Article, Attachment))


def write_archive(out: IO[bytes], organization: Organization, ticket_ids: list[int], progress: Progress) -> None:
    """Tickets, messages, customers, companies and articles as CSV and JSON, and every attachment file still
    kept (a file removed by the retention period is listed with ``missing``)."""
    org = organization.pk
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        with archive.open("tickets.csv", "w", force_zip64=True) as raw:
            write_tickets_csv(raw, organization, ticket_ids, lambda n: None)
        tickets = (Ticket.objects.filter(organization_id=org).order_by("number")
                   .annotate(customer_email=F("customer__email"), company=F("customer__company__name"),
                             assignee_email=F("assignee__email"),
                             tag_names=ArrayAgg("tags__name", distinct=True, filter=Q(tags__isnull=False),
                                                default=[]))
                   .values("number", "subject", "status", "priority", "channel", "customer_email", "company",
                           "assignee_email", "tag_names", "imported", "is_automatic", "created_at", "updated_at",
                           "first_response_at", "resolved_at", "closed_at"))
        with archive.open("tickets.json", "w", force_zip64=True) as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            text.write("[")
            for i, row in enumerate(tickets.iterator(chunk_size=2000)):
                text.write(("," if i else "") + "\n" + json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False))
            text.write("\n]\n")
            text.flush()
            text.detach()
        progress(len(ticket_ids))

        messages = (Message.objects.filter(organization_id=org).order_by("ticket__number", "created_at", "id")
                    .annotate(ticket_number=F("ticket__number"), author_email=F("author_user__email"),
                              customer_email=F("author_customer__email"))
                    .values("id", "ticket_number", "kind", "channel", "author_email", "customer_email", "body_text",
                            "body_html", "created_at"))
        _write_dataset(archive, "messages", ["id", "ticket_number", "kind", "channel", "author_email",
                                             "customer_email", "body_text", "body_html", "created_at"],
                       _stream(messages), progress)
        customers = (Customer.objects.filter(organization_id=org).order_by("id")
                     .annotate(company_name=F("company__name"))
                     .values("id", "first_name", "last_name", "email", "phone", "company_name",
                             "notification_preference", "attributes", "created_at"))
        _write_dataset(archive, "customers", ["id", "first_name", "last_name", "email", "phone", "company_name",
                                              "notification_preference", "attributes", "created_at"],
                       _stream(customers), progress)
        companies = Company.objects.filter(organization_id=org).order_by("id").values("id", "name", "domain",
                                                                                        "created_at")
        _write_dataset(archive, "companies", ["id", "name", "domain", "created_at"], _stream(companies), progress)
        articles = (Article.objects.filter(organization_id=org).order_by("id")
                    .annotate(collection_name=F("collection__name"))
                    .values("id", "title", "slug", "language", "status", "audience", "collection_name", "body",
                            "created_at", "updated_at", "published_at", "archived_at"))
        _write_dataset(archive, "articles", ["id", "title", "slug", "language", "status", "audience",
                                             "collection_name", "body", "created_at", "updated_at", "published_at",
                                             "archived_at"], _stream(articles), progress)
        _write_attachments(archive, org, progress)


def _write_attachments(archive: zipfile.ZipFile, org: int, progress: Progress) -> None:
    attachments = (Attachment.objects.filter(organization_id=org).order_by("id")
                   .annotate(ticket_number=F("message__ticket__number"))
                   .values("id", "ticket_number", "message_id", "filename", "content_type", "size", "file", "token",
                           "created_at"))
    listed = []
    for row in attachments.iterator(chunk_size=500):
        path = f"attachments/{row['ticket_number']}/{row['token'][:8]}-{_SAFE_NAME.sub('_', row['filename'])[:100]}"
        try:
            with default_storage.open(row["file"], "rb") as source, archive.open(path, "w", force_zip64=True) as dest:
                for chunk in iter(lambda s=source: s.read(1 << 20), b""):
                    dest.write(chunk)
        except (FileNotFoundError, OSError):
            path = "missing"  # removed after the plan's retention (section 18): the ticket's history stays
        listed.append({k: row[k] for k in ("id", "ticket_number", "message_id", "filename", "content_type", "size",
                                           "created_at")} | {"path": path})
        progress(1)
    _write_dataset(archive, "attachments", ["id", "ticket_number", "message_id", "filename", "content_type", "size",
                                            "created_at", "path"], lambda: listed, lambda n: None)
