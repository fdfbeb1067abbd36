"""Verification of a mailbox's own address (Settings > Channels > Email).

Contract:
- the SMTP receiver (``intake.find_mailbox``) answers for a mailbox's own address only once that address is
  verified; the forwarding address ``<org-slug>-<token>@INBOUND_EMAIL_DOMAIN`` always works. So nothing an
  organization types in its settings changes the delivery of anyone else's mail;
- an address is verified by a one-time link emailed to it (through the platform's outbound path, from
  ``DEFAULT_FROM_EMAIL``, never from the unverified address). The link is valid ``LINK_HOURS``, works once,
  and only its SHA-256 is stored; the Celery task gets the token encrypted;
- opening the link (GET) spends nothing: a mail scanner that fetches it changes nothing. The page asks
  for a click (POST), which verifies;
- at most one mailbox across all organizations holds a verified address (a partial unique index on
  ``lower(address)``): a second organization cannot verify it, and is told so before any email is sent.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from email.utils import parseaddr

from celery import shared_task
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from lumiodesk import audit, crypto
from lumiodesk.exceptions import InvalidInput
from lumiodesk.permissions import Actor, require
from lumiodesk.ratelimit import hit

from .models import Mailbox

LINK_HOURS = 24
RESEND_AFTER_SECONDS = 60
SENDS_PER_DAY = 5  # per mailbox
SENDS_PER_DAY_PER_ADDRESS = 10  # one address, whatever the organizations asking


class VerificationLinkInvalid(InvalidInput):
    """Unknown, already used or expired (the visitor is told the same thing in each case)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def verified_elsewhere(mailbox: Mailbox) -> bool:
    """Another mailbox (another organization's: one organization cannot hold an address twice) has this
    address verified."""
    return (
        Mailbox.objects.alias(lower_address=Lower("address"))
        .filter(lower_address=mailbox.address.lower(), address_verified_at__isnull=False)
        .exclude(pk=mailbox.pk)
        .exists()
    )


def request_verification(*, mailbox: Mailbox, actor: Actor, now: datetime | None = None) -> Mailbox:
    """Email a new verification link to the mailbox's address (the previous link stops working)."""
    require(actor, "mailboxes.manage", mailbox.organization)
    return _send_new_link(mailbox=mailbox, actor=actor, now=now)


@transaction.atomic
def _send_new_link(*, mailbox: Mailbox, actor: Actor, now: datetime | None = None) -> Mailbox:
    now = now or timezone.now()
    current = Mailbox.objects.select_for_update().select_related("organization").get(pk=mailbox.pk)
    if current.is_verified:
        raise InvalidInput(_("Cette adresse est déjà vérifiée."))
    if verified_elsewhere(current):
        raise InvalidInput(_(
            "Cette adresse est déjà vérifiée par une autre organisation : elle ne peut pas recevoir vos emails "
            "directement. Utilisez l'adresse de transfert LumioDesk."
        ))
    if current.verification_sent_at and now - current.verification_sent_at < timedelta(seconds=RESEND_AFTER_SECONDS):
        raise InvalidInput(
            _("Un email de vérification vient de partir. Attendez une minute avant d'en demander un autre.")
        )
    per_mailbox = hit("mailbox:verify", str(current.pk), limit=SENDS_PER_DAY, window=86400)
    per_address = hit("mailbox:verify:address", current.address.lower(), limit=SENDS_PER_DAY_PER_ADDRESS,
                      window=86400)
    if not (per_mailbox.allowed and per_address.allowed):
        raise InvalidInput(_("Trop d'emails de vérification envoyés aujourd'hui pour cette adresse. Réessayez demain."))
    token = secrets.token_urlsafe(32)
    current.verification_token_hash = hash_token(token)
    current.verification_sent_at = now
    current.save(update_fields=["verification_token_hash", "verification_sent_at"])
    audit.record(organization=current.organization, actor=actor.user,
                 action="mailbox.verification_sent",
                 target_type="mailbox", target_id=current.pk, address=current.address)
    sealed = crypto.encrypt(token)
    transaction.on_commit(lambda: send_mailbox_verification.delay(current.pk, sealed))
    mailbox.verification_sent_at = now
    mailbox.verification_token_hash = current.verification_token_hash
    return mailbox


def start_verification(*, mailbox: Mailbox, actor: Actor) -> bool:
    """On creation: send the first link when the address is free; False when it is not sent (verified
    elsewhere, or too many sends): the mailbox works through its forwarding address meanwhile."""
    try:
        _send_new_link(mailbox=mailbox, actor=actor)
    except InvalidInput:
        return False
    return True


def _pending(token_hash: str, now: datetime):
    return Mailbox.objects.select_related("organization").filter(
        verification_token_hash=token_hash, address_verified_at__isnull=True,
        verification_sent_at__gt=now - timedelta(hours=LINK_HOURS),
    )


def find_pending_verification(*, token_hash: str, now: datetime | None = None) -> Mailbox | None:
    """The mailbox a link is for if it can still be used (read only: opening the page spends nothing)."""
    if not token_hash:
        return None
    return _pending(token_hash, now or timezone.now()).first()


@transaction.atomic
def verify_address(*, token_hash: str, now: datetime | None = None) -> Mailbox:
    """Spend the link and mark the address verified (once: the token hash is cleared in the same UPDATE)."""
    now = now or timezone.now()
    mailbox = _pending(token_hash, now).select_for_update(of=("self",)).first() if token_hash else None
    if mailbox is None:
        raise VerificationLinkInvalid(
            _("Ce lien de vérification n'est plus valable : il a déjà servi ou a expiré. "
              "Demandez-en un nouveau depuis les réglages de la boîte.")
        )
    mailbox.address_verified_at = now
    mailbox.verification_token_hash = ""
    try:
        with transaction.atomic():
            mailbox.save(update_fields=["address_verified_at", "verification_token_hash"])
    except IntegrityError:  # another organization verified the same address a moment before
        raise InvalidInput(_("Cette adresse est déjà vérifiée par une autre organisation.")) from None
    audit.record(organization=mailbox.organization, actor=None, action="mailbox.verified", target_type="mailbox",
                 target_id=mailbox.pk, address=mailbox.address)
    return mailbox


# --- the email ------------------------------------------------------------------------------------------------


def send_verification_email(mailbox_id: int, sealed_token: str) -> bool:
    """Send the link; False when the mailbox is verified meanwhile or a newer link replaced this one."""
    token = crypto.decrypt(sealed_token)
    mailbox = (
        Mailbox.objects.select_related("organization")
        .filter(pk=mailbox_id, address_verified_at__isnull=True).first()
    )
    if mailbox is None or not token or hash_token(token) != mailbox.verification_token_hash:
        return False
    org = mailbox.organization
    url = settings.SITE_URL.rstrip("/") + reverse("mailbox_verification:link", args=[token])
    context = {"organization": org, "mailbox": mailbox, "url": url, "hours": LINK_HOURS}
    with override(org.language):
        subject = _("Vérifiez l'adresse %(address)s pour LumioDesk") % {"address": mailbox.address}
        text = render_to_string("email/verification_email.txt", context)
        html = render_to_string("email/verification_email.html", context)
    platform = parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL
    mail = EmailMultiAlternatives(
        subject=subject, body=text, from_email=f"LumioDesk <{platform}>", to=[mailbox.address],
        headers={"Auto-Submitted": "auto-generated"}, connection=get_connection(),
    )
    mail.attach_alternative(html, "text/html")
    mail.send()
    return True


# Defined beside the code that queues it, and listed in ``tickets.tasks`` under its registered name.
@shared_task(name="tickets.tasks.send_mailbox_verification", bind=True, autoretry_for=(OSError,), retry_backoff=10,
             retry_backoff_max=300, max_retries=5, retry_jitter=True)
def send_mailbox_verification(self, mailbox_id: int, sealed_token: str) -> bool:
    return send_verification_email(mailbox_id, sealed_token)
