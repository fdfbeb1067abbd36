"""Two-factor authentication for every member: a TOTP app (django-otp's ``otp_totp``) and ten single-use
recovery codes (``otp_static``), enforceable per organization by its Admins.

What it guarantees:
- Every way of signing in (password, SAML SSO, an accepted invitation, a password reset) goes through Django's
  ``login``; its ``user_logged_in`` signal calls ``on_signed_in``, which marks the session (``SESSION_KEY``):
  ``"verify"`` when the user has a confirmed TOTP device, ``"setup"`` when they have none and one of their
  organizations makes 2FA mandatory. ``lumiodesk.middleware.TwoFactorMiddleware`` then lets such a session reach
  only the code page (``verify``), the Security page (``setup``), sign-out and the static files. The policy is
  read at sign-in, so making 2FA mandatory sends members without a device to set it up at their next sign-in.
- A TOTP code is accepted once (django-otp keeps the last time step used); a recovery code once (it is deleted).
  Code attempts are rate-limited per account and per address in Redis (``lumiodesk.ratelimit``, the views),
  and every failed code is written to the audit log (``two_factor.failed``).
- Every change is audited in each organization the user is an active member of: ``two_factor.enabled``,
  ``two_factor.disabled``, ``two_factor.recovery_regenerated``, ``two_factor.recovery_used``,
  ``two_factor.verified`` (the sign-in's code), ``two_factor.failed``; an organization's policy change as
  ``two_factor.policy_changed``. The ``signin.succeeded`` row of a sign-in that still owes a code or a set-up
  says so (``data.two_factor``).
- Disabling asks for the password again.

What it never does: show recovery codes twice (they are rendered once, in the answer to the request that made
them), or send the TOTP secret to a third party (the QR code is an SVG drawn here).
"""

from __future__ import annotations

import re
from base64 import b32encode
from io import BytesIO

import qrcode
import qrcode.image.svg
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import audit
from .exceptions import InvalidInput
from .models import AuditLog, Membership, Organization
from .permissions import MemberActor, require

SESSION_KEY = "lumiodesk_two_factor"  # "verify" (a code is due) or "setup" (2FA is mandatory, no device yet)
VERIFY, SETUP = "verify", "setup"
RECOVERY_CODES = 10
TOTP_NAME = "totp"
RECOVERY_NAME = "recovery"


# --- state ----------------------------------------------------------------------------------------------------


def confirmed_totp(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def is_enabled(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def is_required_for(user) -> bool:
    """Whether one of the user's organizations (an active membership) makes 2FA mandatory."""
    return Membership.objects.filter(user=user, is_active=True, organization__two_factor_required=True).exists()


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__name=RECOVERY_NAME).count()


def on_signed_in(sender, request: HttpRequest | None = None, user=None, **kwargs) -> None:
    """``user_logged_in``: mark the session that still owes a code, or a 2FA set-up (see the module's doc)."""
    if request is None or user is None or not hasattr(request, "session"):
        return
    if is_enabled(user):
        request.session[SESSION_KEY] = VERIFY
    elif is_required_for(user):
        request.session[SESSION_KEY] = SETUP
    else:
        request.session.pop(SESSION_KEY, None)


def pending(request: HttpRequest) -> str | None:
    """``"verify"``, ``"setup"`` or None for this session."""
    session = getattr(request, "session", None)
    return session.get(SESSION_KEY) if session is not None else None


def _audit_user(user, action: str, **data) -> None:
    """One row per organization the user is an active member of (a user-level event)."""
    ip = audit.current_ip()
    AuditLog.objects.bulk_create([
        AuditLog(organization_id=org_id, actor=user, action=action, target_type="user", target_id=user.pk,
                 ip_address=ip, data=data)
        for org_id in Membership.objects.filter(user=user, is_active=True).values_list("organization_id", flat=True)
    ])


# --- enrolment ------------------------------------------------------------------------------------------------


@transaction.atomic
def start_enrolment(*, user) -> TOTPDevice:
    """A new unconfirmed TOTP device (any earlier unconfirmed one is dropped); refused if 2FA is on already."""
    if is_enabled(user):
        raise InvalidInput(_("La double authentification est déjà activée."))
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)


def pending_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()


def qr_svg(device: TOTPDevice) -> str:
    """The device's ``otpauth://`` URL as an inline SVG (no XML declaration), drawn here."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    out = BytesIO()
    image.save(out)
    svg = out.getvalue().decode("utf-8")
    return svg[svg.index("<svg"):]


def secret_for_display(device: TOTPDevice) -> str:
    """The base32 secret in groups of four, for typing it in an app that cannot scan."""
    raw = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def _clean_totp(code: str) -> str:
    return re.sub(r"\s+", "", code or "")


def _new_recovery_codes(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _i in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return [format_code(code) for code in codes]


def format_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


@transaction.atomic
def confirm_enrolment(*, user, code: str) -> list[str]:
    """Confirm the pending TOTP device with a code from the app; returns the ten recovery codes (to show once)."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        raise InvalidInput(_("Commencez par scanner un nouveau QR code."))
    code = _clean_totp(code)
    if not (code.isdigit() and len(code) == device.digits) or not device.verify_token(code):
        raise InvalidInput(_("Ce code ne correspond pas. Vérifiez l'heure de votre téléphone et réessayez."))
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _new_recovery_codes(user)
    _audit_user(user, "two_factor.enabled")
    return codes


@transaction.atomic
def regenerate_recovery_codes(*, user) -> list[str]:
    """Ten new recovery codes; the old ones stop working."""
    if not is_enabled(user):
        raise InvalidInput(_("Activez d'abord la double authentification."))
    codes = _new_recovery_codes(user)
    _audit_user(user, "two_factor.recovery_regenerated")
    return codes


@transaction.atomic
def disable(*, user, password: str) -> None:
    """Remove the TOTP device and the recovery codes, after the password is typed again."""
    if not isinstance(user, AbstractBaseUser) or not user.check_password(password or ""):
        raise InvalidInput(_("Mot de passe incorrect."))
    if not is_enabled(user):
        raise InvalidInput(_("La double authentification n'est pas activée."))
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    _audit_user(user, "two_factor.disabled")


# --- the sign-in step -----------------------------------------------------------------------------------------


@transaction.atomic
def verify_code(*, user, code: str) -> bool:
    """A TOTP code (digits) or a recovery code (``xxxx-xxxx``, consumed); a failure is audited."""
    cleaned = _clean_totp(code).replace("-", "").lower()
    ok = False
    method = "totp"
    if cleaned.isdigit():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).order_by("id").first()
        ok = device is not None and len(cleaned) == device.digits and device.verify_token(cleaned)
    elif cleaned:
        method = "recovery"
        device = StaticDevice.objects.select_for_update().filter(user=user, name=RECOVERY_NAME).first()
        ok = device is not None and device.verify_token(cleaned)  # deletes the token it matched
    if ok:
        if method == "recovery":
            _audit_user(user, "two_factor.recovery_used", codes_left=recovery_codes_left(user))
        else:
            _audit_user(user, "two_factor.verified")
        return True
    _audit_user(user, "two_factor.failed", method=method)
    return False


def complete_verification(request: HttpRequest) -> None:
    """The code was right: the session is fully signed in (a new session key, as after a password)."""
    request.session.pop(SESSION_KEY, None)
    request.session.cycle_key()


def complete_setup(request: HttpRequest) -> None:
    """A device was just confirmed in this session: nothing is owed any more."""
    if request.session.pop(SESSION_KEY, None) is not None:
        request.session.cycle_key()


def after_disable(request: HttpRequest, user) -> None:
    """Disabled while an organization makes it mandatory: the session is sent to set it up again."""
    if is_required_for(user):
        request.session[SESSION_KEY] = SETUP


# --- the organization's policy (its Admins) -------------------------------------------------------------------


@transaction.atomic
def set_policy(*, actor: MemberActor, required: bool) -> Organization:
    require(actor, "security.manage")
    organization = Organization.objects.select_for_update().get(pk=actor.organization_id)
    before = organization.two_factor_required
    if before != required:
        organization.two_factor_required = required
        organization.save(update_fields=["two_factor_required"])
        audit.record(organization=organization, actor=actor.user, action="two_factor.policy_changed",
                     target_type="organization", target_id=organization.pk,
                     before={"two_factor_required": before}, after={"two_factor_required": required})
    return organization


def members_without_two_factor(*, actor: MemberActor) -> int:
    """How many active members of the actor's organization have no confirmed TOTP device (one query)."""
    require(actor, "security.manage")
    return (
        Membership.objects.filter(organization_id=actor.organization_id, is_active=True)
        .exclude(user__in=TOTPDevice.objects.filter(confirmed=True).values("user"))
        .count()
    )


def users_with_two_factor(user_ids) -> set[int]:
    """Which of these users have a confirmed TOTP device (one query): the Team page's 2FA column."""
    return set(TOTPDevice.objects.filter(user_id__in=list(user_ids), confirmed=True).values_list("user_id", flat=True))
