"""Writes on time entries and the running timer, and merging two customers (their tickets move).

Contract:
- every write is atomic and asks the permission table: ``time.log`` to log time and change one's own
  entries, ``time.manage`` for anyone's; edits and deletions are audited (before/after);
- an entry's cost is its minutes × the agent's hourly cost in force on its date (``crm.rates.rate_on``),
  to the cent, copied on the entry when it is written: a rate set later never changes it;
- one running timer per agent (a partial unique index); starting another stops the first; a timer is
  stopped when its agent signs out (``user_logged_out``) or by the beat after ``TIMER_IDLE_LIMIT``;
- after each write the budgets of the ticket's customer and company are checked (``alerts``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Customer
from crm.rates import cost_of, rate_on
from crm.services import SEARCHED_FIELDS, customers_renamed
from lumiodesk import audit
from lumiodesk.exceptions import InvalidInput, NotPermitted
from lumiodesk.permissions import Actor, SystemActor, require

from ..models import CustomerNotification, Message, SatisfactionRating, Ticket
from ..services.search_document import refresh_search_document
from . import alerts, rollup
from .models import TicketCostMonth, TimeCostMonth, TimeEntry

MAX_MINUTES = 24 * 60


def parse_duration(value) -> int:
    """Minutes from what an agent types: "90", "1h30", "1:30", "1.5h", "45m"."""
    text = str(value or "").strip().lower().replace(" ", "")
    try:
        if ":" in text:
            h, m = text.split(":", 1)
            minutes = int(h or 0) * 60 + int(m or 0)
        elif "h" in text:
            h, m = text.split("h", 1)
            minutes = round(float(h.replace(",", ".") or 0) * 60) + int(m.rstrip("min").rstrip("m") or 0)
        else:
            minutes = int(text.rstrip("min").rstrip("m"))
    except ValueError:
        raise InvalidInput(_("Durée invalide : %(v)s (exemples : 45, 1h30, 1:30)") % {"v": value or "—"}) from None
    if not 0 < minutes <= MAX_MINUTES:
        raise InvalidInput(_("La durée doit être comprise entre 1 minute et 24 heures."))
    return minutes


def _costed(entry: TimeEntry) -> None:
    entry.rate = rate_on(entry.organization_id, entry.user_id, entry.date) or 0
    entry.cost = cost_of(entry.minutes, entry.rate)


def _acts_for_other(actor: Actor, user_id: int | None) -> bool:
    """Whether a person (a member, or an API key: it acts as its creator, with its role) touches another
    agent's time. Only the system acts for anyone (sign-out, the idle-timer beat)."""
    return not isinstance(actor, SystemActor) and user_id != getattr(actor.user, "pk", None)


def _require_own_or_manage(actor: Actor, entry: TimeEntry) -> None:
    require(actor, "time.log", entry.ticket.organization)
    if _acts_for_other(actor, entry.user_id) and not actor.can("time.manage"):
        raise NotPermitted(_("Vous ne pouvez modifier que votre propre temps."))


@transaction.atomic
def log_time(*, actor: Actor, ticket: Ticket, minutes, day: date | None = None, note: str = "",
             user=None) -> TimeEntry:
    """A manual entry: ``minutes`` (or a typed duration) on ``day`` (today by default) by ``user``
    (the actor; a Manager may log for another agent)."""
    require(actor, "time.log", ticket.organization)
    user = user or actor.user
    if user is None:
        raise InvalidInput(_("Indiquez l'agent dont c'est le temps."))
    if _acts_for_other(actor, user.pk):
        require(actor, "time.manage", ticket.organization)
    day = day or timezone.localdate()
    if day > timezone.localdate() + timedelta(days=1):
        raise InvalidInput(_("On ne saisit pas de temps dans le futur."))
    entry = TimeEntry(organization_id=ticket.organization_id, ticket=ticket, user=user, date=day,
                      minutes=minutes if isinstance(minutes, int) else parse_duration(minutes), note=note[:500])
    if not 0 < entry.minutes <= MAX_MINUTES:
        raise InvalidInput(_("La durée doit être comprise entre 1 minute et 24 heures."))
    _costed(entry)
    entry.save()
    rollup.add_entry(entry)
    alerts.check_ticket(ticket, day)
    return entry


@transaction.atomic
def update_entry(*, actor: Actor, entry: TimeEntry, minutes=None, day: date | None = None,
                 note: str | None = None) -> TimeEntry:
    """Change a stopped entry's duration, date or note; it is costed again at the rate in force on its date."""
    entry = TimeEntry.objects.select_for_update().select_related("ticket__organization").get(pk=entry.pk)
    _require_own_or_manage(actor, entry)
    if entry.running:
        raise InvalidInput(_("Arrêtez le chronomètre avant de modifier ce temps."))
    before = {"minutes": entry.minutes, "date": str(entry.date), "note": entry.note, "cost": str(entry.cost)}
    rollup.add_entry(entry, sign=-1)
    if minutes is not None:
        entry.minutes = minutes if isinstance(minutes, int) else parse_duration(minutes)
    if day is not None:
        entry.date = day
    if note is not None:
        entry.note = note[:500]
    _costed(entry)
    entry.save(update_fields=["minutes", "date", "note", "rate", "cost", "updated_at"])
    rollup.add_entry(entry)
    after = {"minutes": entry.minutes, "date": str(entry.date), "note": entry.note, "cost": str(entry.cost)}
    audit.record(organization=entry.ticket.organization, actor=actor.user, action="time.updated",
                 target_type="time_entry", target_id=entry.pk, ticket=entry.ticket.number, before=before, after=after)
    alerts.check_ticket(entry.ticket, entry.date)
    return entry


@transaction.atomic
def delete_entry(*, actor: Actor, entry: TimeEntry) -> None:
    entry = TimeEntry.objects.select_for_update().select_related("ticket__organization").get(pk=entry.pk)
    _require_own_or_manage(actor, entry)
    audit.record(organization=entry.ticket.organization, actor=actor.user, action="time.deleted",
                 target_type="time_entry", target_id=entry.pk, ticket=entry.ticket.number,
                 before={"minutes": entry.minutes, "date": str(entry.date), "cost": str(entry.cost)}, after={})
    rollup.add_entry(entry, sign=-1)
    entry.delete()


# --- the timer ------------------------------------------------------------------------------------------


def running_timer(user) -> TimeEntry | None:
    return TimeEntry.objects.filter(user=user, running=True).select_related("ticket").first()


def _stop(entry: TimeEntry, at: datetime) -> TimeEntry:
    seconds = max((at - entry.started_at).total_seconds(), 0)
    entry.running = False
    entry.minutes = min(max(round(seconds / 60), 1), MAX_MINUTES)
    _costed(entry)  # its date stays the one start_timer gave, in the organization's time zone
    entry.save(update_fields=["running", "minutes", "rate", "cost", "updated_at"])
    rollup.add_entry(entry)
    alerts.check_ticket(entry.ticket, entry.date)
    return entry


@transaction.atomic
def start_timer(*, actor: Actor, ticket: Ticket, note: str = "", now: datetime | None = None) -> TimeEntry:
    """Start the actor's timer on ``ticket``; a timer running elsewhere is stopped first (one per agent)."""
    require(actor, "time.log", ticket.organization)
    now = now or timezone.now()
    for other in TimeEntry.objects.select_for_update().filter(user=actor.user, running=True).select_related("ticket"):
        if other.ticket_id == ticket.pk:
            return other  # already running here (a double click, a second tab)
        _stop(other, now)
    return TimeEntry.objects.create(organization_id=ticket.organization_id, ticket=ticket, user=actor.user,
                                    date=timezone.localdate(now), started_at=now, running=True, note=note[:500])


@transaction.atomic
def stop_timer(*, actor: Actor, ticket: Ticket | None = None, now: datetime | None = None) -> TimeEntry | None:
    """Stop the actor's running timer (on ``ticket``, when given): the entry is costed. None: none ran."""
    if ticket is not None:
        require(actor, "time.log", ticket.organization)
    qs = TimeEntry.objects.select_for_update().filter(user=actor.user, running=True).select_related("ticket")
    if ticket is not None:
        qs = qs.filter(ticket=ticket)
    entry = qs.first()
    return _stop(entry, now or timezone.now()) if entry else None


def stop_timers_of(user, *, now: datetime | None = None) -> int:
    """Sign-out: every timer of ``user`` stops now (the system acts; the user is no longer signed in)."""
    now = now or timezone.now()
    with transaction.atomic():
        entries = list(TimeEntry.objects.select_for_update(skip_locked=True).filter(user=user, running=True)
                       .select_related("ticket"))
        for entry in entries:
            _stop(entry, now)
    return len(entries)


def stop_idle_timers(*, now: datetime | None = None) -> int:
    """Beat: timers running for more than ``TIMER_IDLE_LIMIT`` stop, counted up to the limit (a forgotten
    timer bills no night). Claimed with ``skip_locked``: two workers never stop the same timer."""
    now = now or timezone.now()
    limit = timedelta(minutes=settings.TIMER_IDLE_LIMIT_MINUTES)
    stopped = 0
    with transaction.atomic():
        for entry in (TimeEntry.objects.select_for_update(skip_locked=True)
                      .filter(running=True, started_at__lt=now - limit).select_related("ticket")[:500]):
            _stop(entry, entry.started_at + limit)
            stopped += 1
    return stopped


# --- merging two customers --------------------------------------------------------------------------------


@transaction.atomic
def merge_customers(*, actor: Actor, keep: Customer, absorb: Customer) -> Customer:
    """``absorb`` (the same person under another address) becomes ``keep``: its tickets, notifications,
    ratings and budgets move to ``keep``, its empty details fill ``keep``'s, then it is deleted. One
    transaction, one audit row."""
    require(actor, "customers.merge", keep.organization)
    if keep.pk == absorb.pk:
        raise InvalidInput(_("Choisissez deux clients différents."))
    if keep.organization_id != absorb.organization_id:
        raise InvalidInput(_("Client inconnu."))
    locked = {c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[keep.pk, absorb.pk])}
    if len(locked) != 2:
        raise InvalidInput(_("Ce client n'existe plus."))
    keep, absorb = locked[keep.pk], locked[absorb.pk]
    moved_ids = list(Ticket.objects.filter(organization_id=keep.organization_id, customer=absorb)
                     .values_list("pk", flat=True))
    moved = Ticket.objects.filter(pk__in=moved_ids).update(customer=keep)
    CustomerNotification.objects.filter(customer=absorb).update(customer=keep)
    SatisfactionRating.objects.filter(customer=absorb).update(customer=keep)
    TimeCostMonth.objects.filter(organization_id=keep.organization_id, customer=absorb).update(customer=keep)
    TicketCostMonth.objects.filter(organization_id=keep.organization_id, customer=absorb).update(customer=keep)
    Message.objects.filter(ticket__organization_id=keep.organization_id, author_customer=absorb).update(
        author_customer=keep)
    filled = []
    for field in ("first_name", "last_name", "phone", "company_id"):
        if not getattr(keep, field) and getattr(absorb, field):
            setattr(keep, field, getattr(absorb, field))
            filled.append(field)
    if absorb.attributes:
        keep.attributes = {**absorb.attributes, **keep.attributes}
        filled.append("attributes")
    for budget in absorb.budgets.all():  # the kept customer's own budget wins a clash
        if not keep.budgets.filter(period=budget.period, start=budget.start).exists():
            budget.customer = keep
            budget.save(update_fields=["customer"])
    absorbed = {"id": absorb.pk, "email": absorb.email, "name": absorb.full_name}
    absorb.delete()
    if filled:
        keep.save(update_fields=[f if f != "company_id" else "company" for f in filled])
    if SEARCHED_FIELDS.intersection(filled):
        customers_renamed([keep])  # every ticket of ``keep`` (the moved ones too) shows the filled name
    else:
        refresh_search_document(moved_ids)  # the moved tickets' search entries hold the customer's name
    audit.record(organization=keep.organization, actor=actor.user, action="customer.merged", target_type="customer",
                 target_id=keep.pk, customer=keep.email, absorbed=absorbed, tickets_moved=moved,
                 before={"email": absorbed["email"]}, after={"email": keep.email})
    return keep


def stop_timers_on_sign_out(sender, request, user, **kwargs) -> None:
    """``user_logged_out`` receiver (connected in ``tickets.apps``): signing out stops one's timers."""
    if user is not None:
        stop_timers_of(user)
