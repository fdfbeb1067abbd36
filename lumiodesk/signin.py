"""Brute-force protection of the agents' sign-in (``/login/`` and ``/admin/login/``) with django-axes, and its
audit trail.

What it guarantees:
- django-axes counts failed sign-ins in PostgreSQL (``axes.AccessAttempt``), per account and per client address
  (``AXES_LOCKOUT_PARAMETERS``): ``AXES_FAILURE_LIMIT`` failures within ``AXES_COOLOFF_TIME`` lock that account, or
  that address, for ``AXES_COOLOFF_TIME``; during the lock-out even the right password is refused (429, with a
  message on the sign-in page). Attempts refused during a lock-out are neither counted nor extend it
  (``AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False``), so hammering a victim's account cannot lock it
  for ever: the lock ends a cool-off after the failure that started it.
- The client address is ``lumiodesk.ratelimit.client_address`` (``client_ip``, the one helper every rate limit
  uses, without its "unknown" bucket: axes stores it in an address column).
- Each counted failure on an existing account writes ``signin.failed`` to the audit log of every organization the
  account is a member of, and the failure that starts a lock-out also writes ``signin.locked_out``. Refused
  attempts during a lock-out write nothing, so an attacker cannot flood an organization's audit log; failures on
  unknown usernames stay in axes' own table (no organization to file them under).
- Unlocking: an organization's Admin unlocks one of its members (``unlock_member``: Settings > Sign-in security);
  the platform's staff use ``manage.py axes_reset_username EMAIL`` / ``axes_reset_ip ADDRESS`` or delete the
  access attempts in ``/admin/``.

What it never does: store a password (axes drops the password field before saving the request's data), or reset an
address's count when someone signs in successfully from it (``AXES_RESET_ON_SUCCESS`` stays off: an attacker with
an account of their own would otherwise clear their address's failures between guesses).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from axes.utils import reset
from django.conf import settings
from django.db import transaction
from django.db.models import Max, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit, two_factor
from .exceptions import InvalidInput
from .models import AuditLog, Membership
from .permissions import MemberActor, require
from .ratelimit import client_ip


def _cooloff_minutes(request: HttpRequest | None = None) -> int:
    cool_off = get_cool_off(request) or timedelta(0)
    return max(1, round(cool_off.total_seconds() / 60))


class AuditedDatabaseHandler(AxesDatabaseHandler):
    """Axes' database handler, plus our audit rows for the failures it counts (``AXES_HANDLER``)."""

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request, **kwargs)
        # Axes sets the count only for a failure it recorded: not for one refused during a lock-out, nor a
        # whitelisted one.
        if request is None or getattr(request, "axes_failures_since_start", None) is None:
            return
        record_failed_sign_in(
            username=get_client_username(request, credentials) or "",
            ip_address=request.axes_ip_address,
            path=request.axes_path_info,
            failures=request.axes_failures_since_start,
            locked_out=bool(request.axes_locked_out),
            cooloff_minutes=_cooloff_minutes(request),
        )


def record_failed_sign_in(
    *, username: str, ip_address: str | None, path: str, failures: int, locked_out: bool, cooloff_minutes: int
) -> list[AuditLog]:
    """``signin.failed`` (and ``signin.locked_out`` when this failure starts a lock-out) in the audit log of each
    organization the account belongs to; nothing for an unknown username."""
    memberships = list(
        Membership.objects.filter(user__username=username, is_active=True).values_list("organization_id", "user_id")
    )
    data = {"ip_address": ip_address, "path": path, "failures": failures}
    ip = ip_address if ip_address and ip_address != "unknown" else None
    rows = [
        AuditLog(organization_id=org_id, action="signin.failed", target_type="user", target_id=user_id, data=data,
                 ip_address=ip)
        for org_id, user_id in memberships
    ]
    if locked_out:
        rows += [
            AuditLog(organization_id=org_id, action="signin.locked_out", target_type="user", target_id=user_id,
                     data={**data, "cooloff_minutes": cooloff_minutes}, ip_address=ip)
            for org_id, user_id in memberships
        ]
    return AuditLog.objects.bulk_create(rows)


def record_sign_in(sender, request=None, user=None, **kwargs) -> None:
    """``signin.succeeded`` in the audit log of each organization the user is an active member of
    (``user_logged_in``, connected in ``LumiodeskConfig.ready``); the address is the request's."""
    if user is None:
        return
    ip_address = client_ip(request) if request is not None else None
    # Where from, by the URL's name: a path may hold a secret (an invitation link signs the invitee in).
    via = getattr(getattr(request, "resolver_match", None), "url_name", "") or ""
    data = {"via": via}
    if (due := two_factor.pending(request) if request is not None else None) is not None:
        data["two_factor"] = due  # "verify": the code comes next (two_factor.verified); "setup": mandatory, none yet
    AuditLog.objects.bulk_create([
        AuditLog(organization_id=org_id, actor=user, action="signin.succeeded", target_type="user",
                 target_id=user.pk, ip_address=ip_address if ip_address != "unknown" else None, data=data)
        for org_id in Membership.objects.filter(user=user, is_active=True).values_list("organization_id", flat=True)
    ])


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The sign-in page again, with the lock-out message, answered 429 (``AXES_LOCKOUT_CALLABLE``)."""
    return render(
        request,
        "registration/login.html",
        {"locked_out": True, "cooloff_minutes": _cooloff_minutes(request), "username": request.POST.get("username", ""),
         "next": request.POST.get("next", "")},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )


# --- locked accounts of an organization, and unlocking them (its Admins) ------------------------------------


@dataclass(frozen=True)
class LockedMember:
    membership: Membership
    failures: int
    locked_until: datetime


def locked_members(*, actor: MemberActor) -> list[LockedMember]:
    """The members of the actor's organization whose account is locked now (two queries)."""
    require(actor, "members.unlock")
    cool_off = get_cool_off() or timedelta(0)
    now = timezone.now()
    usernames = {
        row["username"]: row
        for row in AccessAttempt.objects.filter(attempt_time__gte=now - cool_off)
        .values("username")
        .annotate(failures=Sum("failures_since_start"), last=Max("attempt_time"))
        .filter(failures__gte=settings.AXES_FAILURE_LIMIT, username__in=Membership.objects.filter(
            organization_id=actor.organization_id).values("user__username"))
    }
    if not usernames:
        return []
    memberships = (
        Membership.objects.filter(organization_id=actor.organization_id, user__username__in=usernames)
        .select_related("user")
        .order_by("user__email", "id")
    )
    return [
        LockedMember(m, usernames[m.user.username]["failures"], usernames[m.user.username]["last"] + cool_off)
        for m in memberships
    ]


@transaction.atomic
def unlock_member(*, actor: MemberActor, user_id: int) -> int:
    """Clear the failed sign-ins of one member of the actor's organization (an Admin's); returns how many attempt
    records were removed. A lock on a client address stays (it may hold other organizations' accounts)."""
    require(actor, "members.unlock")
    membership = (
        Membership.objects.filter(organization_id=actor.organization_id, user_id=user_id).select_related("user").first()
    )
    if membership is None:
        raise InvalidInput(_("Ce compte n'est pas membre de votre organisation."))
    username = membership.user.get_username()
    removed = reset(username=username)
    audit.record(
        organization=actor.organization, actor=actor.user, action="signin.unlocked", target_type="user",
        target_id=membership.user_id, attempts_removed=removed,
    )
    return removed
