"""The subscription of an organization: the one service that owns every transition (sections 9, 18, 20).

States and transitions (nothing else moves ``Subscription.status``)::

    trial ──(plan chosen)──────────────► active ──(plan changed: prorated)──► active
      │  └─(14 days, no plan: beat)──► read_only ──(plan chosen)──► active
      └──────────────┬───────────────────┴──────────────(cancel)──► cancelled ──(plan chosen, ≤ 30 d)──► active

- ``trial``: 14 days from sign-up (``start_trial``, called by the sign-up hook), no card. An organization
  that has no subscription row yet gets one lazily, in trial from its creation date (``subscription_of``).
- ``read_only``: the trial ended without a plan; ``cancelled``: read-only for 30 days, then the deletion is
  scheduled (``deletion_scheduled_at``). While read-only, members read, export and change billing but do not
  work (``lumiodesk.permissions.WRITES``); the system actor still receives mail and chat.
- Every transition writes an audit row in its transaction; every instant is UTC.

What the console asks on every page ("is this organization read-only, and why") is answered from the cache
(``state_of``), refreshed by each transition, so a page costs no query for it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from lumiodesk import audit, team
from lumiodesk.exceptions import InvalidInput, TransitionNotAllowed
from lumiodesk.models import Membership, Organization, Plan, user_display_name
from lumiodesk.permissions import Actor, SystemActor, members_with, require

from .catalogue import PLANS, TRIAL_DAYS, Limit
from .models import PlanChange, SeatDay, Subscription, SubscriptionStatus
from .proration import prorate, utc_day
from .usage import reducer_for, usage_of

S = SubscriptionStatus
TRIAL = timedelta(days=TRIAL_DAYS)
READ_ONLY_AFTER_CANCELLATION = timedelta(days=30)  # section 18
SYSTEM = SystemActor("billing")
_CACHE_SECONDS = 300

ALLOWED = {
    S.TRIAL: {S.ACTIVE, S.READ_ONLY, S.CANCELLED},
    S.READ_ONLY: {S.ACTIVE, S.CANCELLED},
    S.ACTIVE: {S.ACTIVE, S.CANCELLED},
    S.CANCELLED: {S.ACTIVE},
}


# --- reading ------------------------------------------------------------------------------------------------


def _cache_key(organization_id: int) -> str:
    return f"billing:subscription:{organization_id}"


def _forget(organization_id: int) -> None:
    """Drop the cached state now (this transaction reads the row again) and after the commit (others do)."""
    cache.delete(_cache_key(organization_id))
    transaction.on_commit(lambda: cache.delete(_cache_key(organization_id)))


def _new(organization: Organization, trial_ends_at: datetime) -> Subscription:
    return Subscription(organization=organization, status=S.TRIAL, trial_ends_at=trial_ends_at)


def subscription_of(organization: Organization, *, lock: bool = False) -> Subscription:
    """The organization's subscription, created in trial from the organization's creation if it has none."""
    with transaction.atomic():
        sub, created = Subscription.objects.get_or_create(
            organization=organization, defaults={"trial_ends_at": organization.created_at + TRIAL}
        )
        if created:
            audit.record(organization=organization, actor=None, action="billing.subscription.trial",
                         target_type="subscription", target_id=sub.pk,
                         trial_ends_at=sub.trial_ends_at.isoformat(), lazily=True)
        if lock:
            sub = Subscription.objects.select_for_update().get(pk=sub.pk)
    sub.organization = organization
    return sub


@transaction.atomic
def start_trial(organization: Organization, *, now: datetime | None = None) -> Subscription:
    """Start the 14-day trial at sign-up (the "organization created" hook calls it). Idempotent: an
    organization that already has a subscription keeps it."""
    now = now or timezone.now()
    sub, created = Subscription.objects.get_or_create(organization=organization,
                                                      defaults={"trial_ends_at": now + TRIAL})
    if created:
        audit.record(organization=organization, actor=None, action="billing.subscription.trial",
                     target_type="subscription", target_id=sub.pk, trial_ends_at=sub.trial_ends_at.isoformat())
        _forget(organization.pk)
    return sub


@dataclass(frozen=True)
class State:
    status: str
    plan: str
    trial_ends_at: datetime
    cancelled_at: datetime | None
    deletion_scheduled_at: datetime | None

    def effective_status(self, now: datetime) -> str:
        """The status, counting a trial whose end has passed as read-only before beat records it."""
        if self.status == S.TRIAL and now >= self.trial_ends_at:
            return S.READ_ONLY
        return self.status

    def read_only_reason(self, now: datetime) -> str | None:
        status = self.effective_status(now)
        if status == S.READ_ONLY:
            return _("l'essai de 14 jours est terminé sans forfait choisi : les tickets restent consultables, "
                     "mais répondre, créer des tickets, publier des articles ou modifier les règles demande "
                     "un abonnement. Les emails et chats entrants sont toujours reçus.")
        if status == S.CANCELLED:
            return _("l'abonnement est résilié : l'organisation reste consultable et exportable jusqu'au "
                     "%(date)s, puis la suppression des données sera planifiée. Les emails et chats entrants "
                     "sont toujours reçus.") % {"date": formats.date_format(self.deletion_scheduled_at)}
        return None

    def trial_days_left(self, now: datetime) -> int:
        if self.status != S.TRIAL:
            return 0
        return max(math.ceil((self.trial_ends_at - now).total_seconds() / 86400), 0)  # a started day counts


def _state(sub: Subscription) -> State:
    return State(sub.status, sub.plan, sub.trial_ends_at, sub.cancelled_at, sub.deletion_scheduled_at)


def state_of(organization: Organization) -> State:
    """The subscription's state, from the cache (no query on most pages); no row written."""
    key = _cache_key(organization.pk)
    state = cache.get(key)
    if state is None:
        sub = Subscription.objects.filter(organization=organization).first()
        state = _state(sub or _new(organization, organization.created_at + TRIAL))
        cache.set(key, state, _CACHE_SECONDS)
    return state


def read_only_reason(organization: Organization) -> str | None:
    """Registered in ``lumiodesk.permissions`` at start-up: why members may not work, or None."""
    return state_of(organization).read_only_reason(timezone.now())


# --- transitions --------------------------------------------------------------------------------------------


def _move(sub: Subscription, to: str, *, actor: Actor, now: datetime, **data) -> None:
    if to not in ALLOWED[sub.status]:
        raise TransitionNotAllowed(
            _("Transition impossible : %(old)s → %(new)s.") % {"old": S(sub.status).label, "new": S(to).label}
        )
    old = sub.status
    sub.status = to
    sub.save()
    audit.record(organization=sub.organization, actor=actor.user, action=f"billing.subscription.{to}",
                 target_type="subscription", target_id=sub.pk, old=old, new=to, plan=sub.plan,
                 at=now.isoformat(), **data)
    _forget(sub.organization_id)


def end_trials(*, now: datetime | None = None) -> int:
    """Beat: every organization gets its subscription row, and trials that ended without a plan become
    read-only. Safe to run twice (each row is moved under its lock, from ``trial`` only)."""
    now = now or timezone.now()
    missing = Organization.objects.exclude(pk__in=Subscription.objects.values("organization_id"))
    for organization in missing.order_by("pk")[:1000]:
        subscription_of(organization)
    moved = 0
    for pk in Subscription.objects.filter(status=S.TRIAL, trial_ends_at__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            sub = Subscription.objects.select_for_update().select_related("organization").get(pk=pk)
            if sub.status == S.TRIAL and sub.trial_ends_at <= now:
                sub.read_only_since = now
                _move(sub, S.READ_ONLY, actor=SYSTEM, now=now, reason="trial_ended")
                moved += 1
    return moved


@dataclass(frozen=True)
class Conflict:
    """What a smaller plan does not hold: the choice the Admin must make (section 9: never silent)."""

    limit: Limit
    used: int
    allowed: int
    items: list[tuple[int, str]]  # what can be deactivated: (id, label)

    @property
    def excess(self) -> int:
        return max(self.used - self.allowed, 0)


def seats_used(organization: Organization) -> int:
    """Seats: active members who work tickets (Admin, Manager, Agent); Viewers are free."""
    return team.seats_used(organization)


def seat_members(organization: Organization) -> list[tuple[int, str]]:
    return [
        (m.pk, f"{user_display_name(m.user)} ({m.get_role_display()})")
        for m in members_with("tickets.be_assigned", organization=organization)
        .select_related("user").order_by("created_at", "pk")
    ]


def conflicts(organization: Organization, plan: str) -> list[Conflict]:
    """The active agents and rules beyond what ``plan`` includes, with what could be deactivated."""
    spec = PLANS[plan]
    found = []
    seats = seats_used(organization)
    if seats > spec.limits[Limit.AGENTS_INCLUDED]:
        found.append(Conflict(Limit.AGENTS_INCLUDED, seats, spec.limits[Limit.AGENTS_INCLUDED],
                              seat_members(organization)))
    rules = usage_of(organization, Limit.ACTIVE_AUTOMATIONS)
    if rules > spec.limits[Limit.ACTIVE_AUTOMATIONS]:
        reducer = reducer_for(Limit.ACTIVE_AUTOMATIONS)
        found.append(Conflict(Limit.ACTIVE_AUTOMATIONS, rules, spec.limits[Limit.ACTIVE_AUTOMATIONS],
                              reducer.items(organization) if reducer else []))
    return found


def record_seats(organization: Organization, *, now: datetime | None = None, plan: str | None = None) -> None:
    """Today's seat count (the highest seen today) and plan, for the extra agents of the next invoice."""
    now = now or timezone.now()
    if plan is None:
        sub = Subscription.objects.filter(organization=organization).first()
        plan = sub.plan if sub and sub.status == S.ACTIVE else ""
    seats = seats_used(organization)
    day = utc_day(now)
    row, created = SeatDay.objects.get_or_create(organization=organization, day=day,
                                                 defaults={"seats": seats, "plan": plan})
    if not created and (seats > row.seats or plan != row.plan):
        SeatDay.objects.filter(pk=row.pk).update(seats=max(seats, row.seats), plan=plan)


@transaction.atomic
def choose_plan(
    *, actor: Actor, organization: Organization, plan: str, now: datetime | None = None,
    deactivate_members: Iterable[int] = (), deactivate_rules: Iterable[int] = (), keep_extra_agents: bool = False,
) -> Subscription:
    """Subscribe (from the trial, read-only or cancelled) or change plan, at once, prorated (section 9).

    A plan that holds fewer active agents or rules than the organization has needs the Admin's choice:
    agents beyond those included are either kept (billed as extra agents) or deactivated, named one by one;
    rules beyond the limit must be named for deactivation. Nothing is deactivated silently.
    """
    require(actor, "billing.manage", organization)
    now = now or timezone.now()
    if plan not in PLANS:
        raise InvalidInput(_("Forfait inconnu."))
    sub = subscription_of(organization, lock=True)
    if sub.status == S.CANCELLED and sub.deletion_scheduled_at and now >= sub.deletion_scheduled_at:
        raise TransitionNotAllowed(_("La période de 30 jours après résiliation est terminée."))
    old_plan = sub.plan if sub.status == S.ACTIVE else ""
    if old_plan == plan:
        raise InvalidInput(_("C'est déjà votre forfait."))
    deactivate_members, deactivate_rules = set(deactivate_members), set(deactivate_rules)
    for conflict in conflicts(organization, plan):
        if conflict.limit == Limit.AGENTS_INCLUDED:
            if not keep_extra_agents and len(deactivate_members & {i for i, _l in conflict.items}) < conflict.excess:
                raise InvalidInput(
                    _("Le forfait %(plan)s inclut %(n)s agents et vous en avez %(used)s actifs : gardez-les "
                      "(facturés en agents supplémentaires) ou choisissez les %(excess)s à désactiver.")
                    % {"plan": PLANS[plan].name, "n": conflict.allowed, "used": conflict.used,
                       "excess": conflict.excess})
        elif len(deactivate_rules & {i for i, _l in conflict.items}) < conflict.excess:
            raise InvalidInput(
                _("Le forfait %(plan)s permet %(n)s règles actives et vous en avez %(used)s : choisissez les "
                  "%(excess)s à désactiver.")
                % {"plan": PLANS[plan].name, "n": conflict.allowed, "used": conflict.used,
                   "excess": conflict.excess})
    amount, days, total = prorate(PLANS[old_plan].monthly_price_eur if old_plan else 0,
                                  PLANS[plan].monthly_price_eur, now)
    change = PlanChange.objects.create(organization=organization, at=now, from_plan=old_plan, to_plan=plan,
                                       days=days, days_in_month=total, amount=amount, actor=actor.user)
    if sub.status != S.ACTIVE:
        sub.activated_at = now
        sub.cancelled_at = sub.read_only_since = sub.deletion_scheduled_at = None
    sub.plan = plan
    _move(sub, S.ACTIVE, actor=actor, now=now, old_plan=old_plan, prorated=str(amount), plan_change=change.pk)
    Organization.objects.filter(pk=organization.pk).update(plan=plan)
    organization.plan = plan
    if deactivate_members and not keep_extra_agents:
        _deactivate_members(organization, deactivate_members, actor=actor)
    if deactivate_rules:
        reducer = reducer_for(Limit.ACTIVE_AUTOMATIONS)
        if reducer is None:
            raise InvalidInput(_("Les règles ne peuvent pas être désactivées ici."))
        reducer.deactivate(organization, sorted(deactivate_rules), actor)
    record_seats(organization, now=now, plan=plan)
    return sub


def _deactivate_members(organization: Organization, ids: set[int], *, actor: Actor) -> None:
    own = getattr(actor, "membership", None)
    if own is not None and own.pk in ids:
        raise InvalidInput(_("Vous ne pouvez pas vous désactiver vous-même."))
    rows = list(Membership.objects.select_for_update().filter(organization=organization, pk__in=ids,
                                                               is_active=True))
    Membership.objects.filter(pk__in=[m.pk for m in rows]).update(is_active=False)
    for m in rows:
        audit.record(organization=organization, actor=actor.user, action="member.deactivated",
                     target_type="membership", target_id=m.pk, reason="plan_downgrade")


@transaction.atomic
def cancel(*, actor: Actor, organization: Organization, now: datetime | None = None) -> Subscription:
    """Cancel: read-only for 30 days (export, billing), then the deletion of the data is scheduled."""
    require(actor, "billing.manage", organization)
    now = now or timezone.now()
    sub = subscription_of(organization, lock=True)
    sub.cancelled_at = sub.read_only_since = now
    sub.deletion_scheduled_at = now + READ_ONLY_AFTER_CANCELLATION
    _move(sub, S.CANCELLED, actor=actor, now=now, deletion_scheduled_at=sub.deletion_scheduled_at.isoformat())
    return sub


def plans_for_choice() -> list[tuple[str, str]]:
    return [(p.value, p.label) for p in Plan]
