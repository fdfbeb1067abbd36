"""Query counts on the hot paths: the same number of queries for 10 and for 100 rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import CompanyFactory, CustomerFactory, acting, bulk_messages, bulk_tickets, member, upload
from helpers import htmx

from lumiodesk.models import Role
from tickets import selectors, services
from tickets.models import MessageKind, Tag, Ticket, TicketTag

pytestmark = pytest.mark.django_db


def count_queries(fn) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


def assert_same_count(small: tuple[int, list[str]], large: tuple[int, list[str]], what: str) -> None:
    if small[0] != large[0]:
        listing = "\n".join(f"  {i + 1}. {sql}" for i, sql in enumerate(large[1]))
        small_listing = "\n".join(f"  {i + 1}. {sql}" for i, sql in enumerate(small[1]))
        pytest.fail(
            f"{what}: {small[0]} queries for 10 rows, {large[0]} for 100.\n"
            f"With 10:\n{small_listing}\nWith 100:\n{listing}"
        )


def make_org_with_tickets(n: int):
    """An organization with ``n`` tickets spread over customers, companies, assignees and tags."""
    from factories import OrganizationFactory

    org = OrganizationFactory()
    agent = member(org, Role.AGENT)
    other_agent = member(org, Role.MANAGER)
    companies = [CompanyFactory(organization=org) for _ in range(2)]
    customers = [CustomerFactory(organization=org, company=companies[i % 2] if i else None) for i in range(3)]
    tickets = []
    for i, customer in enumerate(customers):
        share = n // 3 + (1 if i < n % 3 else 0)
        tickets += bulk_tickets(org, share, customer=customer)
    tags = Tag.objects.bulk_create([Tag(organization=org, name=f"tag{i}") for i in range(3)])
    TicketTag.objects.bulk_create(
        [TicketTag(organization=org, ticket=t, tag=tags[i % 3]) for i, t in enumerate(tickets)]
    )
    for i, t in enumerate(tickets):
        if i % 2:
            t.assignee = agent if i % 4 == 1 else other_agent
    Ticket.objects.bulk_update(tickets, ["assignee"])
    Ticket.objects.filter(pk__in=[t.pk for t in tickets[::7]]).update(priority="urgent")
    return org, agent


@pytest.mark.parametrize("params", [{}, {"status": "new"}, {"q": "masse"}, {"assignee": "me"}, {"sort": "priority"}])
def test_ticket_list_selector(params):
    def run(n):
        org, agent = make_org_with_tickets(n)
        filters = selectors.TicketFilters.from_params(params)

        def read():
            counts = selectors.counters(org)
            selectors.count_for(filters, counts)
            for t in list(selectors.ticket_list(org, filters, user=agent)[:25]):
                _ = (
                    t.customer.display_name,
                    t.customer.company and t.customer.company.name,
                    t.assignee and t.assignee.email,
                    [x.name for x in t.tags.all()],
                )
            selectors.team(org)
            selectors.tags_of(org)
            selectors.saved_views(org)

        return count_queries(read)

    assert_same_count(run(10), run(100), f"ticket list {params}")


@pytest.mark.parametrize(
    "headers, params", [({}, {}), (htmx("ticket-list"), {"q": "masse"}), ({}, {"status": "new", "page": "2"})]
)
def test_ticket_list_page(client, headers, params):
    def run(n):
        org, agent = make_org_with_tickets(n)
        client.force_login(agent)
        client.get(reverse("tickets:list"))  # warm the session and any one-off lookups
        return count_queries(lambda: client.get(reverse("tickets:list"), params, **headers))

    assert_same_count(run(10), run(100), f"GET /tickets/ {params}")


def make_ticket_with_messages(n: int, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    org, agent = make_org_with_tickets(3)
    ticket = Ticket.objects.filter(organization=org).order_by("number").first()
    bulk_messages(ticket, n, author=agent)
    services.add_message(
        ticket=ticket, kind=MessageKind.CUSTOMER, body="Avec fichiers", attachments=[upload("a.txt"), upload("b.txt")]
    )
    for status in ("open", "waiting_internal", "open"):
        services.change_status(ticket=ticket, status=status, actor=acting(agent))
    services.set_tags(ticket=ticket, names=["x", "y"], actor=acting(agent))
    services.assign(ticket=ticket, assignee=agent, actor=acting(agent))
    return org, agent, ticket


def test_ticket_page_selector(settings, tmp_path):
    def run(n):
        _org, _agent, ticket = make_ticket_with_messages(n, settings, tmp_path)

        def read():
            t = selectors.get_ticket(ticket.organization, ticket.number)
            page = selectors.ticket_page(t)
            for entry in page["timeline"]:
                if entry.message:
                    m = entry.message
                    _ = (
                        m.author_user and m.author_user.email,
                        m.author_customer and m.author_customer.email,
                        [a.filename for a in m.attachments.all()],
                    )
                else:
                    _ = entry.event.actor and entry.event.actor.email

        return count_queries(read)

    assert_same_count(run(10), run(100), "ticket page selector")


@pytest.mark.parametrize("headers", [{}, htmx()])
def test_ticket_page(client, settings, tmp_path, headers):
    def run(n):
        _org, agent, ticket = make_ticket_with_messages(n, settings, tmp_path)
        client.force_login(agent)
        url = reverse("tickets:detail", args=[ticket.number])
        client.get(url)
        response_holder = {}

        def get():
            response_holder["r"] = client.get(url, **headers)

        result = count_queries(get)
        assert response_holder["r"].status_code == 200
        assert response_holder["r"].content.decode().count('class="msg ') == n + 2
        return result

    assert_same_count(run(10), run(100), "GET /tickets/<n>/")


def test_htmx_status_change(client, settings, tmp_path):
    def run(n):
        _org, agent, ticket = make_ticket_with_messages(n, settings, tmp_path)
        client.force_login(agent)
        client.get(reverse("tickets:list"))
        url = reverse("tickets:status", args=[ticket.number])
        return count_queries(lambda: client.post(url, {"status": "resolved"}, **htmx()))

    assert_same_count(run(10), run(100), "POST status (HTMX)")


def test_add_message_service(settings, tmp_path):
    def run(n):
        _org, agent, ticket = make_ticket_with_messages(n, settings, tmp_path)
        return count_queries(
            lambda: services.add_message(ticket=ticket, kind=MessageKind.REPLY, body="Réponse", actor=acting(agent))
        )

    assert_same_count(run(10), run(100), "add_message")
