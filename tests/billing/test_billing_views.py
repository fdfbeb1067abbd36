"""Settings > Billing and the refunds to approve: who sees them, the cancellation page, query counts."""

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import OrganizationFactory, TicketFactory, acting, member

from billing import invoices, refunds, subscriptions
from billing.models import Subscription
from lumiodesk.models import Role

pytestmark = pytest.mark.django_db


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def _org_with(n: int, clock):
    clock.set(datetime(2026, 1, 5, tzinfo=UTC))
    org = OrganizationFactory()
    admin = member(org, Role.ADMIN)
    agent = member(org, Role.AGENT)
    subscriptions.choose_plan(actor=acting(admin), organization=org, plan="starter")
    for month in range(2, 2 + n):
        clock.set(datetime(2026 + (month - 1) // 12, (month - 1) % 12 + 1, 1, tzinfo=UTC))
        invoices.issue_invoice(org, period=clock.now.date(), finish=False)
    ticket = TicketFactory(organization=org)
    for i in range(n):
        refunds.request_refund(actor=acting(agent), ticket=ticket, amount=str(10 + i), reason=f"Geste {i}")
    return org, admin


def test_the_billing_page_and_the_refunds_list_cost_the_same_queries_at_any_size(client, clock):
    counts = {}
    for n in (2, 12):
        org, admin = _org_with(n, clock)
        client.force_login(admin)
        counts[n] = (_queries(client, reverse("billing:settings")), _queries(client, reverse("billing:refunds")))
    assert counts[2] == counts[12], counts


def test_only_admins_see_billing_and_the_cancellation_offers_the_export_honestly(client, clock):
    org = OrganizationFactory()
    admin, manager = member(org, Role.ADMIN), member(org, Role.MANAGER)
    client.force_login(manager)
    assert client.get(reverse("billing:settings")).status_code == 403
    assert client.post(reverse("billing:cancel"), {"confirm": "yes"}).status_code == 403
    client.force_login(admin)
    page = client.get(reverse("billing:cancel")).content.decode()
    assert "Exporter avant de résilier" in page and f'href="{reverse("exports:home")}#archive"' in page
    client.post(reverse("billing:cancel"), {})  # not confirmed: nothing happens
    assert Subscription.objects.get(organization=org).status == "trial"
    client.post(reverse("billing:cancel"), {"confirm": "yes"})
    assert Subscription.objects.get(organization=org).status == "cancelled"
    page = client.get(reverse("billing:settings")).content.decode()
    assert "readonly-banner" in page and "Résilié" in page


def test_the_trial_page_says_the_days_left(client, clock):
    org = OrganizationFactory()
    admin = member(org, Role.ADMIN)
    subscriptions.start_trial(org, now=datetime(2025, 2, 25, 20, tzinfo=UTC))
    client.force_login(admin)
    page = client.get(reverse("billing:settings")).content.decode()
    assert "Essai gratuit : 2 jours restants." in page  # 10 March 09:00 UTC; ends 11 March 20:00 (a started day counts)
    assert "Mois calendaire en UTC" in page
    assert date(2025, 3, 11).strftime("%d/%m/%Y") in page
