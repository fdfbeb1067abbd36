"""Sign-up and email verification (``/signup/``).

Contract:
- ``sign_up`` creates the user (username = email, lower-cased), marks the address unverified
  (``UnverifiedEmail``) and creates the organization through ``lumiodesk.organizations.create_organization``
  (hooks included), in one transaction; the verification email leaves after the commit.
- The verification link is ``django.core.signing`` (salted, timestamped) over the user's id and email: valid
  ``VERIFY_LINK_DAYS``, nothing stored. It is single-use in effect: verifying deletes the ``UnverifiedEmail``
  row, and a link for a verified account changes nothing. Opening it moves the token into the session (the
  address bar and request logs lose it); the page (GET) spends nothing; its button (POST) verifies.
- Until verified, signing in is refused with a clear message and a "resend" button
  (``lumiodesk.forms.SignInForm``); resending is rate-limited per address and per client address and answers
  the same whether the address exists or not.
- Emails go through the platform's outbound path: a Celery task after commit, ``EmailMultiAlternatives`` from
  ``DEFAULT_FROM_EMAIL`` (``send_account_email``); the task makes the link itself (nothing secret in the broker).
"""

from __future__ import annotations

from dataclasses import dataclass

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import override

from . import audit
from .exceptions import InvalidInput
from .models import Membership, Organization, UnverifiedEmail
from .organizations import create_organization

VERIFY_SALT = "lumiodesk.accounts.verify"
VERIFY_LINK_DAYS = 3


class VerificationLinkInvalid(InvalidInput):
    """Expired, tampered with, or for an account that no longer exists."""


@dataclass(frozen=True)
class SignUp:
    company: str
    first_name: str
    last_name: str
    email: str
    password: str
    time_zone: str
    language: str


def normalize_email(email: str) -> str:
    return email.strip().lower()


def email_taken(email: str) -> bool:
    User = get_user_model()
    return User.objects.filter(username__iexact=email).exists() or User.objects.filter(email__iexact=email).exists()


@transaction.atomic
def sign_up(data: SignUp) -> tuple[Organization, object]:
    User = get_user_model()
    email = normalize_email(data.email)
    if email_taken(email):
        raise InvalidInput(_("Un compte existe déjà avec cette adresse. Connectez-vous, ou réinitialisez votre "
                             "mot de passe."))
    user = User(username=email, email=email, first_name=data.first_name.strip()[:150],
                last_name=data.last_name.strip()[:150])
    try:
        validate_password(data.password, user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages)) from exc
    user.set_password(data.password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # the same address signing up twice at the same moment
        raise InvalidInput(_("Un compte existe déjà avec cette adresse. Connectez-vous, ou réinitialisez votre "
                             "mot de passe.")) from None
    UnverifiedEmail.objects.create(user=user)
    organization = create_organization(name=data.company, admin_user=user, time_zone=data.time_zone,
                                       language=data.language)
    transaction.on_commit(lambda: send_verification_email.delay(user.pk, organization.language))
    return organization, user


def verification_token(user) -> str:
    return signing.dumps({"u": user.pk, "e": user.email.lower()}, salt=VERIFY_SALT, compress=True)


def verification_link(user) -> str:
    return f"{settings.SITE_URL}{reverse('verify_email_link', args=[verification_token(user)])}"


def user_for_token(token: str):
    """The account a verification link names; VerificationLinkInvalid if expired, forged or stale."""
    try:
        payload = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_LINK_DAYS * 86400)
    except signing.SignatureExpired:
        raise VerificationLinkInvalid(_("Ce lien de vérification a expiré. Connectez-vous pour en recevoir un "
                                        "nouveau.")) from None
    except signing.BadSignature:
        raise VerificationLinkInvalid(_("Ce lien de vérification n'est pas valable.")) from None
    user = get_user_model().objects.filter(pk=payload.get("u"), is_active=True).first()
    if user is None or user.email.lower() != payload.get("e"):
        raise VerificationLinkInvalid(_("Ce lien de vérification n'est pas valable."))
    return user


def is_verified(user) -> bool:
    return not UnverifiedEmail.objects.filter(user=user).exists()


@transaction.atomic
def verify_email(*, token: str):
    """Mark the address verified (a second use changes nothing) and audit it in the user's organizations."""
    user = user_for_token(token)
    deleted, _rows = UnverifiedEmail.objects.filter(user=user).delete()
    if deleted:
        for membership in Membership.objects.filter(user=user, is_active=True).select_related("organization"):
            audit.record(organization=membership.organization, actor=user, action="account.verified",
                         target_type="user", target_id=user.pk, email=user.email)
    return user


def resend_verification(*, email: str) -> None:
    """Send a new link to an unverified account with this address; silently nothing otherwise."""
    user = (get_user_model().objects.filter(email__iexact=normalize_email(email), is_active=True)
            .filter(pk__in=UnverifiedEmail.objects.values("user_id")).first())
    if user is None:
        return
    membership = Membership.objects.filter(user=user).select_related("organization").first()
    language = membership.organization.language if membership else settings.LANGUAGE_CODE
    transaction.on_commit(lambda: send_verification_email.delay(user.pk, language))


# --- the emails ---------------------------------------------------------------------------------------------

EMAILS = {
    # kind: (subject, template without extension)
    "verify": (lambda: _("Confirmez votre adresse email"), "lumiodesk/email/verify_email"),
    "invitation": (lambda: _("Invitation à rejoindre une équipe sur LumioDesk"), "lumiodesk/email/invitation"),
}


def send_email_now(kind: str, to: str, context: dict, language: str) -> None:
    subject, template = EMAILS[kind]
    with override(language):
        text = render_to_string(f"{template}.txt", context)
        html = render_to_string(f"{template}.html", context)
        mail = EmailMultiAlternatives(subject=str(subject()), body=text, from_email=settings.DEFAULT_FROM_EMAIL,
                                      to=[to], headers={"Auto-Submitted": "auto-generated"})
    mail.attach_alternative(html, "text/html")
    mail.send()


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_verification_email(user_id: int, language: str) -> bool:
    """A fresh verification link to one account (made here: no link travels through the broker); False if the
    account is verified meanwhile."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or is_verified(user):
        return False
    send_email_now("verify", user.email, {"user": user, "link": verification_link(user), "days": VERIFY_LINK_DAYS},
                   language)
    return True
