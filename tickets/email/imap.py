"""IMAP polling (Business and Scale): every minute Celery beat runs ``poll_all``, which queues one
``poll_imap_mailbox`` task per mailbox; each runs ``poll_mailbox``.

What we have fetched is remembered as (UIDVALIDITY, last UID) on the mailbox. Each message is
stored (``intake.receive``) and the mailbox's last UID moved past it in one transaction, so a
crash or a restart between two messages neither skips nor re-imports one. When the server
changes the folder's UIDVALIDITY the UIDs mean nothing any more: we read the folder again from
the start and intake's dedup (Message-ID, or the raw digest) records what we already had as
duplicates, never as new tickets. Messages are fetched with ``BODY.PEEK[]``: nothing is marked
as read on the server.

Two workers never poll one mailbox at once (a PostgreSQL advisory lock per mailbox, and each
message is stored under the mailbox's row lock after checking the last UID again).

Pause: a paused mailbox is not polled. What arrived during the pause is never imported: on
resume ``skip_paused_backlog`` moves the last UID past every message whose INTERNALDATE falls in
the pause (those received before it, if not yet fetched, are imported). The pause window comes
from the ``mailbox.resumed`` audit row, so if the server cannot be reached at resume time, the
next poll skips them; a ``mailbox.imap_backlog_skipped`` row marks that done.
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import logging
import re
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from billing.catalogue import Feature
from billing.services import has_feature
from lumiodesk import audit
from lumiodesk.models import AuditLog

from . import intake, server_connections
from .models import InboundEmail, InboundStatus, Mailbox

log = logging.getLogger(__name__)

TIMEOUT = 30  # seconds, connection and each read
FETCH_BATCH = 25  # messages per UID FETCH of bodies
FETCH_BATCH_BYTES = 20 * 1024 * 1024  # and at most this much (by RFC822.SIZE) per FETCH
META_BATCH = 500  # UIDs per UID FETCH (INTERNALDATE RFC822.SIZE)
MAX_MESSAGES_PER_POLL = 500  # the rest waits for the next poll (a minute later)
POLL_EXPIRES = 55  # a queued poll older than this is dropped: the next one is on its way
RESUME_LOCK_WAIT = 10  # seconds the resume waits for a running poll to finish

AUDIT_RESUMED = "mailbox.resumed"
AUDIT_PAUSED = "mailbox.paused"
AUDIT_BACKLOG_SKIPPED = "mailbox.imap_backlog_skipped"


class ImapCommandFailed(imaplib.IMAP4.error):
    """The server answered NO or BAD."""


class MailboxBusy(Exception):
    """Another worker is polling this mailbox."""


@dataclass
class PollResult:
    imported: int = 0  # new messages stored (then processed into tickets)
    duplicates: int = 0  # messages we already had (seen again after a UIDVALIDITY change, ...)
    skipped: int = 0  # arrived while the mailbox was paused: not imported
    complete: bool = True  # False when stopped early (paused meanwhile, per-poll cap)


# --- which mailboxes ---------------------------------------------------------------------------------


def pollable(mailbox: Mailbox) -> bool:
    return (
        mailbox.is_active
        and not mailbox.is_paused
        and mailbox.uses_imap
        and has_feature(mailbox.organization, Feature.MAILBOX_SMTP_IMAP)
    )


def poll_all() -> int:
    """Queue one poll per active, unpaused IMAP mailbox of a Business or Scale organization."""
    queued = 0
    mailboxes = (
        Mailbox.objects.filter(is_active=True, paused_at__isnull=True)
        .exclude(imap_host="")
        .exclude(imap_user="")
        .select_related("organization")
        .order_by("pk")
    )
    for mailbox in mailboxes.iterator(chunk_size=500):
        if pollable(mailbox):
            poll_imap_mailbox.apply_async((mailbox.pk,), expires=POLL_EXPIRES)
            queued += 1
    return queued


def _load(mailbox_id: int) -> Mailbox | None:
    return Mailbox.objects.select_related("organization").filter(pk=mailbox_id).first()


# --- entry points ------------------------------------------------------------------------------------


def poll_mailbox(mailbox_id: int) -> int:
    """Fetch what is new in the mailbox's IMAP folder; returns how many new messages were imported.

    Network and IMAP errors are recorded on the mailbox (``imap_last_error``) and raised again
    (the Celery task retries on OSError)."""
    mailbox = _load(mailbox_id)
    if mailbox is None or not pollable(mailbox):
        return 0
    with advisory_lock(mailbox_id) as locked:
        if not locked:
            log.info("mailbox %s: already being polled", mailbox_id)
            return 0
        mailbox = _load(mailbox_id)  # its state may have moved while we waited
        if mailbox is None or not pollable(mailbox):
            return 0
        _process_leftovers(mailbox)
        return _run(mailbox, extra_windows=[]).imported


def skip_paused_backlog(mailbox: Mailbox, paused_at: datetime, resumed_at: datetime | None = None) -> PollResult:
    """Called when a paused mailbox is resumed: import what arrived before ``paused_at`` and was
    not fetched yet, move past what arrived during the pause without importing it.

    Raises ``MailboxBusy`` if a poll still holds the mailbox after a few seconds (that poll, or
    the next one, skips the pause's messages), and network/IMAP errors (recorded on the mailbox)."""
    resumed_at = resumed_at or timezone.now()
    with advisory_lock(mailbox.pk, wait=RESUME_LOCK_WAIT) as locked:
        if not locked:
            raise MailboxBusy(f"mailbox {mailbox.pk} is being polled")
        fresh = _load(mailbox.pk)
        if fresh is None or not fresh.uses_imap:
            return PollResult()
        return _run(fresh, extra_windows=[(paused_at, resumed_at)])


# --- the advisory lock -------------------------------------------------------------------------------


def _lock_key(mailbox_id: int) -> str:
    return f"lumiodesk.imap-mailbox:{mailbox_id}"


@contextlib.contextmanager
def advisory_lock(mailbox_id: int, wait: float = 0) -> Iterator[bool]:
    """A session-level PostgreSQL advisory lock on the mailbox; yields whether we hold it."""
    key = _lock_key(mailbox_id)
    deadline = time.monotonic() + wait
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key])
            locked = bool(cursor.fetchone()[0])
            if locked or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
    try:
        yield locked
    finally:
        if locked:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])
            except DatabaseError:
                log.exception("mailbox %s: could not release the IMAP poll lock", mailbox_id)
                if not connection.in_atomic_block:
                    connection.close()  # a session lock dies with its session


# --- one run -----------------------------------------------------------------------------------------


def _run(mailbox: Mailbox, extra_windows: list[tuple[datetime, datetime | None]]) -> PollResult:
    try:
        with connect(mailbox) as client:
            result = _sync(client, mailbox, extra_windows)
    except Exception as exc:
        _record_outcome(mailbox.pk, describe_error(exc))
        log.warning("mailbox %s: IMAP poll failed: %s", mailbox.pk, describe_error(exc))
        raise
    _record_outcome(mailbox.pk, "")
    return result


def _record_outcome(mailbox_id: int, error: str) -> None:
    try:
        Mailbox.objects.filter(pk=mailbox_id).update(imap_last_polled_at=timezone.now(), imap_last_error=error[:2000])
    except DatabaseError:
        if not error:
            raise
        log.exception("mailbox %s: could not record the IMAP error", mailbox_id)


def describe_error(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith(("b'", 'b"')):  # imaplib puts the server's bytes in its messages
        text = text[2:-1]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextlib.contextmanager
def connect(mailbox: Mailbox) -> Iterator[imaplib.IMAP4]:
    """A logged-in IMAP connection to the mailbox's server."""
    client = server_connections.imap_client(
        mailbox.imap_host, mailbox.imap_port, use_ssl=mailbox.imap_ssl, ssl_context=ssl.create_default_context(),
        timeout=TIMEOUT,
    )
    try:
        user, password = mailbox.imap_user, mailbox.imap_password()
        if user.isascii() and password.isascii():
            client.login(user, password)
        else:  # LOGIN is ASCII only in imaplib; SASL PLAIN carries UTF-8
            client.authenticate("PLAIN", lambda _challenge: f"\0{user}\0{password}".encode())
        yield client
    finally:
        try:
            client.logout()
        except Exception:
            with contextlib.suppress(Exception):
                client.shutdown()


def _check(typ: str, data, what: str) -> None:
    if typ != "OK":
        detail = b" ".join(d for d in data if isinstance(d, bytes)).decode(errors="replace") if data else ""
        raise ImapCommandFailed(f"{what}: {typ} {detail}".strip())


def _sync(client: imaplib.IMAP4, mailbox: Mailbox, extra_windows) -> PollResult:
    folder = quote_folder(encode_folder(mailbox.imap_folder or "INBOX"))
    typ, data = client.select(folder, readonly=True)
    _check(typ, data, f"SELECT {mailbox.imap_folder}")
    uidvalidity = _uidvalidity(client, folder)
    last_uid = _adopt_uidvalidity(mailbox.pk, uidvalidity)
    known_resume = _latest_resume(mailbox)  # the resumes this run's search covers

    typ, data = client.uid("SEARCH", f"UID {last_uid + 1}:*")
    _check(typ, data, "UID SEARCH")
    # "n:*" always matches the last message, even when its UID is below n.
    uids = sorted({u for u in (int(x) for x in b" ".join(d for d in data if d).split()) if u > last_uid})
    result = PollResult(complete=len(uids) <= MAX_MESSAGES_PER_POLL)
    uids = uids[:MAX_MESSAGES_PER_POLL]
    if not uids:
        _mark_backlog_done(mailbox, result, known_resume)
        return result

    meta: dict[int, _Meta] = {}
    for start in range(0, len(uids), META_BATCH):
        meta.update(_fetch_meta(client, uids[start : start + META_BATCH]))
    # What arrived during a pause is not downloaded (_store decides again, under the mailbox's lock).
    windows = pending_pause_windows(mailbox) + list(extra_windows)
    paused = {u for u, info in meta.items() if in_windows(info.date, windows)}
    for batch in _batches([u for u in uids if u in meta], meta, paused):
        wanted = [u for u in batch if u not in paused and meta[u].size <= settings.INBOUND_MAX_BYTES]
        bodies = _fetch(client, wanted, "BODY.PEEK[]") if wanted else {}
        for uid in batch:
            info = meta[uid]
            too_big = info.size > settings.INBOUND_MAX_BYTES
            raw = None if uid in paused else bodies.get(uid)
            outcome = _NEED_BODY if uid not in paused and (too_big or raw is None) else None
            for _attempt in range(2):
                if outcome is _NEED_BODY:
                    raw = _fetch(client, [uid], "BODY.PEEK[HEADER]" if too_big else "BODY.PEEK[]").get(uid)
                    if raw is None:  # expunged meanwhile
                        break
                outcome = _store(mailbox, uidvalidity, uid, raw, info.date, extra_windows, too_big=too_big)
                if outcome is not _NEED_BODY:
                    break
            if outcome is _STOP:
                result.complete = False
                return result
            if outcome is _SKIPPED:
                result.skipped += 1
            elif isinstance(outcome, InboundEmail):
                if outcome.status == InboundStatus.DUPLICATE:
                    result.duplicates += 1
                else:
                    result.imported += 1
                if outcome.status == InboundStatus.RECEIVED:
                    intake.process(outcome.pk)  # after the commit; never raises
    _mark_backlog_done(mailbox, result, known_resume)
    return result


def _uidvalidity(client: imaplib.IMAP4, folder: str) -> int:
    _typ, data = client.response("UIDVALIDITY")
    if data and data[-1]:
        return int(data[-1])
    typ, data = client.status(folder, "(UIDVALIDITY)")
    _check(typ, data, "STATUS")
    m = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
    if not m:
        raise ImapCommandFailed("the server gave no UIDVALIDITY")
    return int(m.group(1))


def _adopt_uidvalidity(mailbox_id: int, uidvalidity: int) -> int:
    """The last UID we fetched, after forgetting it if the folder's UIDVALIDITY changed."""
    with transaction.atomic():
        current = Mailbox.objects.select_for_update().only("imap_uidvalidity", "imap_last_uid").get(pk=mailbox_id)
        if current.imap_uidvalidity == uidvalidity:
            return current.imap_last_uid
        if current.imap_uidvalidity is not None:
            log.warning(
                "mailbox %s: UIDVALIDITY %s -> %s, reading the folder again (dedup keeps what we had)",
                mailbox_id,
                current.imap_uidvalidity,
                uidvalidity,
            )
        Mailbox.objects.filter(pk=mailbox_id).update(imap_uidvalidity=uidvalidity, imap_last_uid=0)
        return 0


_STOP = object()
_SKIPPED = object()
_NEED_BODY = object()


def _store(
    mailbox: Mailbox,
    uidvalidity: int,
    uid: int,
    raw: bytes | None,
    date: datetime | None,
    extra_windows,
    *,
    too_big: bool,
):
    """One message, one transaction: store it (or skip it, if it arrived during a pause) and move
    the last UID past it. ``raw`` is None when we expected to skip it."""
    with transaction.atomic():
        current = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
        if not current.is_active or current.is_paused or current.imap_uidvalidity != uidvalidity:
            return _STOP  # paused, switched off or reset meanwhile
        if uid <= current.imap_last_uid:
            return None  # someone else stored it
        if in_windows(date, pending_pause_windows(current) + list(extra_windows)):
            Mailbox.objects.filter(pk=current.pk).update(imap_last_uid=uid)
            return _SKIPPED
        if raw is None:
            return _NEED_BODY
        inbound = intake.receive(mailbox=current, raw=raw, source="imap")
        if too_big and inbound.status == InboundStatus.RECEIVED:
            inbound.status = InboundStatus.QUARANTINED
            inbound.reason = (
                f"message de {len(raw)} octets (en-têtes) : au-delà de la taille maximale "
                f"({settings.INBOUND_MAX_BYTES} octets), resté sur le serveur IMAP (UID {uid})"
            )
            inbound.processed_at = timezone.now()
            inbound.save(update_fields=["status", "reason", "processed_at"])
        Mailbox.objects.filter(pk=current.pk).update(imap_last_uid=uid)
        return inbound


def _process_leftovers(mailbox: Mailbox) -> None:
    """Messages stored by an earlier poll that stopped before parsing them (worker killed)."""
    ids = (
        InboundEmail.objects.filter(
            mailbox=mailbox,
            source="imap",
            status=InboundStatus.RECEIVED,
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:100]
    )
    for pk in ids:
        intake.process(pk)


# --- FETCH responses ---------------------------------------------------------------------------------


@dataclass
class _Meta:
    date: datetime | None
    size: int


_FETCH_START = re.compile(rb"^\d+ \(")
_UID = re.compile(rb"\bUID (\d+)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


def _fetch_items(data) -> list[tuple[bytes, bytes | None]]:
    """imaplib's FETCH data as (response text, literal) per message. A literal comes as a
    (text, bytes) tuple; what follows it (``)`` or more items) as a separate bytes item."""
    items: list[list] = []
    for part in data or []:
        if isinstance(part, tuple):
            items.append([part[0], part[1]])
        elif isinstance(part, bytes):
            if items and not _FETCH_START.match(part):
                items[-1][0] += part
            else:
                items.append([part, None])
    return [(text, literal) for text, literal in items]


def _uid_set(uids: list[int]) -> str:
    return ",".join(str(u) for u in uids)


def _fetch_meta(client: imaplib.IMAP4, uids: list[int]) -> dict[int, _Meta]:
    typ, data = client.uid("FETCH", _uid_set(uids), "(UID INTERNALDATE RFC822.SIZE)")
    _check(typ, data, "UID FETCH")
    wanted, out = set(uids), {}
    for text, _literal in _fetch_items(data):
        m = _UID.search(text)
        if not m or int(m.group(1)) not in wanted:
            continue  # an unsolicited FETCH (flags changed by another client)
        d, s = _INTERNALDATE.search(text), _SIZE.search(text)
        out[int(m.group(1))] = _Meta(
            parse_internaldate(d.group(1).decode()) if d else None, int(s.group(1)) if s else 0
        )
    return out


def _fetch(client: imaplib.IMAP4, uids: list[int], item: str) -> dict[int, bytes]:
    typ, data = client.uid("FETCH", _uid_set(uids), f"(UID {item})")
    _check(typ, data, "UID FETCH")
    wanted, out = set(uids), {}
    for text, literal in _fetch_items(data):
        m = _UID.search(text)
        if m and literal is not None and int(m.group(1)) in wanted:
            out[int(m.group(1))] = literal
    return out


def _batches(uids: list[int], meta: dict[int, _Meta], paused: set[int]) -> Iterator[list[int]]:
    """UIDs in order, in groups whose bodies we fetch together (paused ones cost nothing)."""
    batch, count, size = [], 0, 0
    for uid in uids:
        weight = 0 if uid in paused else min(meta[uid].size, settings.INBOUND_MAX_BYTES)
        if batch and weight and (count >= FETCH_BATCH or size + weight > FETCH_BATCH_BYTES):
            yield batch
            batch, count, size = [], 0, 0
        batch.append(uid)
        count += 1 if weight else 0
        size += weight
    if batch:
        yield batch


_MONTHS = {
    m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}
_INTERNALDATE_FORMAT = re.compile(
    r"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\s*$"
)


def parse_internaldate(value: str) -> datetime | None:
    """``17-Jul-1996 02:44:25 -0700`` as an aware UTC datetime (None if unreadable)."""
    m = _INTERNALDATE_FORMAT.match(value)
    if not m or m.group(2).title() not in _MONTHS:
        return None
    day, _mon, year, hh, mm, ss, sign, oh, om = m.groups()
    offset = timedelta(hours=int(oh), minutes=int(om)) * (-1 if sign == "-" else 1)
    try:
        local = datetime(
            int(year), _MONTHS[m.group(2).title()], int(day), int(hh), int(mm), int(ss), tzinfo=dt_timezone(offset)
        )
    except ValueError:
        return None
    return local.astimezone(UTC)


# --- folder names (RFC 3501 modified UTF-7) -----------------------------------------------------------


def encode_folder(name: str) -> str:
    """A folder name as IMAP wants it. An ASCII name with a '&' shift is taken as already encoded."""
    if name.isascii() and re.search(r"&[A-Za-z0-9+,]*-", name) and "&" not in re.sub(r"&[A-Za-z0-9+,]*-", "", name):
        return name
    out, pending = [], []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + encoded.replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def quote_folder(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- pause windows -----------------------------------------------------------------------------------


def _parse_dt(value) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


def pending_pause_windows(mailbox: Mailbox, through: int | None = None) -> list[tuple[datetime, datetime | None]]:
    """(paused_at, resumed_at) of the resumes whose IMAP backlog has not been skipped yet
    (only those up to the audit row ``through`` when given)."""
    rows = list(
        AuditLog.objects.filter(
            organization_id=mailbox.organization_id,
            target_type="mailbox",
            target_id=mailbox.pk,
            action__in=[AUDIT_RESUMED, AUDIT_BACKLOG_SKIPPED],
        )
        .order_by("-pk")
        .values_list("pk", "action", "data")[:50]
    )
    done = next(((data or {}).get("through", pk) for pk, action, data in rows if action == AUDIT_BACKLOG_SKIPPED), 0)
    windows = []
    for pk, action, data in rows:
        if action == AUDIT_RESUMED and done < pk <= (through or pk):
            start = _parse_dt((data or {}).get("paused_at"))
            if start is not None:
                windows.append((start, _parse_dt((data or {}).get("resumed_at"))))
    return windows


def in_windows(date: datetime | None, windows) -> bool:
    """Did a message with this INTERNALDATE arrive during a pause (paused_at <= date < resumed_at)?
    INTERNALDATE has whole seconds: in doubt we import, so the second of the resume counts as resumed."""
    if date is None:
        return False
    return any(start <= date and (end is None or date < end.replace(microsecond=0)) for start, end in windows)


def _latest_resume(mailbox: Mailbox) -> int | None:
    return (
        AuditLog.objects.filter(
            organization_id=mailbox.organization_id,
            target_type="mailbox",
            target_id=mailbox.pk,
            action=AUDIT_RESUMED,
        )
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )


def _mark_backlog_done(mailbox: Mailbox, result: PollResult, known_resume: int | None) -> None:
    """After a complete run, the pauses of the resumes known when it started are dealt with."""
    if not result.complete or known_resume is None:
        return
    if not pending_pause_windows(mailbox, through=known_resume):
        return
    audit.record(
        organization=mailbox.organization,
        actor=None,
        action=AUDIT_BACKLOG_SKIPPED,
        target_type="mailbox",
        target_id=mailbox.pk,
        through=known_resume,
        skipped=result.skipped,
        imported=result.imported,
    )


# Defined beside ``poll_all``, which queues it, and listed in ``tickets.tasks`` under its registered name.
@shared_task(name="tickets.tasks.poll_imap_mailbox", bind=True, autoretry_for=(OSError,), retry_backoff=30,
             max_retries=5, soft_time_limit=240, time_limit=300)
def poll_imap_mailbox(self, mailbox_id: int) -> int:
    return poll_mailbox(mailbox_id)
