"""The SMTP receiver for forwarded mail (aiosmtpd).

RCPT: 550 for an unknown address, 450 (temporary) while the mailbox is paused, 451 if the
database cannot be reached.
DATA: above INBOUND_MAX_BYTES aiosmtpd answers 552; otherwise the raw bytes are
stored (one row per mailbox) before we answer 250, and parsing is queued. If the
database cannot store it we answer 451 so the sending server retries: the sender
keeps the message until we have it.
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from ..tasks import process_inbound_email
from .intake import UnknownMailbox, find_mailbox, process, receive
from .models import InboundStatus, Mailbox

log = logging.getLogger(__name__)


def _lookup(address: str):
    close_old_connections()
    try:
        return find_mailbox(address)
    except UnknownMailbox:
        return None


def _store(mailbox_ids: list[int], raw: bytes, mail_from: str, rcpt_tos: list[str]) -> list[int]:
    close_old_connections()
    stored = []
    for mailbox in Mailbox.objects.select_related("organization").filter(pk__in=mailbox_ids).order_by("id"):
        inbound = receive(mailbox=mailbox, raw=raw, source="smtp", envelope_from=mail_from, envelope_to=rcpt_tos)
        if inbound.status == InboundStatus.RECEIVED:
            stored.append(inbound.pk)
    return stored


def _queue(inbound_ids: list[int]) -> None:
    for pk in inbound_ids:
        try:
            process_inbound_email.delay(pk)
        except Exception:  # broker down: parse here rather than wait for the sweeper
            log.warning("broker unavailable, processing inbound %s inline", pk)
            process(pk)


class InboundHandler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        try:
            mailbox = await sync_to_async(_lookup)(address)
        except Exception:
            # Database unreachable: a temporary answer, so the sending server keeps the message and
            # retries (aiosmtpd would otherwise answer a permanent "500 Error: (OperationalError) ...").
            log.exception("could not look up recipient %s", address)
            return "451 4.3.0 Temporary failure, please retry"
        if mailbox is None:
            return "550 5.1.1 No such mailbox here"
        if mailbox.is_paused or not mailbox.is_active:
            return "450 4.2.1 Mailbox paused, try again later"
        ids = getattr(envelope, "mailbox_ids", [])
        if mailbox.pk not in ids:
            ids.append(mailbox.pk)
        envelope.mailbox_ids = ids
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            stored = await sync_to_async(_store)(
                getattr(envelope, "mailbox_ids", []), raw, envelope.mail_from or "", list(envelope.rcpt_tos)
            )
        except Exception:
            log.exception("could not store inbound message")
            return "451 4.3.0 Temporary failure, please retry"
        await sync_to_async(_queue)(stored)
        return "250 2.0.0 Message accepted"
