"""Email intake: store the raw bytes first, then turn them into the right ticket message.

Every channel (SMTP receiver, IMAP poller, ``ingest_email``) calls ``receive`` then
``process``. ``process`` never raises: a message ends as a ticket message, a
duplicate, an ignored automatic message (kept, listed) or in quarantine with its
reason (kept, listed, retryable). Nothing is dropped.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from email.parser import BytesHeaderParser

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import override

from crm.models import Customer
from crm.services import composed, get_or_create_customer
from lumiodesk import audit, rows
from lumiodesk.exceptions import DomainError
from lumiodesk.html_sanitizer import html_to_text, sanitize_email_html, sanitize_html, text_to_html
from lumiodesk.models import Organization
from lumiodesk.permissions import Actor, SystemActor, require

from .. import services
from ..attachments import MAX_FILES_PER_EMAIL, check_uploads
from ..models import BlockedSender, Channel, CustomerNotification, Message, MessageKind, SavedView, Ticket
from .models import EmailReference, InboundEmail, InboundStatus, Mailbox
from .parsing import (
    RAW_POLICY,
    ParsedEmail,
    RelayIdentity,
    addresses,
    decode_header_value,
    normalize_message_id,
    parse_email,
    raw_digest,
    relay_identity,
    split_quoted,
    split_quoted_html,
)

log = logging.getLogger(__name__)

SUBJECT_TOKEN = re.compile(r"\[#(\d{1,9})\]")


class UnknownMailbox(Exception):
    pass


# --- mailboxes ---------------------------------------------------------------------------------------


def inbound_domain() -> str:
    return settings.INBOUND_EMAIL_DOMAIN


def find_mailbox(address: str) -> Mailbox:
    """A mailbox by its forwarding address, or by its own address once verified (``verification``).

    An unverified own address routes nowhere: what an organization types in its settings never changes
    where anyone else's mail goes. A verified address belongs to one mailbox at most (unique index).
    """
    address = (address or "").strip().strip("<>").lower()
    local, _at, domain = address.rpartition("@")
    if domain == inbound_domain().lower() and "-" in local:
        token = local.rsplit("-", 1)[1]
        mailbox = Mailbox.objects.select_related("organization").filter(forward_token=token).first()
        if mailbox is not None and local == f"{mailbox.organization.slug}-{mailbox.forward_token}":
            return mailbox
    mailbox = (
        Mailbox.objects.select_related("organization").alias(lower_address=Lower("address"))
        .filter(lower_address=address, address_verified_at__isnull=False).first()
    )
    if mailbox is not None:
        return mailbox
    raise UnknownMailbox(f"no mailbox for {address}")


def find_mailbox_for_import(address: str) -> Mailbox:
    """``ingest_email`` (run by whoever operates the server, not by a tenant): the routed mailbox, else the
    one mailbox that has this own address, verified or not; several: the forwarding address is needed."""
    try:
        return find_mailbox(address)
    except UnknownMailbox:
        pass
    address = (address or "").strip().strip("<>").lower()
    matches = list(
        Mailbox.objects.select_related("organization").alias(lower_address=Lower("address"))
        .filter(lower_address=address)[:2]
    )
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UnknownMailbox(f"{address} is used by several organizations: give the forwarding address")
    raise UnknownMailbox(f"no mailbox for {address}")


# --- receipt -----------------------------------------------------------------------------------------


def message_key_of(raw: bytes) -> tuple[str, str]:
    """(key, digest): the Message-ID, or a digest of the raw bytes when there is none; the raw bytes'
    digest. Headers only: the body is read once, when the message is processed."""
    digest = raw_digest(raw)
    try:
        mid = normalize_message_id(decode_header_value(_headers(raw).get("message-id")))
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        mid = ""
    return (mid or f"sha256:{digest}"), digest


def _header_block(raw: bytes) -> bytes:
    """The message up to its first empty line: what a header-only parse reads (the rest, attachments
    included, is not fed through the parser to be set aside)."""
    if raw.startswith((b"\n", b"\r\n")):
        return b""
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if i >= 0]
    return raw[: min(ends) + 1] if ends else raw


def _headers(raw: bytes):
    return BytesHeaderParser(policy=RAW_POLICY).parsebytes(_header_block(raw))  # the same reading as parse_email


def _identity_of(raw: bytes) -> RelayIdentity:
    """``parsing.relay_identity`` of a stored or arriving message: its headers, and its text when it has no
    Date (parsed then only: a repeated Message-ID without a Date); its raw bytes' digest when its headers
    cannot be read at all."""
    try:
        headers = _headers(raw)
        if decode_header_value(headers.get("date")).strip():
            return relay_identity(headers)
        parsed = parse_email(raw)
        return relay_identity(headers, undated_text=parsed.text or parsed.html)
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        return RelayIdentity(raw_digest(raw), "")


def receive(
    *, mailbox: Mailbox, raw: bytes, source: str, envelope_from: str = "", envelope_to: list[str] | None = None
) -> InboundEmail:
    """Store the raw message (one transaction). A second copy of a message the organization
    already has is stored as a duplicate pointing at the original.

    A repeat has the Message-ID *and* the sender and Date of an original (``parsing.relay_identity``: what a
    relay keeps; the subject only tells apart messages that share all three). The digest is computed only
    when a Message-ID comes again: the first original of a Message-ID
    is stored with an empty digest ("unknown", as the release before migration 0021 stored every message),
    read from its raw bytes when needed; the unique index (organization, message_key, content_digest) then
    sends every later arrival of that Message-ID to ``_store_known``."""
    key, digest = message_key_of(raw)
    common = {
        "organization_id": mailbox.organization_id,
        "mailbox": mailbox,
        "source": source,
        "raw": raw,
        "size": len(raw),
        "digest": digest,
        "message_key": key[:520],
        "content_digest": "",
        "envelope_from": (envelope_from or "")[:320],
        "envelope_to": list(envelope_to or []),
    }
    if not mailbox.is_paused:
        # The usual case is one statement, committed on its own (no BEGIN and COMMIT round trips): when it
        # returns, the raw bytes and the receipt are stored together, for good.
        inbound_id = _insert_original(common, first=True)
        if inbound_id is not None:
            return _received(inbound_id, common)
    with transaction.atomic():
        inbound = _store_known(common)
        if mailbox.is_paused and inbound.status == InboundStatus.RECEIVED:
            return _finish(inbound, InboundStatus.QUARANTINED, _("boîte en pause à la réception"))
        return inbound


def _received(inbound_id: int, values: dict) -> InboundEmail:
    inbound = InboundEmail(pk=inbound_id, status=InboundStatus.RECEIVED, **values)
    inbound._state.adding = False
    return inbound


def _store_known(common: dict) -> InboundEmail:
    """A message whose Message-ID the organization may already have (or a paused mailbox's): a duplicate of
    the original with its content digest, else an original of its own, stored with its digest. Concurrent
    copies of one Message-ID wait here one after the other (an advisory lock on the Message-ID: a row lock
    on the originals would make ``process`` skip them as taken by another worker)."""
    organization_id, key = common["organization_id"], common["message_key"]
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [_COPY_LOCK, f"{organization_id}:{key}"])
    mine: RelayIdentity | None = None
    for _attempt in range(3):
        originals = InboundEmail.objects.filter(organization_id=organization_id, message_key=key).exclude(
            status=InboundStatus.DUPLICATE)
        if key.startswith("sha256:"):  # no Message-ID: the key is the raw bytes' digest, the same bytes
            original = originals.order_by("pk").only("id", "ticket_id").first()
            if original is not None:
                return _duplicate(common, original, "")
        else:
            mine = mine or _identity_of(common["raw"])
            # Those the copy may belong to: the same sender and Date (the digest's prefix: a range, read on the
            # unique index whatever the collation), or not known yet. A constant Message-ID's thousands of
            # originals are not read.
            prefix = mine.sender_date[:48]
            candidates = list(
                originals.filter(Q(content_digest="") | Q(content_digest__gte=prefix, content_digest__lt=prefix + "g",
                                                          content_digest__startswith=prefix))
                .order_by("pk").values_list("pk", "ticket_id", "raw")
            )
            original = next(
                (InboundEmail(pk=pk, ticket_id=ticket_id) for pk, ticket_id, raw in candidates
                 if mine.same_message(_identity_of(bytes(raw)))), None)
            if original is not None:
                return _duplicate(common, original, mine.digest)
            if candidates or originals.exists():
                values = {**common, "content_digest": mine.digest}
                inbound_id = _insert_original(values, first=False)
                if inbound_id is not None:
                    return _received(inbound_id, values)
                continue  # another worker stored this very message a moment ago: again
        # The first of its Message-ID after all (the original deleted meanwhile, a paused mailbox).
        inbound_id = _insert_original(common, first=True)
        if inbound_id is not None:
            return _received(inbound_id, common)
    return _duplicate(common, None, mine.digest if mine else "")


_COPY_LOCK = 0x6962  # "ib": first key of the advisory lock per organization and Message-ID (_store_known)


def _duplicate(common: dict, original: InboundEmail | None, digest: str) -> InboundEmail:
    return InboundEmail.objects.create(
        **{**common, "content_digest": digest},
        status=InboundStatus.DUPLICATE,
        duplicate_of=original,
        ticket_id=original.ticket_id if original else None,
        reason=_("même message déjà reçu"),
        processed_at=timezone.now(),
    )


def _insert_original(values: dict, *, first: bool) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id: the new row's id, or None when the organization
    already has an original of this message (one round trip on the hot path). ``first``: only when the
    organization has no original of this Message-ID at all (the first original of a Message-ID deleted, the
    ones left still catch their copies)."""
    columns = {
        "organization_id": values["organization_id"],
        "mailbox_id": values["mailbox"].pk,
        "source": values["source"],
        "raw": values["raw"],
        "size": values["size"],
        "digest": values["digest"],
        "message_key": values["message_key"],
        "content_digest": values["content_digest"],
        "envelope_from": values["envelope_from"],
        "envelope_to": json.dumps(values["envelope_to"]),
        "status": InboundStatus.RECEIVED,
        "reason": "",
        "subject": "",
        "from_email": "",
        "attempts": 0,
        "received_at": timezone.now(),
    }
    params = list(columns.values())
    sql = _FIRST_SQL if first else _INSERT_SQL
    if first:
        params += [values["organization_id"], values["message_key"]]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    return row[0] if row else None


_INSERT_COLUMNS = (
    "organization_id, mailbox_id, source, raw, size, digest, message_key, content_digest, envelope_from, "
    "envelope_to, status, reason, subject, from_email, attempts, received_at"
)
_INSERT_SQL = (
    f"INSERT INTO {InboundEmail._meta.db_table} ({_INSERT_COLUMNS}) VALUES ({', '.join(['%s'] * 16)}) "
    "ON CONFLICT DO NOTHING RETURNING id"
)
_FIRST_SQL = (
    f"INSERT INTO {InboundEmail._meta.db_table} ({_INSERT_COLUMNS}) SELECT {', '.join(['%s'] * 16)} "
    f"WHERE NOT EXISTS (SELECT 1 FROM {InboundEmail._meta.db_table} WHERE organization_id = %s "
    "AND message_key = %s AND status <> 'duplicate') ON CONFLICT DO NOTHING RETURNING id"
)


def _finish(inbound: InboundEmail, status: str, reason: str = "", *, ticket=None, message=None,
            keep_ticket: bool = False, reference: str = "") -> InboundEmail:
    """The row's outcome, written in one statement; ``reference``: the Message-ID to record for ``ticket``
    (``_record_reference``), written by the same statement."""
    inbound.status = status
    inbound.reason = reason[:2000]
    if not keep_ticket:
        inbound.ticket = ticket
    inbound.message = message
    inbound.processed_at = timezone.now()
    if inbound._state.adding:
        inbound.save()
        if reference and ticket is not None:
            _record_reference(ticket, reference)
        return inbound
    values = [inbound.status, inbound.reason, inbound.ticket_id, inbound.message_id, inbound.processed_at,
              inbound.subject, inbound.from_email, inbound.attempts, inbound.pk]
    with connection.cursor() as cur:  # every message ends here: one prepared statement, no ORM save
        if reference and ticket is not None:
            cur.execute(_FINISH_WITH_REFERENCE_SQL, [ticket.organization_id, ticket.pk, reference[:500], False,
                                                     inbound.processed_at, *values])
        else:
            cur.execute(_FINISH_SQL, values)
    return inbound


_FINISH_SQL = (
    f"UPDATE {InboundEmail._meta.db_table} SET status = %s, reason = %s, ticket_id = %s, message_id = %s, "
    "processed_at = %s, subject = %s, from_email = %s, attempts = %s WHERE id = %s"
)


# --- processing --------------------------------------------------------------------------------------


@dataclass
class IntakeOutcome:
    status: str
    ticket_number: int | None
    reason: str = ""


def outcome_of(inbound: InboundEmail) -> IntakeOutcome:
    """What became of a message. A duplicate answers with its original's ticket (the original may have
    been processed, or retried out of quarantine, after the copy arrived); a duplicate of an original
    that has no ticket answers as that original does, so no caller shows "ticket None"."""
    ticket_id = inbound.ticket_id
    status, reason = inbound.status, inbound.reason
    if inbound.status == InboundStatus.DUPLICATE and inbound.duplicate_of_id:
        original = InboundEmail.objects.filter(pk=inbound.duplicate_of_id).only("status", "reason", "ticket").first()
        if original is not None:
            ticket_id = ticket_id or original.ticket_id
            if ticket_id is None:
                status, reason = original.status, f"{inbound.reason} ({original.reason or original.status})"
    number = None
    if ticket_id:
        number = Ticket.objects.filter(pk=ticket_id).values_list("number", flat=True).first()
    return IntakeOutcome(status, number, reason)


# The references the message threads to, whether its sender is blocked and the customer with the sender's
# address, in one round trip: the one-row ``b`` always answers (the sender's block), joined to the customer
# (``Customer.objects.find_by_email``'s lookup, on the (organization, lower(email)) unique index) and to the
# references found (none: one row of NULLs).
_REFERENCES_SQL = (
    f"SELECT b.blocked, r.message_id, r.outbound, r.ticket_id, {rows.columns(Customer, 'c')} "
    f"FROM (SELECT EXISTS (SELECT 1 FROM {BlockedSender._meta.db_table} "
    "WHERE organization_id = %s AND email = %s) AS blocked) b "
    f"LEFT JOIN LATERAL (SELECT * FROM {Customer._meta.db_table} "
    "WHERE organization_id = %s AND lower(email) = lower(%s) LIMIT 1) c ON true "
    "LEFT JOIN LATERAL (SELECT message_id, outbound, ticket_id, created_at, id "
    f"FROM {EmailReference._meta.db_table} "
    "WHERE organization_id = %s AND message_id = ANY(%s) AND NOT ambiguous) r ON true "
    "ORDER BY r.created_at DESC, r.id DESC"
)


@dataclass(frozen=True)
class _Known:
    own_ticket_id: int | None  # the ticket of our own outgoing message come back
    thread_ticket_id: int | None  # the ticket of the newest reference the message threads to
    sender_blocked: bool  # marked as spam with "block the sender" (tickets.services.spam)
    customer: Customer | None = None  # the organization's customer with the sender's address, when there is one


def _references(organization_id: int, parsed: ParsedEmail, sender: str) -> _Known:
    """What the organization already knows of the message, read in one query: its own Message-ID and its
    In-Reply-To and References against the stored references (as ids), and whether ``sender`` is blocked
    (``tickets.services.spam.is_blocked``, asked in the same statement)."""
    ids = parsed.thread_ids
    wanted = [*ids, parsed.message_id] if parsed.message_id else ids
    email = sender.strip().lower() or None  # no sender: blocked by no row
    with connection.cursor() as cur:  # every message asks: one prepared statement, no ORM compilation
        cur.execute(_REFERENCES_SQL, [organization_id, email, organization_id, email, organization_id,
                                      list(wanted)])
        found = cur.fetchall()
    refs = [(m, out, t) for _b, m, out, t, *_c in found if m is not None]
    own = next((t for m, out, t in refs if out and m == parsed.message_id), None)
    thread = next((t for m, _out, t in refs if m in ids), None)
    first = found[0]
    customer = rows.instance(Customer, first[4:]) if any(v is not None for v in first[4:]) else None
    return _Known(own, thread, bool(first[0]), customer)


def _envelope_sender(value: str) -> str:
    pairs = addresses([value])
    return pairs[0][1] if pairs else ""


def find_ticket(organization: Organization, parsed: ParsedEmail, thread_ticket_id: int | None) -> Ticket | None:
    """In-Reply-To and References against the ticket's Message-IDs (ours and theirs: ``thread_ticket_id``,
    read by ``_references``), then the [#1234] token in the subject when the sender is that ticket's
    customer."""
    if thread_ticket_id is not None:
        # A reference by id: ``add_message`` locks and reads the ticket itself.
        ticket = Ticket(pk=thread_ticket_id, organization=organization)
        ticket._state.adding = False
        return ticket
    m = SUBJECT_TOKEN.search(parsed.subject or "")
    if m and parsed.from_email:
        ticket = (
            Ticket.objects.select_related("customer")
            .defer("search_vector")
            .filter(organization_id=organization.pk, number=int(m.group(1)))
            .first()
        )
        if ticket is not None and ticket.customer.email.lower() == parsed.from_email.lower():
            ticket.organization = organization
            return ticket
    return None


def _split_attachments(parsed: ParsedEmail) -> tuple[list[SimpleUploadedFile], list[str]]:
    """Files we accept, and a line for each one we could not keep as an attachment
    (it stays in the raw message, downloadable)."""
    accepted, refused = [], []
    for att in parsed.attachments:
        upload = SimpleUploadedFile(att.filename, att.data, content_type=att.content_type)
        upload.content_id = att.content_id  # the HTML's <img src="cid:..."> (tickets.services keeps it)
        try:
            check_uploads([upload])
        except DomainError as exc:
            refused.append(exc.message)
            continue
        upload.seek(0)
        accepted.append(upload)
    over = [_("pièce jointe au-delà de %(n)s non importée") % {"n": MAX_FILES_PER_EMAIL} for _x in
            accepted[MAX_FILES_PER_EMAIL:]]
    return accepted[:MAX_FILES_PER_EMAIL], refused + over


# What a mail client leaves above the history it quotes: empty lines and paragraphs, a rule. Read from the
# end, one piece at a time, in linear time: the regular expression this replaces,
# ``(?:\s|&nbsp;|<br>|<hr>|<(p|div)>(?:\s|&nbsp;|<br>)*</\1>)+$``, was searched from every position of a
# long run of ``<br>`` and took seconds on 80 KB (issue 15).
_BLANK = ("&nbsp;", "<br>")
_TRAILING_BLANK = (*_BLANK, "<hr>")
_EMPTY_BLOCKS = (("</p>", "<p>"), ("</div>", "<div>"))


def _skip_blank(html: str, end: int, pieces: tuple[str, ...]) -> int:
    """Where the run of whitespace and ``pieces`` that ends at ``end`` starts."""
    while end:
        last = html[end - 1]
        if last.isspace():
            end -= 1
        elif last == ";" and html.endswith("&nbsp;", 0, end):
            end -= 6
        elif last == ">" and (html.endswith("<br>", 0, end) or "<hr>" in pieces and html.endswith("<hr>", 0, end)):
            end -= 4
        else:
            return end
    return end


def strip_trailing_space(html: str) -> str:
    """``html`` without the blank lines, spaces, rules and empty paragraphs at its end."""
    end = len(html)
    while True:
        end = _skip_blank(html, end, _TRAILING_BLANK)
        block = next((b for b in _EMPTY_BLOCKS if html.endswith(b[0], 0, end)), None)
        if block is None:
            return html[:end]
        close, opening = block
        inner = _skip_blank(html, end - len(close), _BLANK)
        if not html.endswith(opening, 0, inner):
            return html[:end]
        end = inner - len(opening)


def _bodies(parsed: ParsedEmail) -> tuple[str, str, str]:
    """(html for display, plain text, folded quoted history).

    The HTML is shown as the customer wrote it (sanitized, images from the message only) when it can be
    cut above the same history the text folds away; otherwise the text is shown, paragraphs kept."""
    text = parsed.text.strip()
    if not text and parsed.html:
        text = html_to_text(sanitize_html(parsed.html))
    new, quoted = split_quoted(text)
    if not new.strip():
        new = _("(message sans texte)")
    html = text_to_html(new)
    if parsed.html:
        above, history = split_quoted_html(parsed.html)
        shown = strip_trailing_space(sanitize_email_html(above))
        if (history or not quoted) and (html_to_text(shown).strip() or "<img" in shown):
            html = shown
            if history and not quoted:
                quoted = html_to_text(sanitize_html(history))
    return html, new, quoted


def _record_reference(ticket: Ticket, message_id: str, *, outbound: bool = False) -> None:
    """One per message: a prepared statement. A Message-ID already known keeps its ticket; known for another
    ticket (two different messages sent with one Message-ID), it no longer threads at all: a reply naming it
    could belong to either ticket (it is then threaded by its other references or its [#1234] token, or
    opens a ticket). Our own outgoing Message-IDs are never made ambiguous by what comes in."""
    if message_id:
        with connection.cursor() as cur:
            cur.execute(_REFERENCE_SQL, [ticket.organization_id, ticket.pk, message_id[:500], outbound,
                                         timezone.now()])


_REFERENCE_SQL = (
    f"INSERT INTO {EmailReference._meta.db_table} AS ref "
    "(organization_id, ticket_id, message_id, outbound, created_at, ambiguous) VALUES (%s, %s, %s, %s, %s, false) "
    "ON CONFLICT (organization_id, message_id) DO UPDATE SET ambiguous = true "
    "WHERE ref.ticket_id <> EXCLUDED.ticket_id AND NOT ref.outbound AND NOT ref.ambiguous"
)
# The reference and the row's outcome in one round trip (a data-modifying CTE runs whatever the UPDATE reads).
_FINISH_WITH_REFERENCE_SQL = f"WITH reference AS ({_REFERENCE_SQL}) {_FINISH_SQL}"


# The processing transaction commits without waiting for its WAL to reach the disk (synchronous_commit off,
# for this transaction only): the message's durability point is its receipt (``receive``, committed
# synchronously before anyone is told it arrived). Should the database server crash before the WAL writer
# flushes it (at most 3 x wal_writer_delay, 600 ms by default), the message is found unprocessed again
# (status "received") and taken up by ``process_stale``; the database stays consistent (no torn
# transaction). Measured (issue 22): a synchronous commit costs 1.3 to 5.4 ms on the bench machine (fsync of
# the WAL, shared with every database of the server), two per message were up to a third of its time. The
# setting rides on the lock statement (no extra round trip). Never when ``process`` runs inside a caller's
# transaction (what the caller commits keeps its durability). Also noted in the crash window: an on-commit
# hook (acknowledgement, notification) that ran before the crash may run again when the message is processed
# again.
_LOCK_SQL = (
    f"SELECT attempts FROM {InboundEmail._meta.db_table} WHERE id = %s AND status = ANY(%s) FOR UPDATE SKIP LOCKED"
)
_LOCK_ASYNC_SQL = (
    "SELECT attempts, set_config('synchronous_commit', 'off', true) "
    f"FROM {InboundEmail._meta.db_table} WHERE id = %s AND status = ANY(%s) FOR UPDATE SKIP LOCKED"
)
_ASYNC_COMMIT_SQL = "SET LOCAL synchronous_commit TO OFF"


# The reason a message whose processing hit the Celery task's soft time limit is quarantined with (the task
# retries it a few times first; an admin can retry it from the quarantine list: the raw message is kept).
# ``process`` marks the message it returns with ``timed_out = True`` then.
def timed_out(inbound: InboundEmail) -> bool:
    return inbound.status == InboundStatus.QUARANTINED and getattr(inbound, "timed_out", False)


def process(inbound_id: int, *, received: InboundEmail | None = None, sender: str = "") -> InboundEmail:
    """Parse a stored message and make it a ticket message. Never raises.

    ``received`` is the row ``receive`` just stored, with its mailbox (``ingest``): then only the
    lock is taken, the message is not read back. ``sender``: the customer's address an agent gave for a
    message in which none could be read (quarantine screen)."""
    holder: dict[str, InboundEmail] = {}
    pending = [InboundStatus.RECEIVED, InboundStatus.QUARANTINED]
    own_transaction = not connection.in_atomic_block
    try:
        with transaction.atomic():
            if received is not None:  # the hot path (every message): the lock in one prepared statement
                with connection.cursor() as cur:
                    cur.execute(_LOCK_ASYNC_SQL if own_transaction else _LOCK_SQL,
                                [inbound_id, [str(p) for p in pending]])
                    row = cur.fetchone()
                inbound = received if row is not None else None
                if inbound is not None:
                    inbound.attempts = row[0]
            else:
                if own_transaction:
                    with connection.cursor() as cur:
                        cur.execute(_ASYNC_COMMIT_SQL)
                inbound = (
                    InboundEmail.objects.select_for_update(of=("self",), skip_locked=True)
                    .filter(pk=inbound_id, status__in=pending)
                    .select_related("mailbox", "mailbox__organization")
                    .first()
                )
            if inbound is None:  # already processed, or being processed by another worker
                return InboundEmail.objects.get(pk=inbound_id)
            inbound.attempts += 1
            holder["inbound"] = inbound
            return _process_locked(inbound, services, sender)
    except Exception as exc:  # quarantine, never lose: the whole transaction is dropped (no savepoint needed inside)
        log.exception("inbound %s quarantined", inbound_id)
        inbound = holder.get("inbound")
        if inbound is None:  # cut before the row was locked: an attempt all the same
            try:
                inbound = InboundEmail.objects.get(pk=inbound_id)
            except Exception:
                if connection.in_atomic_block:
                    raise
                connection.close()  # a query cut by the time limit leaves the connection unusable
                inbound = InboundEmail.objects.get(pk=inbound_id)
            inbound.attempts += 1
        reason = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, SoftTimeLimitExceeded):
            inbound.timed_out = True
            reason = _("traitement trop long : limite de temps dépassée (essai %(n)s) ; le message brut est "
                       "conservé") % {"n": inbound.attempts}
        try:
            with transaction.atomic():  # with the subject and sender read, so the quarantine list shows them
                return _finish(inbound, InboundStatus.QUARANTINED, reason)
        except Exception:
            if not connection.in_atomic_block:  # a query cut by the time limit leaves the connection unusable
                connection.close()
            inbound.refresh_from_db(fields=["subject", "from_email"])
            return _finish(inbound, InboundStatus.QUARANTINED, reason)


def quarantine_interrupted(inbound_id: int, *, starts: int) -> InboundEmail:
    """Quarantine a message whose processing was killed ``starts`` times, without processing it again."""
    with transaction.atomic():
        inbound = (
            InboundEmail.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(pk=inbound_id, status__in=[InboundStatus.RECEIVED, InboundStatus.QUARANTINED]).first()
        )
        if inbound is None:
            return InboundEmail.objects.get(pk=inbound_id)
        inbound.attempts += 1
        return _finish(inbound, InboundStatus.QUARANTINED, _(
            "traitement interrompu %(n)s fois (limite de temps) ; le message brut est conservé") % {"n": starts})


def _process_locked(inbound: InboundEmail, services, sender_given: str = "") -> InboundEmail:
    # The reasons the quarantine list shows, and the notes left on tickets, in the organization's language,
    # whatever the worker or command processing the message has active.
    with override(inbound.mailbox.organization.language):
        return _process_in_language(inbound, services, sender_given)


def _process_in_language(inbound: InboundEmail, services, sender_given: str = "") -> InboundEmail:
    mailbox = inbound.mailbox
    org = mailbox.organization
    parsed = parse_email(bytes(inbound.raw))
    inbound.subject = parsed.subject[:255]
    inbound.from_email = parsed.from_email[:320]
    if not parsed.auto_reason and inbound.source == "smtp" and inbound.envelope_from.strip() in ("", "<>"):
        # MAIL FROM:<> (RFC 5321 4.5.5: bounces and auto-replies only). Received by our own SMTP
        # receiver, the message has no Return-Path header for parse_email to see: the envelope says it.
        parsed.auto_reason = "null sender"

    sender = parsed.from_email  # From, else Reply-To, Sender or Return-Path (parse_email); else the envelope
    if not sender and inbound.envelope_from.strip() not in ("", "<>"):
        sender = _envelope_sender(inbound.envelope_from)
    if not sender and sender_given:
        sender = sender_given.strip().lower()
    sender = composed(sender)  # as crm.services.normalize_email stores it: one customer however the accents came
    known = _references(org.pk, parsed, sender)
    thread_ticket_id = known.thread_ticket_id
    if known.own_ticket_id is not None:
        inbound.ticket_id = known.own_ticket_id
        return _finish(inbound, InboundStatus.IGNORED, _("notre propre message revenu"), keep_ticket=True)
    if sender != parsed.from_email:
        inbound.from_email = sender[:320]
    if parsed.bounce is not None:
        return _process_bounce(inbound, org, parsed, thread_ticket_id)
    ticket = find_ticket(org, parsed, thread_ticket_id)
    if parsed.is_automatic:
        suppressed = _suppressed(inbound, mailbox, sender, parsed)
        if suppressed:
            return _finish(inbound, InboundStatus.IGNORED, suppressed, ticket=ticket)
    if parsed.is_automatic and ticket is not None:
        # Kept on the ticket for the agents, without reopening it or answering.
        with override(org.language):
            note = _("Message automatique reçu (%(r)s) de %(s)s : %(subj)s") % {
                "r": parsed.auto_reason, "s": sender or "?", "subj": parsed.subject}
        html, text, quoted = _bodies(parsed)
        message = Message.objects.create(
            organization=org, ticket=ticket, kind=MessageKind.NOTE, channel=Channel.EMAIL,
            body_html=f"<p><em>{escape(note)}</em></p>{html}", body_text=f"{note}\n\n{text}", body_quoted=quoted,
            email_message_id=parsed.message_id,
        )
        _record_reference(ticket, parsed.message_id)
        return _finish(inbound, InboundStatus.IGNORED, _("message automatique : %(r)s") % {"r": parsed.auto_reason},
                       ticket=ticket, message=message)
    if not sender:
        return _finish(inbound, InboundStatus.QUARANTINED, _("aucune adresse d'expéditeur lisible"))
    if _is_own_address(mailbox, sender):
        return _finish(inbound, InboundStatus.IGNORED, _("envoyé par une adresse de l'organisation"), ticket=ticket)
    if known.sender_blocked:  # marked as spam with "block the sender" (read with the references)
        return _finish(inbound, InboundStatus.QUARANTINED,
                       _("expéditeur bloqué (spam) : %(s)s") % {"s": sender})

    html, text, quoted = _bodies(parsed)
    files, refused = _split_attachments(parsed)
    # A display name can be any length; first and last name hold 100 characters each.
    # The customer was looked up with the references (``_references``): created here on first contact only.
    customer = known.customer or get_or_create_customer(organization=org, email=sender, name=parsed.from_name[:100],
                                                        received=True, looked_up=True)
    when = timezone.now()
    if ticket is None:
        automatic = parsed.is_automatic  # a ticket all the same: marked, no acknowledgement, no notification
        ticket = services.create_ticket(
            organization=org, customer=customer, subject=parsed.subject or _("(sans sujet)"), body_html=html,
            body=text, channel=Channel.EMAIL, attachments=files, created_at=when, mailbox=mailbox,
            body_quoted=quoted, email_message_id=parsed.message_id[:500], savepoint=False,  # see process()
            automatic=automatic, out_of_sla=automatic and org.automatic_mail_out_of_sla,
            actor=SystemActor("email intake"),
        )
        if automatic:
            ensure_automatic_view(org)
        message = ticket.first_message
    else:
        message = services.add_message(
            ticket=ticket, kind=MessageKind.CUSTOMER, body_html=html, body=text, author_customer=customer,
            channel=Channel.EMAIL, attachments=files, created_at=when,
            body_quoted=quoted, email_message_id=parsed.message_id[:500], savepoint=False,
        )
    if refused or parsed.unreadable or parsed.truncated:
        _note_lost_parts(org, ticket, refused, parsed)
    reason = "; ".join(parsed.problems[:5])
    if parsed.is_automatic:
        reason = "; ".join(x for x in (_("message automatique : %(r)s") % {"r": parsed.auto_reason}, reason) if x)
    return _finish(inbound, InboundStatus.IMPORTED, reason, ticket=ticket, message=message,
                   reference=parsed.message_id or inbound.message_key)


def _note_lost_parts(org: Organization, ticket: Ticket, refused: list[str], parsed: ParsedEmail) -> None:
    """One note on the ticket naming every file not imported as it was sent: refused (it stays in the raw
    email), unreadable (kept as received, as an attachment) or cut short (decoded as far as it goes)."""
    notes = []
    with override(org.language):
        if refused:
            lines = "\n".join(f"- {r}" for r in refused)
            notes.append(_("Pièces jointes non importées (elles restent dans l'email d'origine) :\n%(l)s") % {
                "l": lines})
        if parsed.unreadable:
            lines = "\n".join(f"- {name}" for name in parsed.unreadable)
            notes.append(_("Parties du message illisibles, conservées telles quelles en pièce jointe :\n%(l)s") % {
                "l": lines})
        if parsed.truncated:
            lines = "\n".join(f"- {name}" for name in parsed.truncated)
            notes.append(_("Pièces jointes incomplètes dans l'email reçu (décodées jusqu'où elles vont) :\n%(l)s")
                         % {"l": lines})
    services.add_system_note(ticket=ticket, text="\n\n".join(notes), channel=Channel.EMAIL)


# --- automatic mail: loops and our own addresses stay suppressed (counted in the inbound log) ---------------

# The same automatic sender and subject more than this many times a minute is a loop (two auto-responders
# answering each other): the rest of the minute's messages are kept in the log, not ticketed.
LOOP_LIMIT = 5

_LOOP_SQL = (
    f"SELECT count(*) FROM {InboundEmail._meta.db_table} WHERE organization_id = %s AND from_email = %s "
    "AND subject = %s AND received_at >= %s AND id <> %s"
)


def _suppressed(inbound: InboundEmail, mailbox: Mailbox, sender: str, parsed: ParsedEmail) -> str:
    """Why an automatic message is not ticketed ("" when it is): sent by one of our own addresses, or a
    loop. Asked only of automatic mail: a person's message never costs these reads."""
    if sender and _is_own_address(mailbox, sender):
        return _("message automatique envoyé par une adresse de l'organisation")
    if sender:
        since = timezone.now() - timedelta(minutes=1)
        with connection.cursor() as cur:  # index inbound_status_idx is not it: few automatic messages a minute
            cur.execute(_LOOP_SQL, [inbound.organization_id, sender[:320], parsed.subject[:255], since, inbound.pk])
            (count,) = cur.fetchone()
        if count >= LOOP_LIMIT:
            return _("boucle : plus de %(n)s messages automatiques de %(s)s en une minute") % {
                "n": LOOP_LIMIT, "s": sender}
    return ""


def _is_own_address(mailbox: Mailbox, sender: str) -> bool:
    """The organization's own mailbox (or forwarding) address. Its other mailboxes are read only when the
    sender's domain is the mailbox's (the usual message costs nothing)."""
    sender = sender.lower()
    address = mailbox.address.lower()
    if sender == address or sender.endswith("@" + inbound_domain().lower()):
        return True
    if sender.rpartition("@")[2] != address.rpartition("@")[2]:
        return False
    return Mailbox.objects.filter(organization_id=mailbox.organization_id, address__iexact=sender).exists()


def ensure_automatic_view(organization: Organization) -> None:
    """The shared view "Automatique" (tickets marked automatic), made with the first automatic ticket."""
    with override(organization.language):
        name = _("Automatique")
    if not SavedView.objects.filter(organization=organization, filters={"automatic": "1"}).exists():
        SavedView.objects.create(organization=organization, name=name, filters={"automatic": "1"}, position=90)


# --- delivery reports ------------------------------------------------------------------------------------

# Our own Message-IDs (tickets.email.outbound.message_id_for): "ticket-<org>-<number>-n<notification>@domain".
_NOTIFICATION_ID = re.compile(r"ticket-\d{1,12}-\d{1,12}-n(\d{1,12})@")


def _bounced(org: Organization, parsed: ParsedEmail, thread_ticket_id: int | None):
    """(ticket id, notification id) of the message that bounced: by its Message-ID (the report's
    In-Reply-To/References, or the returned message's own headers) among our outgoing messages, else by
    the failed recipient's latest emailed notification (30 days)."""
    bounce = parsed.bounce
    ids = [*bounce.original_ids, *parsed.thread_ids]
    if ids:
        ref = (EmailReference.objects.filter(organization=org, outbound=True, message_id__in=ids)
               .values_list("message_id", "ticket_id").first())
        if ref is not None:
            notification_id = next((int(m.group(1)) for m in (_NOTIFICATION_ID.match(i) for i in ids) if m), None)
            return ref[1], notification_id
    if thread_ticket_id is not None:
        return thread_ticket_id, None
    if bounce.recipients:
        notification = (
            CustomerNotification.objects.filter(
                organization=org, email=True, emailed_at__gte=timezone.now() - timedelta(days=30),
                customer__email__in=[r.lower() for r in bounce.recipients],
            ).order_by("-emailed_at").values_list("ticket_id", "pk").first()
        )
        if notification is not None:
            return notification
    return None, None


def _process_bounce(inbound: InboundEmail, org: Organization, parsed: ParsedEmail,
                    thread_ticket_id: int | None) -> InboundEmail:
    """A delivery report never opens a ticket. Matched to the message that bounced: a system note on its
    ticket, and that customer notification marked failed with the reason (the ticket shows a banner).
    Unmatched: listed under "Retour de non-remise" in the inbound log."""
    bounce = parsed.bounce
    recipients = ", ".join(bounce.recipients) or "?"
    reason = bounce.reason or parsed.subject
    ticket_id, notification_id = _bounced(org, parsed, thread_ticket_id)
    if ticket_id is None:
        return _finish(inbound, InboundStatus.BOUNCE, _("retour de non-remise non rattaché (%(to)s) : %(r)s") % {
            "to": recipients, "r": reason})
    ticket = Ticket.objects.only("id", "organization_id").get(pk=ticket_id, organization=org)
    kind = _("Remise retardée") if bounce.temporary else _("Échec de remise")
    note = _("%(kind)s de l'email à %(to)s : %(r)s") % {"kind": kind, "to": recipients, "r": reason}
    message = services.add_system_note(ticket=ticket, text=note, channel=Channel.EMAIL,
                                       email_message_id=parsed.message_id)
    if not bounce.temporary:
        failed = CustomerNotification.objects.filter(organization=org, ticket=ticket, email=True)
        if notification_id is not None:
            failed = failed.filter(pk=notification_id)
        else:
            latest = failed.exclude(emailed_at=None).order_by("-emailed_at").values_list("pk", flat=True).first()
            failed = failed.filter(pk=latest)
        failed.update(email_failed_at=timezone.now(), email_failure=reason[:2000])
    return _finish(inbound, InboundStatus.BOUNCE, note, ticket=ticket, message=message)


def process_stale(*, older_than: timedelta = timedelta(minutes=5), limit: int = 500) -> int:
    """Messages stored but still unprocessed after ``older_than``: the worker died or the broker lost the
    task after the raw bytes were committed. Process them now (a worker already on one skips it: the
    lock is taken with SKIP LOCKED). Returns how many were taken up."""
    cutoff = timezone.now() - older_than
    ids = list(
        InboundEmail.objects.filter(status=InboundStatus.RECEIVED, received_at__lt=cutoff)
        .order_by("received_at").values_list("pk", flat=True)[:limit]
    )
    for pk in ids:  # one transaction per message, as on arrival
        process(pk)
    if ids:
        log.warning("took up %s inbound message(s) left unprocessed", len(ids))
    return len(ids)


def retry(inbound: InboundEmail, *, actor: Actor, sender: str = "") -> InboundEmail:
    """An admin retries a quarantined message (e.g. after fixing the cause, or to import it
    although its mailbox was paused); ``sender``: the customer's address, for a message in which none
    could be read (the customer is found, or created, by it). Audited with its result."""
    require(actor, "mailboxes.manage", inbound.organization)
    if inbound.status != InboundStatus.QUARANTINED:
        return inbound
    result = process(inbound.pk, sender=sender)
    audit.record(
        organization=inbound.organization, actor=actor.user, action="inbound.retried", target_type="inbound",
        target_id=inbound.pk, status=result.status, sender=sender,
    )
    return result


def ingest(*, mailbox: Mailbox, raw: bytes, source: str, envelope_from: str = "",
           envelope_to: list[str] | None = None) -> InboundEmail:
    """Receive and process synchronously (ingest_email, IMAP)."""
    inbound = receive(mailbox=mailbox, raw=raw, source=source, envelope_from=envelope_from, envelope_to=envelope_to)
    if inbound.status == InboundStatus.RECEIVED:
        inbound = process(inbound.pk, received=inbound)
    return inbound
