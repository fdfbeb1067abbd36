"""``manage.py seed_demo``: what ``make run`` shows a new user (one test: seeding takes about 12 s)."""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory
from django.utils import timezone

from billing import subscriptions
from billing.models import Invoice, InvoiceLine, RefundRequest, Subscription
from crm.models import Budget, BudgetAlert, HourlyRate
from devtools.management.commands.seed_demo import MONTHS_FR
from lumiodesk.models import AgentNotification, Organization
from tickets.costs import selectors
from tickets.costs.models import TimeEntry
from tickets.email.intake import find_mailbox
from tickets.email.models import Mailbox
from tickets.models import Message, Status, Ticket

PLACEHOLDER = re.compile(r"\{[a-z_0-9]+\}")


@pytest.mark.slow
@pytest.mark.django_db
def test_seed_demo():
    call_command("seed_demo", "--anchor", "2026-11-01", stdout=io.StringIO())

    org = Organization.objects.get(slug="demo")
    assert Ticket.objects.filter(organization=org).count() == 300
    assert Ticket.objects.filter(organization__slug="atelier-nord").count() == 15
    assert set(Ticket.objects.filter(organization=org).values_list("status", flat=True)) == set(Status.values)
    for email in ("admin@lumiodesk.test", "manager@lumiodesk.test", "agent@lumiodesk.test", "viewer@lumiodesk.test"):
        # A request, as on the sign-in page: the brute-force protection (django-axes) needs one.
        request = RequestFactory().post("/login/")
        assert authenticate(request, username=email, password="demo-lumiodesk") is not None, email
    demo_mailbox = Mailbox.objects.get(organization=org)
    assert demo_mailbox.address == "support@lumiodesk.test"
    # Verified: the SMTP receiver answers for the demo's own address (issue 15, item 5).
    assert demo_mailbox.is_verified
    assert find_mailbox("support@lumiodesk.test") == demo_mailbox

    # Every scripted subject and message is written out: no "{month}" left for anyone to read.
    subjects = [s for s in Ticket.objects.values_list("subject", flat=True) if PLACEHOLDER.search(s)]
    bodies = [b[:80] for b in Message.objects.values_list("body_text", flat=True) if PLACEHOLDER.search(b)]
    assert subjects == [] and bodies == []
    invoices = Ticket.objects.filter(subject__startswith="Montant de la facture ").values_list("subject", flat=True)
    months = {s.removeprefix("Montant de la facture ").removesuffix(" incorrect") for s in invoices}
    assert months and months <= {f"d'{m}" if m[0] in "ao" else f"de {m}" for m in MONTHS_FR}, months

    # billing: Demo on Business with months of invoices (one with a prorated plan change), two refunds
    # awaiting approval; Nord in trial with 3 days left (from the real now: the demo is looked at today).
    sub = Subscription.objects.get(organization=org)
    assert (sub.status, sub.plan, Organization.objects.get(pk=org.pk).plan) == ("active", "business", "business")
    bills = list(Invoice.objects.filter(organization=org).order_by("number"))
    assert [b.number for b in bills] == list(range(1, len(bills) + 1)) and len(bills) >= 2
    prorated = InvoiceLine.objects.filter(invoice__organization=org, description__startswith="Changement de forfait")
    assert prorated.exists()
    assert sorted(RefundRequest.objects.filter(organization=org, status="pending").values_list("amount", flat=True)) \
        == [Decimal("45"), Decimal("180")]
    nord = Subscription.objects.get(organization__slug="atelier-nord")
    assert nord.status == "trial" and subscriptions.state_of(nord.organization).trial_days_left(timezone.now()) == 3

    # tickets.costs: hourly costs with a raise, months of time, budgets under, at ~85 % and over, their alerts.
    org_rates = HourlyRate.objects.filter(organization=org, user__email="agent@lumiodesk.test")
    assert org_rates.count() == 2
    entries = TimeEntry.objects.filter(organization=org)
    assert entries.count() > 300 and entries.dates("date", "month").count() >= 3
    assert not entries.filter(cost=0).exists()
    statuses = selectors.budget_statuses(list(Budget.objects.filter(organization=org)), date(2026, 10, 31))
    percents = sorted(s.pace.percent for s in statuses)
    assert len(percents) >= 4 and any(80 <= p < 90 for p in percents) and percents[-1] >= 100, percents
    assert any(p < 80 for p in percents)
    assert BudgetAlert.objects.filter(organization=org, kind="100").exists()
    assert AgentNotification.objects.filter(organization=org, kind="budget_alert",
                                            recipient__email="manager@lumiodesk.test").exists()

    # Seeding again leaves the demo alone.
    before = Ticket.objects.count()
    call_command("seed_demo", "--anchor", "2026-11-01", stdout=io.StringIO())
    assert Ticket.objects.count() == before
