"""The demo's billing (``seed_demo``): LumioDesk Demo on Business with a few months of invoices (one with a
prorated plan change) and two refunds awaiting approval (45 and 180 EUR); Atelier Nord in trial, 3 days left.
Everything goes through billing's services, at the instants the story says. Idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from billing import invoices, refunds, subscriptions
from billing.models import Invoice, RefundRequest, Subscription
from billing.proration import next_month
from lumiodesk.models import Membership, Organization, Role
from lumiodesk.permissions import MemberActor, SystemActor

ACTOR = SystemActor("seed_demo")


def subscribe(org: Organization, *, business: bool, created: datetime, anchor: datetime) -> None:
    """Before the tickets are played (agents must not find the organization read-only)."""
    if Subscription.objects.filter(organization=org).exists():
        return
    if not business:  # in trial, 3 days left (from the real now: the demo is looked at today)
        subscriptions.start_trial(org, now=datetime.now(UTC) - timedelta(days=11, hours=1))
        return
    subscriptions.start_trial(org, now=created)
    subscriptions.choose_plan(actor=ACTOR, organization=org, plan="starter", now=created + timedelta(days=3),
                              keep_extra_agents=True)
    first = next_month(created.date())
    change = datetime(first.year, first.month, 12, 10, 30, tzinfo=UTC)  # mid-month: prorated on the next invoice
    day = first
    while datetime(day.year, day.month, 1, tzinfo=UTC) <= anchor:
        at = datetime(day.year, day.month, 1, tzinfo=UTC)
        subscriptions.record_seats(org, now=at - timedelta(hours=1))
        invoices.issue_invoice(org, period=day, now=at, finish=False)
        if day == first and change <= anchor:
            subscriptions.choose_plan(actor=ACTOR, organization=org, plan="business", now=change,
                                      keep_extra_agents=True)
        day = next_month(day)
    if change > anchor:
        subscriptions.choose_plan(actor=ACTOR, organization=org, plan="business", now=anchor, keep_extra_agents=True)
    for invoice in Invoice.objects.filter(organization=org).order_by("-period")[1:]:  # all paid but the last
        invoices.mark_paid(actor=ACTOR, invoice=invoice, now=datetime(invoice.period.year, invoice.period.month, 8,
                                                                       tzinfo=UTC))


def pending_refunds(org: Organization, tickets: list) -> None:
    """Two refunds awaiting approval, asked by an agent: 45 EUR (a Manager may approve), 180 EUR (an Admin)."""
    if RefundRequest.objects.filter(organization=org).exists() or len(tickets) < 2:
        return
    agent = (Membership.objects.filter(organization=org, role=Role.AGENT, is_active=True)
             .select_related("organization", "user").order_by("pk").first())
    if agent is None:
        return
    actor = MemberActor(agent)
    refunds.request_refund(actor=actor, ticket=tickets[0], amount=Decimal("45"),
                           reason="Geste commercial : deux jours sans accès au widget chat.")
    refunds.request_refund(actor=actor, ticket=tickets[1], amount=Decimal("180"),
                           reason="Double prélèvement du forfait Business en octobre, à rembourser.")
