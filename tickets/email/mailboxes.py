"""Writes on mailboxes (Settings > Channels > Email)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from billing.catalogue import Feature
from billing.services import has_feature, require_feature
from crm.services import normalize_email
from lumiodesk import audit
from lumiodesk.exceptions import InvalidInput
from lumiodesk.models import Organization
from lumiodesk.permissions import Actor, require

from . import server_connections, verification
from .models import Mailbox


@transaction.atomic
def create_mailbox(*, organization: Organization, name: str, address: str, actor: Actor) -> Mailbox:
    """Add a mailbox; it receives through its forwarding address at once, and through its own address once
    that address is verified: the first verification link is emailed to it (when no other organization
    holds the address verified)."""
    require(actor, "mailboxes.manage", organization)
    require_feature(organization, Feature.EMAIL_FORWARDING)
    address = normalize_email(address).lower()
    name = (name or "").strip() or address
    if Mailbox.objects.filter(organization=organization, address__iexact=address).exists():
        raise InvalidInput(_("Cette adresse est déjà connectée."))
    mailbox = Mailbox.objects.create(organization=organization, name=name[:100], address=address)
    audit.record(organization=organization, actor=actor.user, action="mailbox.created", target_type="mailbox",
                 target_id=mailbox.pk, address=address)
    verification.start_verification(mailbox=mailbox, actor=actor)
    return mailbox


def _check_server(host: str, port: int) -> None:
    """At save time, a server on a refused address (loopback, private…) is refused with the reason. A name that
    does not resolve yet is accepted: every connection is checked again (server_connections)."""
    try:
        server_connections.vetted_address(host, int(port or 0))
    except server_connections.RefusedServer as exc:
        raise InvalidInput(str(exc)) from None
    except (OSError, ValueError):
        pass


CONNECTION_FIELDS = ("imap_host", "imap_port", "imap_ssl", "imap_user", "imap_folder",
                     "smtp_host", "smtp_port", "smtp_user", "smtp_starttls")


@transaction.atomic
def update_mailbox(
    *, mailbox: Mailbox, actor: Actor, name: str, connection: dict | None = None,
    imap_password: str = "", smtp_password: str = "",
) -> Mailbox:
    """Rename; on Business and Scale, set the SMTP/IMAP connection. Empty passwords keep the stored ones."""
    organization = mailbox.organization
    require(actor, "mailboxes.manage", organization)
    mailbox.name = (name or "").strip()[:100] or mailbox.address
    fields = ["name"]
    connection = {k: v for k, v in (connection or {}).items() if k in CONNECTION_FIELDS}
    wants_connection = any(connection.get(k) for k in ("imap_host", "smtp_host")) or imap_password or smtp_password
    if wants_connection:
        require_feature(organization, Feature.MAILBOX_SMTP_IMAP)
    if has_feature(organization, Feature.MAILBOX_SMTP_IMAP):
        before = (mailbox.imap_host, mailbox.imap_user, mailbox.imap_folder)
        for key, value in connection.items():
            setattr(mailbox, key, value.strip() if isinstance(value, str) else value)
        fields += list(connection)
        if mailbox.imap_host and not mailbox.imap_user:
            raise InvalidInput(_("Indiquez l'utilisateur IMAP."))
        for host, port in ((mailbox.imap_host, mailbox.imap_port), (mailbox.smtp_host, mailbox.smtp_port)):
            if host:
                _check_server(host, port)
        if imap_password:
            mailbox.set_imap_password(imap_password)
            fields.append("imap_password_encrypted")
        if smtp_password:
            mailbox.set_smtp_password(smtp_password)
            fields.append("smtp_password_encrypted")
        if (mailbox.imap_host, mailbox.imap_user, mailbox.imap_folder) != before:
            # Another server or folder: its UIDs mean nothing to us; dedup keeps re-reads harmless.
            mailbox.imap_uidvalidity = None
            mailbox.imap_last_uid = 0
            fields += ["imap_uidvalidity", "imap_last_uid"]
    mailbox.save(update_fields=sorted(set(fields)))
    audit.record(organization=organization, actor=actor.user, action="mailbox.updated", target_type="mailbox",
                 target_id=mailbox.pk, fields=sorted(set(fields) - {"imap_password_encrypted",
                                                                     "smtp_password_encrypted"}))
    return mailbox
