"""Writes of the sla app: the settings (hours, holidays, policies, pause), defaults, re-stamping.

Every settings change is for Admins and Managers, atomic, audited, and re-stamps the open tickets of
the organization after commit (their due times follow the settings; outcomes already recorded stay).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from celery import shared_task
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lumiodesk import audit
from lumiodesk.calendar import ical
from lumiodesk.calendar.selectors import DEFAULT_CLOSES, DEFAULT_OPEN_DAYS, DEFAULT_OPENS
from lumiodesk.exceptions import InvalidInput
from lumiodesk.models import MIDNIGHT, BusinessHours, Holiday, Organization
from lumiodesk.permissions import Actor, require
from tickets.models import Priority, Status, Ticket

from . import clock, outcomes
from .config import DEFAULT_POLICIES, sla_config
from .models import SlaPolicy, SlaSettings, TargetUnit

MAX_TARGET_MINUTES = 60 * 24 * 366



def create_defaults(organization_id: int) -> None:
    """Monday–Friday 9:00–18:00, the section 13 policies and the pause setting (idempotent)."""
    BusinessHours.objects.bulk_create(
        [
            BusinessHours(organization_id=organization_id, weekday=d, is_open=d in DEFAULT_OPEN_DAYS,
                          opens=DEFAULT_OPENS, closes=DEFAULT_CLOSES)
            for d in range(7)
        ],
        ignore_conflicts=True,
    )
    SlaPolicy.objects.bulk_create(
        [
            SlaPolicy(organization_id=organization_id, priority=p, first_response_amount=policy.first_response.amount,
                      first_response_unit=policy.first_response.unit, resolution_amount=policy.resolution.amount,
                      resolution_unit=policy.resolution.unit)
            for p, policy in DEFAULT_POLICIES.items()
        ],
        ignore_conflicts=True,
    )
    SlaSettings.objects.bulk_create([SlaSettings(organization_id=organization_id)], ignore_conflicts=True)


def _after_change(organization: Organization) -> None:
    org_id = organization.pk
    transaction.on_commit(lambda: restamp_organization.delay(org_id))


# --- opening hours ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayHours:
    weekday: int
    is_open: bool
    opens: time | None
    closes: time | None


@transaction.atomic
def save_business_hours(*, organization: Organization, days: Sequence[DayHours], actor: Actor) -> None:
    require(actor, "sla.manage", organization)
    if len({d.weekday for d in days}) != 7:
        raise InvalidInput(_("Indiquez les horaires des sept jours."))
    if not any(d.is_open for d in days):
        raise InvalidInput(_("Ouvrez au moins un jour : sans horaires, aucun SLA ne peut être calculé."))
    for d in days:
        if d.is_open and (d.opens is None or d.closes is None):
            raise InvalidInput(_("Indiquez l'ouverture et la fermeture des jours ouverts."))
        if d.is_open and not (d.closes > d.opens or d.closes == MIDNIGHT):
            raise InvalidInput(_("La fermeture doit suivre l'ouverture (00:00 = minuit)."))
    create_defaults(organization.pk)
    rows = {h.weekday: h for h in BusinessHours.objects.select_for_update().filter(organization=organization)}
    for d in days:
        row = rows[d.weekday]
        row.is_open = d.is_open
        if d.is_open:
            row.opens, row.closes = d.opens, d.closes
    BusinessHours.objects.bulk_update(list(rows.values()), ["is_open", "opens", "closes"])
    audit.record(
        organization=organization, actor=actor.user, action="sla.hours", target_type="organization",
        target_id=organization.pk,
        hours={d.weekday: f"{d.opens:%H:%M}-{d.closes:%H:%M}" if d.is_open else None for d in days},
    )
    _after_change(organization)


# --- holidays -----------------------------------------------------------------------------------------------


@transaction.atomic
def add_holiday(*, organization: Organization, day: date, name: str, actor: Actor) -> Holiday:
    require(actor, "sla.manage", organization)
    if Holiday.objects.filter(organization=organization, date=day).exists():
        raise InvalidInput(_("Le %(d)s est déjà un jour férié.") % {"d": day.strftime("%d/%m/%Y")})
    holiday = Holiday.objects.create(organization=organization, date=day, name=(name or "").strip()[:120])
    audit.record(organization=organization, actor=actor.user, action="sla.holiday_added", target_type="holiday",
                 target_id=holiday.pk, date=day.isoformat(), name=holiday.name)
    _after_change(organization)
    return holiday


@transaction.atomic
def delete_holiday(*, holiday: Holiday, actor: Actor) -> None:
    require(actor, "sla.manage", holiday.organization)
    audit.record(organization=holiday.organization, actor=actor.user, action="sla.holiday_deleted",
                 target_type="holiday", target_id=holiday.pk, date=holiday.date.isoformat(), name=holiday.name)
    holiday.delete()
    _after_change(holiday.organization)


@transaction.atomic
def import_holidays(*, organization: Organization, data: bytes, actor: Actor, today: date | None = None) -> int:
    """Add the dates of an iCalendar file (this year and the next two); returns how many were new."""
    require(actor, "sla.manage", organization)
    today = today or timezone.now().astimezone(zoneinfo.ZoneInfo(organization.time_zone)).date()
    try:
        found = ical.parse_holidays(data, time_zone=organization.time_zone,
                                    years=range(today.year, today.year + 3))
    except ical.ICalError as exc:
        raise InvalidInput(_("Import impossible : %(why)s") % {"why": exc}) from exc
    existing = set(Holiday.objects.filter(organization=organization).values_list("date", flat=True))
    new = [Holiday(organization=organization, date=h.date, name=h.name) for h in found if h.date not in existing]
    Holiday.objects.bulk_create(new, ignore_conflicts=True)
    audit.record(organization=organization, actor=actor.user, action="sla.holidays_imported",
                 target_type="organization",
                 target_id=organization.pk, added=len(new), in_file=len(found))
    if new:
        _after_change(organization)
    return len(new)


# --- policies and settings ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyInput:
    priority: str
    first_response_amount: int
    first_response_unit: str
    resolution_amount: int
    resolution_unit: str


def _minutes(amount: int, unit: str) -> int:
    return amount * {TargetUnit.MINUTES: 1, TargetUnit.HOURS: 60, TargetUnit.DAYS: 60 * 9}[unit]


@transaction.atomic
def save_policies(*, organization: Organization, policies: Sequence[PolicyInput], actor: Actor) -> None:
    require(actor, "sla.manage", organization)
    if {p.priority for p in policies} != set(Priority.values):
        raise InvalidInput(_("Indiquez les objectifs des quatre priorités."))
    for p in policies:
        for amount, unit in ((p.first_response_amount, p.first_response_unit),
                             (p.resolution_amount, p.resolution_unit)):
            if unit not in TargetUnit.values or not amount > 0 or _minutes(amount, unit) > MAX_TARGET_MINUTES:
                raise InvalidInput(_("Objectif invalide pour la priorité %(p)s.") % {"p": Priority(p.priority).label})
    create_defaults(organization.pk)
    rows = {r.priority: r for r in SlaPolicy.objects.select_for_update().filter(organization=organization)}
    for p in policies:
        row = rows[p.priority]
        row.first_response_amount, row.first_response_unit = p.first_response_amount, p.first_response_unit
        row.resolution_amount, row.resolution_unit = p.resolution_amount, p.resolution_unit
    SlaPolicy.objects.bulk_update(
        list(rows.values()),
        ["first_response_amount", "first_response_unit", "resolution_amount", "resolution_unit", "updated_at"],
    )
    audit.record(
        organization=organization, actor=actor.user, action="sla.policies", target_type="organization",
        target_id=organization.pk,
        policies={p.priority: [p.first_response_amount, p.first_response_unit, p.resolution_amount,
                               p.resolution_unit] for p in policies},
    )
    _after_change(organization)


@transaction.atomic
def save_sla_settings(*, organization: Organization, pause_when_waiting_customer: bool, actor: Actor) -> None:
    require(actor, "sla.manage", organization)
    SlaSettings.objects.update_or_create(
        organization=organization, defaults={"pause_when_waiting_customer": pause_when_waiting_customer}
    )
    audit.record(organization=organization, actor=actor.user, action="sla.settings", target_type="organization",
                 target_id=organization.pk, pause_when_waiting_customer=pause_when_waiting_customer)
    _after_change(organization)


# --- preview and re-stamping --------------------------------------------------------------------------------


def preview(*, organization: Organization, priority: str, created_at: datetime) -> tuple[datetime | None,
                                                                                          datetime | None]:
    """The due times of a ticket of ``priority`` created at ``created_at``, as a real one would get."""
    if priority not in Priority.values:
        raise InvalidInput(_("Priorité inconnue : %(p)s") % {"p": priority})
    if timezone.is_naive(created_at):
        raise InvalidInput(_("Indiquez une date avec son fuseau horaire."))
    return clock.due_times(sla_config(organization.pk), priority, created_at)


OPEN_STATUSES = [s for s in Status.values if s not in clock.STOPPED]


def restamp_open_tickets(organization_id: int, *, now: datetime | None = None, batch: int = 500,
                         past_alerts: bool = True) -> int:
    """Recompute the due times of the organization's open tickets from its current settings.

    ``past_alerts=False``: warnings and breaches already due are not sent (after seeding history, an import);
    the breaches are still recorded as outcomes (the scan will not look at those clocks again, and the report's
    catch-up reads only what the scan has still to look at: ``sla.outcomes._BREACHES``).
    """
    now = now or timezone.now()
    config = sla_config(organization_id)
    last_id, done = 0, 0
    while True:
        with transaction.atomic():
            tickets = list(
                Ticket.objects.select_for_update(skip_locked=True)
                .filter(organization_id=organization_id, imported=False, status__in=OPEN_STATUSES, pk__gt=last_id)
                .only("id", "organization_id", "priority", "status", "created_at", "first_response_at", "imported",
                      "out_of_sla", "assignee_id", *clock.FIELDS)
                .order_by("pk")[:batch]
            )
            if not tickets:
                return done
            breaches = []
            for t in tickets:
                clock.set_due_times(t, config)
                clock.derive(t, config, now, past_alerts=past_alerts)
                if not past_alerts:
                    breaches += [outcomes.OutcomeRow.breach(t, r.metric, r.due, now)
                                 for r in clock.running(t) if r.due <= now]
            Ticket.objects.bulk_update(tickets, sorted(clock.FIELDS))
            outcomes.record(breaches)
            done += len(tickets)
            last_id = tickets[-1].pk


# Defined beside ``_after_change``, which queues it, and listed in ``sla.tasks`` under its registered name.
@shared_task(name="sla.tasks.restamp_organization", bind=True, autoretry_for=(OSError,), retry_backoff=10,
             max_retries=5)
def restamp_organization(self, organization_id: int) -> int:
    return restamp_open_tickets(organization_id)
