"""Customer and company records in the console: list and search, the record, editing, merging, the
"Nouveau ticket" button; query counts at two sizes."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import SYSTEM, CompanyFactory, CustomerFactory, TicketFactory, acting
from helpers import assert_login_redirect

from crm import budgets, rates
from crm import services as crm_services
from crm.models import Customer
from lumiodesk.exceptions import InvalidInput, NotPermitted
from lumiodesk.models import AuditLog
from tickets.costs import services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def _count(client, url) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


def test_the_list_searches_names_and_emails(client, world):
    CustomerFactory(organization=world.org, first_name="Léa", last_name="Dupont", email="lea@boulangerie.fr")
    CustomerFactory(organization=world.other_org, first_name="Léa", last_name="Dupont", email="lea@globex.test")
    client.force_login(world.viewer)
    html = client.get(reverse("customers:list"), {"q": "DUPONT"}).content.decode()
    assert "lea@boulangerie.fr" in html and "globex" not in html
    html = client.get(reverse("customers:list"), {"q": "boulangerie"}).content.decode()
    assert "lea@boulangerie.fr" in html and world.customer.email not in html
    client.logout()
    assert_login_redirect(client.get(reverse("customers:list")), reverse("customers:list"))


def test_the_customer_list_and_record_cost_the_same_queries_for_10_and_100_rows(client, world):
    client.force_login(world.manager)
    company = CompanyFactory(organization=world.org)
    _count(client, reverse("customers:list"))  # warms the per-organization caches (plan, subscription)
    counts = []
    for n in (10, 100):
        Customer.objects.bulk_create([Customer(organization=world.org, email=f"c{n}-{i}@example.com",
                                               last_name=f"N{i}", company=company) for i in range(n)])
        for _ in range(2 if n == 10 else 4):
            TicketFactory(organization=world.org, customer=world.customer)
        counts.append((_count(client, reverse("customers:list")), _count(client, reverse("customers:list") + "?q=c1"),
                       _count(client, reverse("customers:detail", args=[world.customer.pk]))))
    for small, large in zip(counts[0], counts[1], strict=True):
        assert small[0] == large[0], "\n".join(large[1])


def test_the_record_shows_tickets_time_cost_and_budget(client, world):
    rates.set_rate(actor=SYSTEM, organization=world.org, user=world.agent, amount="60", effective_from=date(2020, 1, 1))
    services.log_time(actor=acting(world.agent), ticket=world.ticket, minutes=90)
    budgets.save_budget(actor=SYSTEM, organization=world.org, period="year", day=date.today(), amount="1000",
                        customer=world.customer)
    client.force_login(world.manager)
    html = client.get(reverse("customers:detail", args=[world.customer.pk])).content.decode()
    assert f"#{world.ticket.number}" in html and "90,00 EUR" in html and "1000,00" in html
    client.force_login(world.agent)
    html = client.get(reverse("customers:detail", args=[world.customer.pk])).content.decode()
    assert f"{reverse('tickets:create')}?customer={world.customer.pk}" in html  # the "Nouveau ticket" button
    assert reverse("customers:merge", args=[world.customer.pk]) not in html  # Agents do not merge
    assert "90,00" not in html and "1000,00" not in html and "9 %" in html  # Agents: time and budget use only
    client.force_login(world.outsider)
    assert client.get(reverse("customers:detail", args=[world.customer.pk])).status_code == 404


def test_new_ticket_opens_prefilled_for_the_customer(client, world):
    client.force_login(world.agent)
    html = client.get(reverse("tickets:create"), {"customer": world.customer.pk}).content.decode()
    assert f'value="{world.customer.email}"' in html
    other = Customer.objects.filter(organization=world.other_org).first()
    assert client.get(reverse("tickets:create"), {"customer": other.pk}).status_code == 404


def test_an_agent_edits_the_record_and_sees_the_history(client, world):
    client.force_login(world.agent)
    url = reverse("customers:edit", args=[world.customer.pk])
    response = client.post(url, {"first_name": "Jeanne", "last_name": world.customer.last_name,
                                 "email": world.customer.email, "phone": "0611", "company": "",
                                 "notification_preference": "email_only"})
    assert response.status_code == 302
    html = client.get(reverse("customers:detail", args=[world.customer.pk])).content.decode()
    assert "Jeanne" in html and "Fiche client modifiée" in html
    client.force_login(world.viewer)
    assert client.post(url, {"email": "x@example.com"}).status_code == 403


def test_a_company_record_lists_its_customers_and_their_tickets(client, world):
    company = CompanyFactory(organization=world.org, name="Boulangerie Martin")
    world.customer.company = company
    world.customer.save(update_fields=["company"])
    client.force_login(world.viewer)
    html = client.get(reverse("customers:company", args=[company.pk])).content.decode()
    assert "Boulangerie Martin" in html and world.customer.email in html and f"#{world.ticket.number}" in html
    html = client.get(reverse("customers:companies"), {"q": "boulang"}).content.decode()
    assert "Boulangerie Martin" in html
    client.force_login(world.agent)
    client.post(reverse("customers:company_edit", args=[company.pk]), {"name": "Boulangerie Martin SA",
                                                                          "domain": "martin.fr"})
    company.refresh_from_db()
    assert company.domain == "martin.fr"


def test_merging_moves_the_tickets_in_one_audited_step(client, world):
    twin = CustomerFactory(organization=world.org, email="jean.pro@example.com", phone="0102")
    twin_ticket = TicketFactory(organization=world.org, customer=twin)
    budgets.save_budget(actor=SYSTEM, organization=world.org, period="month", day=date.today(), amount="50",
                        customer=twin)
    with pytest.raises(NotPermitted):
        services.merge_customers(actor=acting(world.agent), keep=world.customer, absorb=twin)
    with pytest.raises(InvalidInput):
        services.merge_customers(actor=acting(world.manager), keep=world.customer, absorb=world.customer)
    client.force_login(world.manager)
    response = client.post(reverse("customers:merge", args=[world.customer.pk]), {"email": "JEAN.PRO@example.com"})
    assert response.status_code == 302
    assert not Customer.objects.filter(pk=twin.pk).exists()
    assert Ticket.objects.get(pk=twin_ticket.pk).customer_id == world.customer.pk
    world.customer.refresh_from_db()
    assert world.customer.phone == "0102" and world.customer.budgets.count() == 1
    row = AuditLog.objects.get(action="customer.merged")
    assert row.data["tickets_moved"] == 1 and row.data["absorbed"]["email"] == "jean.pro@example.com"
    response = client.post(reverse("customers:merge", args=[world.customer.pk]), {"email": "nobody@example.com"})
    assert response.status_code == 400
    outsider_customer = Customer.objects.filter(organization=world.other_org).first()
    response = client.post(reverse("customers:merge", args=[world.customer.pk]), {"email": outsider_customer.email})
    assert response.status_code == 400 and Customer.objects.filter(pk=outsider_customer.pk).exists()


def test_a_renamed_customer_s_tickets_are_found_by_the_new_name_and_email(client, world):
    """``crm.services.update_customer`` runs the "customer renamed" hooks: ``tickets`` refreshes the search entries."""
    crm_services.update_customer(actor=acting(world.agent), customer=world.customer,
                                 data={"last_name": "Zoubiri", "email": "claire@nouvelle-adresse.fr"})
    client.force_login(world.agent)
    for q in ("Zoubiri", "nouvelle-adresse"):
        html = client.get(reverse("tickets:list"), {"q": q}).content.decode()
        assert world.ticket.subject in html, q
    assert world.ticket.subject not in client.get(reverse("tickets:list"), {"q": "Dupont"}).content.decode()
    # A change of phone alone leaves the search entries as they are (nothing of it is searched).
    crm_services.update_customer(actor=acting(world.agent), customer=world.customer, data={"phone": "0600"})


def test_a_merge_that_fills_the_name_refreshes_every_ticket_s_search_entry(client, world):
    """The kept customer had no name: the absorbed one's fills it, and the kept customer's own tickets (not
    only the moved ones) are found by that name (``crm.services.customers_renamed``)."""
    nameless = CustomerFactory(organization=world.org, email="sans.nom@example.com", first_name="", last_name="")
    own = TicketFactory(organization=world.org, customer=nameless, subject="Facture en double")
    twin = CustomerFactory(organization=world.org, email="s.nom@example.com", first_name="Sidonie", last_name="Quarré")
    moved = TicketFactory(organization=world.org, customer=twin, subject="Colis abîmé")
    services.merge_customers(actor=acting(world.manager), keep=nameless, absorb=twin)
    client.force_login(world.agent)
    html = client.get(reverse("tickets:list"), {"q": "Sidonie"}).content.decode()
    assert own.subject in html and moved.subject in html
