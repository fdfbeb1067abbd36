"""Settings > Team: members, roles, invitations, deactivation with reassignment, seats.

Contract:
- Every change takes a ``MemberActor`` and ``require(actor, "team.manage")`` (Admins); Managers read the page
  (``team.view``). Each change writes its audit row in its transaction.
- The last active Admin stays: changing the role of, or deactivating, an organization's only active Admin is
  refused. The check runs after locking the organization's row (``SELECT … FOR UPDATE``), so two Admins
  demoting each other at the same moment cannot leave the organization without one.
- Deactivating a member runs the "member deactivated" hooks in the same transaction: ``tickets`` reassigns the
  member's open tickets (to the chosen member, or unassigned) through its ``assign`` service, as the Admin.
  The core cannot import ``tickets``: it registers with ``on_member_deactivated(fn)`` at start-up;
  ``fn(actor, membership, reassign_to) -> int`` (tickets moved).
- Invitations: a single-use link valid ``INVITATION_DAYS``; only the token's SHA-256 is stored, the Celery task
  that mails it gets it encrypted (``lumiodesk.crypto``). Resending makes a new token (the old link dies);
  revoking ends it. Opening the link (GET) spends nothing; accepting (POST) creates the account (name and
  password) or attaches the signed-in account with the invited address.
- Seats (``seats_used``): active members who may work tickets (Admin, Manager, Agent: ``tickets.be_assigned``).
  Viewers (Lecteur, read-only) take no seat. Billing counts ``Limit.AGENTS_INCLUDED`` with it (``billing.apps``).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit, crypto
from .accounts import normalize_email, send_email_now
from .exceptions import InvalidInput
from .models import Invitation, Membership, Organization, Role, UnverifiedEmail, user_display_name
from .permissions import MemberActor, members_with, require
from .ratelimit import hit

INVITATION_DAYS = 7
INVITATIONS_PER_DAY = 50  # per organization

MemberDeactivatedHook = Callable[[MemberActor, Membership, object], int]
_deactivated_hooks: list[MemberDeactivatedHook] = []


def on_member_deactivated(fn: MemberDeactivatedHook) -> MemberDeactivatedHook:
    """Register ``fn(actor, membership, reassign_to)``, run inside ``deactivate_member``'s transaction."""
    if fn not in _deactivated_hooks:
        _deactivated_hooks.append(fn)
    return fn


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


# --- reading -------------------------------------------------------------------------------------------------


def members(organization: Organization) -> list[Membership]:
    return list(
        Membership.objects.filter(organization=organization).select_related("user")
        .order_by("-is_active", "user__last_name", "user__first_name", "user__email", "id")
    )


def pending_invitations(organization: Organization) -> list[Invitation]:
    return list(
        Invitation.objects.filter(organization=organization, accepted_at__isnull=True, revoked_at__isnull=True)
        .select_related("invited_by").order_by("-sent_at", "-id")
    )


def seats_used(organization) -> int:
    """Active members who take a seat: everyone who may work tickets (Viewers do not)."""
    return members_with("tickets.be_assigned", organization=organization).count()


def _lock(actor: MemberActor) -> Organization:
    organization = Organization.objects.select_for_update().get(pk=actor.organization_id)
    require(actor, "team.manage", organization)
    return organization


def _member(organization: Organization, membership_id: int) -> Membership:
    membership = (Membership.objects.select_for_update(of=("self",)).select_related("user")
                  .filter(organization=organization, pk=membership_id).first())
    if membership is None:
        raise InvalidInput(_("Ce membre n'appartient pas à votre organisation."))
    return membership


def _check_not_last_admin(organization: Organization, membership: Membership) -> None:
    if membership.role != Role.ADMIN or not membership.is_active:
        return
    others = Membership.objects.filter(organization=organization, role=Role.ADMIN, is_active=True).exclude(
        pk=membership.pk)
    if not others.exists():
        raise InvalidInput(_("L'organisation doit garder au moins un Admin actif : nommez d'abord un autre Admin."))


# --- roles, deactivation ----------------------------------------------------------------------------------


@transaction.atomic
def change_role(*, actor: MemberActor, membership_id: int, role: str) -> Membership:
    if role not in Role.values:
        raise InvalidInput(_("Rôle inconnu."))
    organization = _lock(actor)
    membership = _member(organization, membership_id)
    if membership.role == role:
        return membership
    if role != Role.ADMIN:
        _check_not_last_admin(organization, membership)
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit.record(organization=organization, actor=actor.user, action="member.role_changed", target_type="user",
                 target_id=membership.user_id, member=user_display_name(membership.user), before={"role": old},
                 after={"role": role})
    return membership


def reassignment_candidates(*, organization: Organization, member_id: int):
    """Who may take the open tickets of a member being deactivated: the organization's other active members whose
    role may be assigned tickets, by name. The confirmation page lists them; ``deactivate_member`` accepts no one
    else."""
    return (members_with("tickets.be_assigned", organization=organization).exclude(pk=member_id)
            .select_related("user").order_by("user__first_name", "user__email"))


@transaction.atomic
def deactivate_member(*, actor: MemberActor, membership_id: int, reassign_to_id: int | None = None) -> int:
    """Deactivate a member and reassign their open tickets (to ``reassign_to_id``'s user, or nobody); returns
    how many tickets moved. All or nothing."""
    organization = _lock(actor)
    membership = _member(organization, membership_id)
    if not membership.is_active:
        raise InvalidInput(_("Ce membre est déjà désactivé."))
    _check_not_last_admin(organization, membership)
    reassign_to = None
    if reassign_to_id is not None:
        target = reassignment_candidates(organization=organization, member_id=membership.pk).filter(
            user_id=reassign_to_id).first()
        if target is None:
            raise InvalidInput(_("Choisissez un membre actif qui peut recevoir des tickets."))
        reassign_to = target.user
    membership.is_active = False
    membership.save(update_fields=["is_active"])
    moved = 0
    for hook in _deactivated_hooks:
        moved += hook(actor, membership, reassign_to) or 0
    audit.record(organization=organization, actor=actor.user, action="member.deactivated", target_type="user",
                 target_id=membership.user_id, member=user_display_name(membership.user), before={"active": True},
                 after={"active": False}, tickets_reassigned=moved,
                 reassigned_to=user_display_name(reassign_to) if reassign_to else "")
    return moved


@transaction.atomic
def reactivate_member(*, actor: MemberActor, membership_id: int) -> Membership:
    organization = _lock(actor)
    membership = _member(organization, membership_id)
    if membership.is_active:
        return membership
    membership.is_active = True
    membership.save(update_fields=["is_active"])
    audit.record(organization=organization, actor=actor.user, action="member.reactivated", target_type="user",
                 target_id=membership.user_id, member=user_display_name(membership.user), before={"active": False},
                 after={"active": True})
    return membership


# --- invitations --------------------------------------------------------------------------------------------


def _send(invitation: Invitation, token: str) -> None:
    sealed = crypto.encrypt(token)
    transaction.on_commit(lambda: send_invitation_email.delay(invitation.pk, sealed))


def _new_token(invitation: Invitation, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    invitation.token_hash = hash_token(token)
    invitation.sent_at = now
    invitation.expires_at = now + timedelta(days=INVITATION_DAYS)
    return token


@transaction.atomic
def invite(*, actor: MemberActor, email: str, role: str = Role.AGENT) -> Invitation:
    organization = _lock(actor)
    email = normalize_email(email)
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(_("Adresse email invalide.")) from None
    if role not in Role.values:
        raise InvalidInput(_("Rôle inconnu."))
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise InvalidInput(_("%(email)s est déjà membre de l'organisation.") % {"email": email})
    if not hit("team:invite", str(organization.pk), limit=INVITATIONS_PER_DAY, window=86400).allowed:
        raise InvalidInput(_("Trop d'invitations envoyées aujourd'hui. Réessayez demain."))
    now = timezone.now()
    invitation = (Invitation.objects.select_for_update()
                  .alias(lower_email=Lower("email"))
                  .filter(organization=organization, lower_email=email, accepted_at__isnull=True,
                          revoked_at__isnull=True).first())
    action = "invitation.resent" if invitation else "invitation.sent"
    if invitation is None:
        invitation = Invitation(organization=organization, email=email)
    invitation.role = role
    invitation.invited_by = actor.user
    token = _new_token(invitation, now)
    invitation.save()
    audit.record(organization=organization, actor=actor.user, action=action, target_type="invitation",
                 target_id=invitation.pk, email=email, role=role)
    _send(invitation, token)
    return invitation


def _pending(organization: Organization, invitation_id: int) -> Invitation:
    invitation = (Invitation.objects.select_for_update()
                  .filter(organization=organization, pk=invitation_id, accepted_at__isnull=True,
                          revoked_at__isnull=True).first())
    if invitation is None:
        raise InvalidInput(_("Cette invitation n'est plus en attente."))
    return invitation


@transaction.atomic
def resend_invitation(*, actor: MemberActor, invitation_id: int) -> Invitation:
    organization = _lock(actor)
    invitation = _pending(organization, invitation_id)
    if not hit("team:invite", str(organization.pk), limit=INVITATIONS_PER_DAY, window=86400).allowed:
        raise InvalidInput(_("Trop d'invitations envoyées aujourd'hui. Réessayez demain."))
    token = _new_token(invitation, timezone.now())
    invitation.save(update_fields=["token_hash", "sent_at", "expires_at"])
    audit.record(organization=organization, actor=actor.user, action="invitation.resent",
                 target_type="invitation", target_id=invitation.pk, email=invitation.email)
    _send(invitation, token)
    return invitation


@transaction.atomic
def revoke_invitation(*, actor: MemberActor, invitation_id: int) -> Invitation:
    organization = _lock(actor)
    invitation = _pending(organization, invitation_id)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit.record(organization=organization, actor=actor.user, action="invitation.revoked",
                 target_type="invitation", target_id=invitation.pk, email=invitation.email)
    return invitation


class InvitationInvalid(InvalidInput):
    """Unknown, used, revoked or expired: the visitor is told the same thing in each case."""


def _usable(token: str, now: datetime):
    return Invitation.objects.select_related("organization").filter(
        token_hash=hash_token(token or ""), accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now)


def find_invitation(token: str) -> Invitation | None:
    """The invitation a link is for, if it can still be accepted (read only)."""
    return _usable(token, timezone.now()).first() if token else None


def account_exists(email: str) -> bool:
    return get_user_model().objects.filter(Q(email__iexact=email) | Q(username__iexact=email)).exists()


@dataclass(frozen=True)
class NewAccount:
    first_name: str
    last_name: str
    password: str


@transaction.atomic
def accept_invitation(*, token: str, user=None, new_account: NewAccount | None = None):
    """Spend the invitation: attach ``user`` (signed in with the invited address) or create the account from
    ``new_account``; returns the user. The invitation is locked: a second accept finds nothing."""
    invitation = _usable(token, timezone.now()).select_for_update(of=("self",)).first() if token else None
    if invitation is None:
        raise InvitationInvalid(_("Cette invitation n'est plus valable : elle a déjà servi, a été révoquée ou a "
                                  "expiré. Demandez-en une nouvelle à l'administrateur de l'équipe."))
    User = get_user_model()
    if user is not None and user.is_authenticated:
        if user.email.lower() != invitation.email.lower():
            raise InvalidInput(_("Cette invitation est adressée à %(email)s : connectez-vous avec cette adresse.")
                               % {"email": invitation.email})
    elif account_exists(invitation.email):
        raise InvalidInput(_("Un compte existe déjà pour %(email)s : connectez-vous pour accepter l'invitation.")
                           % {"email": invitation.email})
    else:
        if new_account is None or not new_account.first_name.strip():
            raise InvalidInput(_("Indiquez votre prénom."))
        user = User(username=invitation.email, email=invitation.email,
                    first_name=new_account.first_name.strip()[:150], last_name=new_account.last_name.strip()[:150])
        try:
            validate_password(new_account.password, user)
        except ValidationError as exc:
            raise InvalidInput(" ".join(exc.messages)) from exc
        user.set_password(new_account.password)
        user.save()
    # The link reached this address: it is verified.
    UnverifiedEmail.objects.filter(user=user).delete()
    membership, created = Membership.objects.get_or_create(
        organization=invitation.organization, user=user, defaults={"role": invitation.role})
    if not created and not membership.is_active:
        membership.is_active = True
        membership.role = invitation.role
        membership.save(update_fields=["is_active", "role"])
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit.record(organization=invitation.organization, actor=user, action="invitation.accepted",
                 target_type="invitation", target_id=invitation.pk, email=invitation.email, role=membership.role)
    return user


@shared_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_invitation_email(invitation_id: int, sealed_token: str) -> bool:
    """Mail one invitation link; False if it was accepted, revoked or resent (a newer token) meanwhile."""
    token = crypto.decrypt(sealed_token)
    invitation = (Invitation.objects.select_related("organization", "invited_by")
                  .filter(pk=invitation_id, token_hash=hash_token(token), accepted_at__isnull=True,
                          revoked_at__isnull=True).first())
    if invitation is None:
        return False
    link = f"{settings.SITE_URL}{reverse('invitation_link', args=[token])}"
    send_email_now("invitation", invitation.email, {
        "invitation": invitation, "organization": invitation.organization, "link": link,
        "inviter": user_display_name(invitation.invited_by) if invitation.invited_by else "", "days": INVITATION_DAYS,
    }, invitation.organization.language)
    return True
