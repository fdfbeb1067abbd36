"""CSV import (sections 11 and 16): customers, companies, tags and historical tickets.

The steps an Admin goes through (Settings > Import): upload (``start_import``: encoding and separator
detected, columns suggested) → mapping with a preview (``set_mapping``) → a 50-row test import with its
row-by-row report (``run_import(test=True)``), which can be undone (``undo_import``) → the full import
(``run_import``, in the background past ``BACKGROUND_ROWS`` rows, with its progress).

Rules:
- Every row is checked before anything is written; a rejected row writes nothing and the report says why.
  Valid rows are written in batches, each batch in one transaction.
- Re-importing the same file creates nothing twice: a ticket row's identity (its ``external_id`` column, or
  its email, subject and creation date) is kept in ``ImportedRow``; customers, companies and tags are found by
  email or name and updated.
- Imported tickets keep their dates, are marked ``imported`` and land in their column's status; they never
  run the pipeline (no SLA, no rules, no webhook, no notification: section 16). They are written in bulk,
  with their numbers taken in one block and their search document computed per batch.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime

from celery import shared_task
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.models import Company, Customer
from crm.services import SEARCHED_FIELDS, customers_renamed, normalize_email, split_name
from lumiodesk import audit
from lumiodesk.exceptions import InvalidInput
from lumiodesk.html_sanitizer import body_from
from lumiodesk.models import Organization
from lumiodesk.permissions import Actor, members_with, require

from ..models import Channel, Message, MessageKind, Priority, Status, Tag, Ticket, TicketTag
from ..services.search_document import refresh_search_document
from .models import ImportedRow, ImportKind, ImportRun, ImportState
from .reading import Table, read_table

TEST_ROWS = 50
BACKGROUND_ROWS = 5_000
SPLIT_ADVICE_ROWS = 25_000  # section 16: split larger migrations by quarter
BATCH = 1_000


@dataclass(frozen=True)
class Target:
    name: str
    label: str
    required: bool = False
    synonyms: tuple[str, ...] = ()


TARGETS: dict[str, list[Target]] = {
    ImportKind.CUSTOMERS: [
        Target("email", gettext_lazy("Email"), True, ("e_mail", "mail", "courriel", "adresse_email", "email_address")),
        Target("name", gettext_lazy("Nom complet"), False, ("nom_complet", "full_name", "contact", "client")),
        Target("first_name", gettext_lazy("Prénom"), False, ("prenom", "firstname", "given_name")),
        Target("last_name", gettext_lazy("Nom"), False, ("nom", "lastname", "surname", "family_name")),
        Target("phone", gettext_lazy("Téléphone"), False, ("telephone", "tel", "phone_number", "mobile")),
        Target("company", gettext_lazy("Entreprise"), False, ("societe", "organization", "organisation",
                                                               "company_name", "entreprise")),
    ],
    ImportKind.COMPANIES: [
        Target("name", gettext_lazy("Nom"), True, ("nom", "company", "entreprise", "societe", "company_name")),
        Target("domain", gettext_lazy("Domaine"), False, ("domaine", "website", "site", "site_web")),
    ],
    ImportKind.TAGS: [
        Target("name", gettext_lazy("Nom"), True, ("nom", "tag", "label", "etiquette")),
    ],
    ImportKind.TICKETS: [
        Target("email", gettext_lazy("Email du client"), True, ("e_mail", "mail", "courriel", "requester",
                                                                 "customer_email", "email_client", "demandeur")),
        Target("subject", gettext_lazy("Sujet"), True, ("sujet", "objet", "title", "titre")),
        Target("body", gettext_lazy("Message du client"), True, ("description", "message", "corps", "contenu",
                                                                  "content", "text", "texte")),
        Target("created_at", gettext_lazy("Créé le"), True, ("cree_le", "date", "date_de_creation", "created",
                                                              "creation", "opened_at")),
        Target("status", gettext_lazy("Statut"), True, ("statut", "etat", "state")),
        Target("name", gettext_lazy("Nom du client"), False, ("nom", "nom_client", "customer", "customer_name",
                                                              "requester_name", "client")),
        Target("company", gettext_lazy("Entreprise"), False, ("societe", "entreprise", "organization")),
        Target("priority", gettext_lazy("Priorité"), False, ("priorite", "urgence")),
        Target("assignee", gettext_lazy("Agent assigné (email)"), False, ("agent", "assigne", "assigned_to",
                                                                          "owner", "responsable")),
        Target("tags", gettext_lazy("Tags"), False, ("etiquettes", "labels", "tag")),
        Target("closed_at", gettext_lazy("Fermé le"), False, ("ferme_le", "closed", "solved_at", "resolved_at",
                                                               "date_de_fermeture")),
        Target("reply", gettext_lazy("Réponse de l'agent"), False, ("reponse", "answer", "agent_reply")),
        Target("note", gettext_lazy("Note interne"), False, ("note_interne", "internal_note", "commentaire_interne")),
        Target("external_id", gettext_lazy("Identifiant d'origine"), False, ("id", "ticket_id", "numero",
                                                                             "reference", "ref")),
    ],
}

STATUS_WORDS = {
    Status.NEW: ("new", "nouveau", "nouvelle"),
    Status.OPEN: ("open", "ouvert", "ouverte", "en cours", "in progress", "pending agent"),
    Status.WAITING_CUSTOMER: ("waiting_customer", "en attente client", "en attente du client", "pending",
                              "waiting on customer", "en attente"),
    Status.WAITING_INTERNAL: ("waiting_internal", "en attente interne", "on hold", "hold"),
    Status.RESOLVED: ("resolved", "résolu", "resolu", "résolue", "solved"),
    Status.CLOSED: ("closed", "fermé", "ferme", "fermée", "clos", "close"),
}
PRIORITY_WORDS = {
    Priority.LOW: ("low", "basse", "faible", "bas"),
    Priority.NORMAL: ("normal", "normale", "moyenne", "medium"),
    Priority.HIGH: ("high", "haute", "élevée", "elevee", "haut"),
    Priority.URGENT: ("urgent", "urgente", "critique", "critical"),
}
_STATUS = {w: code for code, words in STATUS_WORDS.items() for w in words}
_PRIORITY = {w: code for code, words in PRIORITY_WORDS.items() for w in words}
_DATE_FORMATS = ("%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d-%m-%Y %H:%M", "%d-%m-%Y",
                 "%Y/%m/%d %H:%M", "%Y/%m/%d", "%d.%m.%Y %H:%M", "%d.%m.%Y")
_TAG_SPLIT = re.compile(r"[,;|]")


def _normalize_header(header: str) -> str:
    text = unicodedata.normalize("NFKD", header).encode("ascii", "ignore").decode().lower()
    return "_".join(re.findall(r"[a-z0-9]+", text))


def suggest_mapping(kind: str, headers: list[str]) -> dict[str, str]:
    """Target field -> column, from the column names (French and English, accents and case ignored)."""
    by_name = {_normalize_header(h): h for h in headers}
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for target in TARGETS[kind]:
        for candidate in (target.name, *target.synonyms):
            header = by_name.get(candidate)
            if header and header not in used:
                mapping[target.name] = header
                used.add(header)
                break
    return mapping


# --- steps ---------------------------------------------------------------------------------------------


@transaction.atomic
def start_import(*, organization: Organization, actor: Actor, kind: str, filename: str, data: bytes) -> ImportRun:
    require(actor, "imports.manage", organization)
    if kind not in ImportKind.values:
        raise InvalidInput(_("Type d'import inconnu."))
    table = read_table(data)
    return ImportRun.objects.create(
        organization=organization, created_by=actor.user, kind=kind, filename=(filename or "import.csv")[:255],
        data=data, encoding=table.encoding, separator=table.separator, total_rows=len(table.rows),
        mapping=suggest_mapping(kind, table.headers),
    )


def table_of(run: ImportRun) -> Table:
    return read_table(bytes(run.data))


def set_mapping(*, run: ImportRun, actor: Actor, mapping: dict[str, str]) -> ImportRun:
    require(actor, "imports.manage", run.organization)
    if run.state != ImportState.MAPPING:
        raise InvalidInput(_("Cet import a déjà été lancé."))
    headers = set(table_of(run).headers)
    targets = {t.name: t for t in TARGETS[run.kind]}
    clean = {k: v for k, v in mapping.items() if k in targets and v in headers}
    missing = [str(t.label) for t in targets.values() if t.required and t.name not in clean]
    if missing:
        raise InvalidInput(_("Colonnes obligatoires sans correspondance : %(m)s") % {"m": ", ".join(missing)})
    run.mapping = clean
    run.save(update_fields=["mapping"])
    return run


def preview(run: ImportRun, rows: int = 5) -> list[dict[str, str]]:
    """The first rows as the import will read them (target field -> cell)."""
    table = table_of(run)
    index = {h: i for i, h in enumerate(table.headers)}
    return [{t: row[index[c]] for t, c in run.mapping.items()} for row in table.rows[:rows]]


def launch(*, run: ImportRun, actor: Actor, test: bool) -> bool:
    """Start the run; True if it went to the background (a Celery task), False if it ran now."""
    require(actor, "imports.manage", run.organization)
    updated = ImportRun.objects.filter(pk=run.pk, state=ImportState.MAPPING).update(
        state=ImportState.RUNNING, is_test=test
    )
    if not updated:
        raise InvalidInput(_("Cet import a déjà été lancé."))
    run.state, run.is_test = ImportState.RUNNING, test
    if not test and run.total_rows > BACKGROUND_ROWS:
        transaction.on_commit(lambda: run_import_task.delay(run.pk))
        return True
    execute(run.pk)
    return False


@shared_task(soft_time_limit=30 * 60, time_limit=31 * 60)
def run_import_task(run_id: int) -> str:
    """A large import, in the background (listed in ``tickets.tasks``)."""
    return execute(run_id).state


# --- the run -------------------------------------------------------------------------------------------


@dataclass
class _Outcome:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    error: int = 0
    errors: list[dict] = field(default_factory=list)
    others: list[dict] = field(default_factory=list)

    # Every error is listed (up to 5,000: the rows to fix); skipped and updated rows only as a sample, so that
    # re-importing a large file whose rows are already in does not push its errors out of the report.
    MAX_ERRORS = 5_000
    MAX_OTHERS = 1_000

    def note(self, line: int, outcome: str, reason: str = "") -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        entry = {"line": line, "outcome": outcome, "reason": reason}
        if outcome == "error":
            if len(self.errors) < self.MAX_ERRORS:
                self.errors.append(entry)
        elif (outcome != "created" or reason) and len(self.others) < self.MAX_OTHERS:
            self.others.append(entry)

    @property
    def report(self) -> list[dict]:
        """The errors first (what the user must fix), then the other rows worth a word, each by line."""
        return self.errors + self.others


class RowError(Exception):
    pass


def execute(run_id: int) -> ImportRun:
    """Process the run's rows (the test import: the first 50). Idempotent: rows already imported are skipped."""
    run = ImportRun.objects.select_related("organization").get(pk=run_id)
    if run.state != ImportState.RUNNING:
        return run
    table = table_of(run)
    index = {h: i for i, h in enumerate(table.headers)}
    records = [
        (line, {t: row[index[c]].strip() for t, c in run.mapping.items()})
        for line, row in enumerate(table.rows[:TEST_ROWS] if run.is_test else table.rows, start=2)
    ]
    outcome = _Outcome()
    writer = {
        ImportKind.CUSTOMERS: _import_customers,
        ImportKind.COMPANIES: _import_companies,
        ImportKind.TAGS: _import_tags,
        ImportKind.TICKETS: _import_tickets,
    }[run.kind]
    try:
        for start in range(0, len(records), BATCH):
            batch = records[start:start + BATCH]
            with transaction.atomic():
                writer(run, batch, outcome)
            ImportRun.objects.filter(pk=run.pk).update(processed=start + len(batch))
    except Exception as exc:  # the batches written so far stay, with their ImportedRow: a new run goes on
        ImportRun.objects.filter(pk=run.pk).update(state=ImportState.FAILED, error=str(exc)[:2000],
                                                   finished_at=timezone.now())
        raise
    counts = {"created": outcome.created, "updated": outcome.updated, "skipped": outcome.skipped,
              "error": outcome.error}
    with transaction.atomic():
        ImportRun.objects.filter(pk=run.pk).update(
            state=ImportState.DONE, counts=counts, report=outcome.report, finished_at=timezone.now(),
            processed=len(records),
        )
        audit.record(organization=run.organization, actor=run.created_by, action="import.completed",
                     target_type="import", target_id=run.pk, kind=run.kind, test=run.is_test,
                     filename=run.filename, **counts)
    run.refresh_from_db()
    return run


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _email(value: str) -> str:
    if not value:
        raise RowError(_("email manquant"))
    try:
        return normalize_email(value).lower()
    except InvalidInput:
        raise RowError(_("email invalide : %(e)s") % {"e": value[:100]}) from None


# One probe of the unique (organization, kind, key) index per key (a LATERAL ... LIMIT 1 is never turned into a
# hash join). ``key IN (...)``, and ``EXISTS`` too, let the planner, with the statistics of a table that grows
# during the import (autoanalyze comes later), read every row of the organization and kind for each batch:
# 100,000 tickets took 140 s, 108 s of it in this lookup.
_ALREADY_IMPORTED = """
SELECT k.key FROM unnest(%s::varchar[]) AS k(key)
CROSS JOIN LATERAL (
    SELECT 1 FROM tickets_importedrow r WHERE r.organization_id = %s AND r.kind = %s AND r.key = k.key LIMIT 1
) AS found
"""


def _already_imported(organization_id: int, kind: str, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    with connection.cursor() as cur:
        cur.execute(_ALREADY_IMPORTED, [keys, organization_id, str(kind)])
        return {row[0] for row in cur.fetchall()}


def _remember(run: ImportRun, kind: str, created: list[tuple[str, int]]) -> None:
    ImportedRow.objects.bulk_create(
        [ImportedRow(organization_id=run.organization_id, kind=kind, key=k, run=run, object_id=pk)
         for k, pk in created],
        ignore_conflicts=True,
    )


def _companies_by_name(organization_id: int, names: set[str]) -> dict[str, Company]:
    if not names:
        return {}
    found = Company.objects.filter(organization_id=organization_id).extra(  # noqa: S610 (no user SQL)
        where=["lower(name) = ANY(%s)"], params=[sorted(names)]
    )
    return {c.name.lower(): c for c in found}


def _ensure_companies(run: ImportRun, names: dict[str, str]) -> dict[str, Company]:
    """Company by lowercased name, created when missing (remembered for undo)."""
    existing = _companies_by_name(run.organization_id, set(names))
    missing = [n for n in names if n not in existing]
    if missing:
        Company.objects.bulk_create(
            [Company(organization_id=run.organization_id, name=names[n][:200]) for n in missing],
            ignore_conflicts=True,
        )
        fresh = _companies_by_name(run.organization_id, set(missing))
        _remember(run, ImportKind.COMPANIES, [(_key(n), c.pk) for n, c in fresh.items()])
        existing.update(fresh)
    return existing


def _import_companies(run: ImportRun, batch, outcome: _Outcome) -> None:
    wanted: dict[str, tuple[int, dict]] = {}
    for line, values in batch:
        name = " ".join(values.get("name", "").split())
        if not name:
            outcome.note(line, "error", _("nom manquant"))
        elif name.lower() in wanted:
            outcome.note(line, "skipped", _("déjà présent plus haut dans le fichier"))
        else:
            wanted[name.lower()] = (line, {**values, "name": name})
    existing = _companies_by_name(run.organization_id, set(wanted))
    for lowered, (line, values) in wanted.items():
        company = existing.get(lowered)
        if company is None:
            continue
        domain = values.get("domain", "")[:200]
        if domain and domain != company.domain:
            company.domain = domain
            company.save(update_fields=["domain"])
            outcome.note(line, "updated")
        else:
            outcome.note(line, "skipped", _("existe déjà"))
    new = {n: v for n, (_line, v) in wanted.items() if n not in existing}
    Company.objects.bulk_create(
        [Company(organization_id=run.organization_id, name=v["name"][:200], domain=v.get("domain", "")[:200])
         for v in new.values()],
        ignore_conflicts=True,
    )
    fresh = _companies_by_name(run.organization_id, set(new))
    _remember(run, ImportKind.COMPANIES, [(_key(n), c.pk) for n, c in fresh.items()])
    for lowered in new:
        outcome.note(wanted[lowered][0], "created")


def _import_tags(run: ImportRun, batch, outcome: _Outcome) -> None:
    wanted: dict[str, int] = {}
    for line, values in batch:
        name = " ".join(values.get("name", "").split()).lower()
        if not name:
            outcome.note(line, "error", _("nom manquant"))
        elif len(name) > 50:
            outcome.note(line, "error", _("plus de 50 caractères"))
        elif name in wanted:
            outcome.note(line, "skipped", _("déjà présent plus haut dans le fichier"))
        else:
            wanted[name] = line
    existing = set(Tag.objects.filter(organization_id=run.organization_id, name__in=list(wanted))
                   .values_list("name", flat=True))
    for name in existing:
        outcome.note(wanted[name], "skipped", _("existe déjà"))
    new = [n for n in wanted if n not in existing]
    created = Tag.objects.bulk_create([Tag(organization_id=run.organization_id, name=n) for n in new])
    _remember(run, ImportKind.TAGS, [(_key(t.name), t.pk) for t in created])
    for name in new:
        outcome.note(wanted[name], "created")


def _customer_values(values: dict) -> dict:
    first, last = values.get("first_name", ""), values.get("last_name", "")
    if not (first or last) and values.get("name"):
        first, last = split_name(values["name"])
    return {"first_name": first[:100], "last_name": last[:100], "phone": values.get("phone", "")[:40]}


def _customers_by_email(organization_id: int, emails: set[str]) -> dict[str, Customer]:
    if not emails:
        return {}
    found = Customer.objects.filter(organization_id=organization_id).extra(  # noqa: S610 (no user SQL)
        where=["lower(email) = ANY(%s)"], params=[sorted(emails)]
    )
    return {c.email.lower(): c for c in found}


def _ensure_customers(run: ImportRun, people: dict[str, dict]) -> dict[str, Customer]:
    """Customer by lowercased email, created when missing (with their company; remembered for undo)."""
    companies = _ensure_companies(run, {v["company"].lower(): v["company"] for v in people.values()
                                        if v.get("company")})
    existing = _customers_by_email(run.organization_id, set(people))
    missing = [e for e in people if e not in existing]
    if missing:
        Customer.objects.bulk_create(
            [Customer(organization_id=run.organization_id, email=e,
                      company=companies.get(people[e].get("company", "").lower()), **_customer_values(people[e]))
             for e in missing],
            ignore_conflicts=True,
        )
        fresh = _customers_by_email(run.organization_id, set(missing))
        _remember(run, ImportKind.CUSTOMERS, [(_key(e), c.pk) for e, c in fresh.items()])
        existing.update(fresh)
    return existing


def _import_customers(run: ImportRun, batch, outcome: _Outcome) -> None:
    people: dict[str, dict] = {}
    lines: dict[str, int] = {}
    for line, values in batch:
        try:
            email = _email(values.get("email", ""))
        except RowError as exc:
            outcome.note(line, "error", str(exc))
            continue
        if email in people:
            outcome.note(line, "skipped", _("déjà présent plus haut dans le fichier"))
            continue
        people[email], lines[email] = values, line
    before = _customers_by_email(run.organization_id, set(people))
    customers = _ensure_customers(run, people)
    companies = _companies_by_name(run.organization_id, {v["company"].lower() for v in people.values()
                                                         if v.get("company")})
    renamed = []
    for email, values in people.items():
        if email not in before:
            outcome.note(lines[email], "created")
            continue
        customer, changed = customers[email], []
        for name, value in _customer_values(values).items():
            if value and getattr(customer, name) != value:
                setattr(customer, name, value)
                changed.append(name)
        company = companies.get(values.get("company", "").lower())
        if company is not None and customer.company_id != company.pk:
            customer.company = company
            changed.append("company")
        if changed:
            customer.save(update_fields=changed)
            outcome.note(lines[email], "updated")
            if SEARCHED_FIELDS.intersection(changed):
                renamed.append(customer)
        else:
            outcome.note(lines[email], "skipped", _("identique"))
    customers_renamed(renamed)  # their tickets' search entries hold the name


def _parse_date(value: str, tz) -> datetime:
    value = value.strip()
    if not value:
        raise RowError(_("date manquante"))
    parsed = None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        raise RowError(_("date illisible : %(v)s (attendu : 2024-03-31 14:05 ou 31/03/2024 14:05)")
                       % {"v": value[:40]})
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, tz)
    if parsed > timezone.now():
        raise RowError(_("date dans le futur : %(v)s") % {"v": value[:40]})
    return parsed


@dataclass
class _TicketRow:
    line: int
    key: str
    email: str
    values: dict
    subject: str
    body: str
    created_at: datetime
    status: str
    priority: str
    closed_at: datetime | None
    assignee_id: int | None
    tags: list[str]
    note: str = ""


def _check_ticket(line: int, values: dict, tz, agents: dict[str, int]) -> _TicketRow:
    email = _email(values.get("email", ""))
    subject = " ".join(values.get("subject", "").split())[:255]
    if not subject:
        raise RowError(_("sujet manquant"))
    body = values.get("body", "")
    if not body.strip():
        raise RowError(_("message du client manquant"))
    created_at = _parse_date(values.get("created_at", ""), tz)
    status = _STATUS.get(values.get("status", "").strip().lower())
    if status is None:
        raise RowError(_("statut inconnu : %(v)s (nouveau, ouvert, en attente client, en attente interne, "
                         "résolu, fermé)") % {"v": values.get("status", "")[:40] or "—"})
    priority = Priority.NORMAL
    if values.get("priority"):
        priority = _PRIORITY.get(values["priority"].strip().lower())
        if priority is None:
            raise RowError(_("priorité inconnue : %(v)s (basse, normale, haute, urgente)")
                           % {"v": values["priority"][:40]})
    closed_at = _parse_date(values["closed_at"], tz) if values.get("closed_at") else None
    if closed_at is not None and closed_at < created_at:
        raise RowError(_("fermé avant d'être créé"))
    note, assignee_id = "", None
    if values.get("assignee"):
        assignee_id = agents.get(values["assignee"].strip().lower())
        if assignee_id is None:
            note = _("agent inconnu (%(a)s) : ticket non assigné") % {"a": values["assignee"][:100]}
    tags = [t for t in (" ".join(x.split()).lower() for x in _TAG_SPLIT.split(values.get("tags", ""))) if t]
    if any(len(t) > 50 for t in tags):
        raise RowError(_("un tag dépasse 50 caractères"))
    key = _key("external", values["external_id"]) if values.get("external_id") else \
        _key(email, subject, created_at.isoformat())
    return _TicketRow(line, key, email, values, subject, body, created_at, status, priority, closed_at,
                      assignee_id, tags, note)


def _take_numbers(organization_id: int, count: int) -> int:
    """The first of ``count`` consecutive ticket numbers, taken under the organization row's lock."""
    with connection.cursor() as cur:
        cur.execute(
            "UPDATE lumiodesk_organization SET last_ticket_number = GREATEST(last_ticket_number, "
            "(SELECT COALESCE(MAX(number), 0) FROM tickets_ticket WHERE organization_id = %s)) + %s "
            "WHERE id = %s RETURNING last_ticket_number",
            [organization_id, count, organization_id],
        )
        return cur.fetchone()[0] - count + 1


def _copy(table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Write ``rows`` with PostgreSQL's COPY: several times faster than INSERTs for the hundreds of thousands
    of rows of a migration (issue 21: 100,000 tickets with 3 messages in under a minute). ``columns`` names
    every NOT NULL column without a database default; the others stay NULL."""
    if not rows:
        return
    with connection.cursor() as cur, cur.cursor.copy(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)


def _ids(table: str, count: int) -> list[int]:
    with connection.cursor() as cur:
        cur.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)",
                    [count])
        return [pk for (pk,) in cur.fetchall()]


_TICKET_COLUMNS = (
    "id", "organization_id", "number", "subject", "status", "priority", "channel", "customer_id", "assignee_id",
    "imported", "sender_unverified", "is_automatic", "out_of_sla", "created_at", "updated_at",
    "status_changed_at", "first_response_at", "resolved_at", "closed_at", "last_customer_message_at",
    "followups_sent", "sla_paused_seconds",
)
_MESSAGE_COLUMNS = (
    "organization_id", "ticket_id", "kind", "author_user_id", "author_customer_id", "channel", "body_html",
    "body_text", "body_quoted", "email_message_id", "created_at",
)


def _import_tickets(run: ImportRun, batch, outcome: _Outcome) -> None:
    org = run.organization
    tz = zoneinfo.ZoneInfo(org.time_zone)
    agents = dict(
        members_with("tickets.be_assigned", organization=org)
        .values_list("user__email", "user_id")
    )
    agents = {e.lower(): pk for e, pk in agents.items()}
    rows: list[_TicketRow] = []
    seen: set[str] = set()
    for line, values in batch:
        try:
            row = _check_ticket(line, values, tz, agents)
        except RowError as exc:
            outcome.note(line, "error", str(exc))
            continue
        if row.key in seen:
            outcome.note(line, "skipped", _("déjà présent plus haut dans le fichier"))
            continue
        seen.add(row.key)
        rows.append(row)
    done = _already_imported(org.pk, ImportKind.TICKETS, [r.key for r in rows])
    for row in rows:
        if row.key in done:
            outcome.note(row.line, "skipped", _("déjà importé"))
    rows = [r for r in rows if r.key not in done]
    if not rows:
        return
    people = {}
    for r in rows:
        people.setdefault(r.email, r.values)
    customers = _ensure_customers(run, people)
    first = _take_numbers(org.pk, len(rows))
    ids = _ids(Ticket._meta.db_table, len(rows))
    tickets, messages = [], []
    for i, (pk, r) in enumerate(zip(ids, rows, strict=True)):
        done = r.status in (Status.RESOLVED, Status.CLOSED)
        finished = (r.closed_at or r.created_at) if done else None
        last = r.closed_at or r.created_at
        reply_at = last if r.values.get("reply") else None
        customer_id = customers[r.email].pk
        tickets.append((
            pk, org.pk, first + i, r.subject, r.status, r.priority, Channel.EMAIL.value, customer_id,
            r.assignee_id, True, False, False, False, r.created_at, last, last, reply_at, finished,
            finished if r.status == Status.CLOSED else None, r.created_at, 0, 0,
        ))
        html, text = body_from(text=r.body)
        messages.append((org.pk, pk, MessageKind.CUSTOMER.value, None, customer_id, Channel.EMAIL.value, html, text,
                         "", "", r.created_at))
        if reply_at:
            html, text = body_from(text=r.values["reply"])
            messages.append((org.pk, pk, MessageKind.REPLY.value, r.assignee_id, None, Channel.EMAIL.value, html,
                             text, "", "", reply_at))
        if r.values.get("note"):
            html, text = body_from(text=r.values["note"])
            messages.append((org.pk, pk, MessageKind.NOTE.value, r.assignee_id, None, Channel.MANUAL.value, html,
                             text, "", "", last))
    _copy(Ticket._meta.db_table, _TICKET_COLUMNS, tickets)
    _copy(Message._meta.db_table, _MESSAGE_COLUMNS, messages)
    names = sorted({t for r in rows for t in r.tags})
    if names:
        Tag.objects.bulk_create([Tag(organization_id=org.pk, name=n) for n in names], ignore_conflicts=True)
        tag_ids = dict(Tag.objects.filter(organization_id=org.pk, name__in=names).values_list("name", "id"))
        _copy(TicketTag._meta.db_table, ("organization_id", "ticket_id", "tag_id"),
              [(org.pk, pk, tag_ids[n]) for pk, r in zip(ids, rows, strict=True) for n in dict.fromkeys(r.tags)])
    refresh_search_document(ids)
    _remember(run, ImportKind.TICKETS, [(r.key, pk) for r, pk in zip(rows, ids, strict=True)])
    for r in rows:
        outcome.note(r.line, "created", r.note)


# --- undo ----------------------------------------------------------------------------------------------


@transaction.atomic
def undo_import(*, run: ImportRun, actor: Actor) -> dict[str, int]:
    """Delete what the run created: its tickets, then the customers, companies and tags it created that nothing
    else uses now. Updates made to existing records are not reverted (the report lists them)."""
    require(actor, "imports.manage", run.organization)
    run = ImportRun.objects.select_for_update().get(pk=run.pk)
    if run.state != ImportState.DONE:
        raise InvalidInput(_("Seul un import terminé peut être annulé."))
    created = {kind: list(run.rows.filter(kind=kind).values_list("object_id", flat=True))
               for kind in ImportKind.values}
    tickets = Ticket.objects.filter(organization=run.organization, pk__in=created[ImportKind.TICKETS])
    removed = {"tickets": tickets.delete()[1].get("tickets.Ticket", 0)}
    unused = (Customer.objects.filter(organization=run.organization, pk__in=created[ImportKind.CUSTOMERS])
              .annotate(n=Count("tickets")).filter(n=0).values_list("pk", flat=True))
    removed["customers"] = Customer.objects.filter(pk__in=list(unused)).delete()[1].get("crm.Customer", 0)
    removed["companies"] = Company.objects.filter(
        organization=run.organization, pk__in=created[ImportKind.COMPANIES]
    ).delete()[1].get("crm.Company", 0)
    removed["tags"] = Tag.objects.filter(organization=run.organization,
                                         pk__in=created[ImportKind.TAGS]).delete()[1].get("tickets.Tag", 0)
    run.rows.all().delete()
    run.state = ImportState.UNDONE
    run.save(update_fields=["state"])
    audit.record(organization=run.organization, actor=actor.user, action="import.undone", target_type="import",
                 target_id=run.pk, kind=run.kind, **removed)
    return removed


def runs_of(organization: Organization, limit: int = 20) -> list[ImportRun]:
    return list(ImportRun.objects.filter(organization=organization).defer("data", "report")
                .select_related("created_by").order_by("-created_at")[:limit])
