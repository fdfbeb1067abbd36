"""The ticket list: search (subject, message text, customer email and name), filters, order, counters."""

from datetime import timedelta

import pytest
from factories import CustomerFactory, TicketFactory, acting

from tickets import selectors, services
from tickets.models import MessageKind, Status
from tickets.selectors import TicketFilters

pytestmark = pytest.mark.django_db


def found(world, user=None, **params):
    filters = TicketFilters.from_params(params)
    return [t.number for t in selectors.ticket_list(world.org, filters, user=user or world.agent)]


@pytest.fixture
def tickets(world):
    """#1 (world): 'Facture en double' from Claire Dupont; #2 and #3 below."""
    bob = CustomerFactory(organization=world.org, first_name="Bob", last_name="Lefèvre", email="bob@boulangerie.fr")
    printer = TicketFactory(
        organization=world.org, customer=bob, subject="Imprimante hors service", body="Elle affiche une erreur E42."
    )
    login = TicketFactory(
        organization=world.org, customer=bob, subject="Connexion impossible", body="Mot de passe refusé."
    )
    return printer, login


@pytest.mark.parametrize(
    "q, expected",
    [
        ("facture", [1]),
        ("Factures", [1]),  # stemmed
        ("fact", [1]),  # prefix, as typed
        ("FACTURE double", [1]),  # every word required
        ("facture imprimante", []),
        ("imprimante", [2]),
        ("E42", [2]),  # message text
        ("refusé", [3]),
        ("refuse", [3]),  # accents ignored
        ("claire.dupont@example.com", [1]),  # full email
        ("dupont", [1]),  # name
        ("Claire Dupont", [1]),
        ("boulangerie", [3, 2]),  # email domain
        ("Lefevre", [3, 2]),
        ("bob", [3, 2]),
        ("#2", [2]),  # ticket number
        ("globex", []),  # another organization's ticket is never found
        ("secret", []),
        ("'; drop table tickets_ticket; --", []),
        ("!!!", []),
    ],
)
def test_search(world, tickets, q, expected):
    assert found(world, q=q) == expected


def test_search_finds_text_added_in_a_later_message(world, tickets):
    assert found(world, q="bourrage") == []
    services.add_message(ticket=tickets[0], kind=MessageKind.CUSTOMER, body="Maintenant il y a un bourrage papier.")
    assert found(world, q="bourrage") == [2]


def test_search_includes_internal_notes_for_agents(world, tickets):
    services.add_message(
        ticket=world.ticket, kind=MessageKind.NOTE, body="Remboursement validé par la compta", actor=acting(world.agent)
    )
    assert found(world, q="remboursement") == [1]


def test_the_other_organization_searches_its_own_tickets(world, tickets):
    filters = TicketFilters.from_params({"q": "facture"})
    assert list(selectors.ticket_list(world.other_org, filters, user=world.outsider)) == []
    filters = TicketFilters.from_params({"q": "globex"})
    assert [t.pk for t in selectors.ticket_list(world.other_org, filters, user=world.outsider)] == [
        world.other_ticket.pk
    ]


def test_urgent_tickets_come_first_whatever_the_sort(world, tickets):
    printer, login = tickets
    services.set_priority(ticket=printer, priority="urgent", actor=acting(world.agent))
    services.set_priority(ticket=world.ticket, priority="high", actor=acting(world.agent))
    assert found(world) == [2, 3, 1]
    assert found(world, sort="created") == [2, 1, 3]
    assert found(world, sort="-updated")[0] == 2
    assert found(world, sort="priority") == [2, 1, 3]
    assert found(world, sort="nonsense") == [2, 3, 1]


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"status": "new"}, [2, 1]),
        ({"status": "open"}, [3]),
        ({"status": "in_progress"}, [3]),
        ({"priority": "low"}, [2]),
        ({"assignee": "me"}, [3]),
        ({"assignee": "none"}, [2, 1]),
        ({"tag": "VIP"}, [1]),
        ({"status": "bogus"}, [3, 2, 1]),  # ignored, reported
        ({"priority": "bogus"}, [3, 2, 1]),
        ({"assignee": "bogus"}, [3, 2, 1]),
    ],
)
def test_filters(world, tickets, params, expected):
    printer, login = tickets
    services.change_status(ticket=login, status=Status.OPEN, actor=acting(world.agent))
    services.assign(ticket=login, assignee=world.agent, actor=acting(world.agent))
    services.set_priority(ticket=printer, priority="low", actor=acting(world.agent))
    services.set_tags(ticket=world.ticket, names=["vip"], actor=acting(world.agent))
    assert found(world, **params) == expected


@pytest.mark.parametrize("small_tag", [1000, 1], ids=["read-by-ids", "walked-in-order"])
def test_tag_filter_reads_small_and_large_tags_alike(world, tickets, monkeypatch, small_tag):
    """A tag up to SMALL_TAG tickets is read by ids, a larger one while walking the list: same answer,
    with other filters, and the same count."""
    printer, login = tickets
    monkeypatch.setattr(selectors, "SMALL_TAG", small_tag)
    services.set_tags(ticket=world.ticket, names=["vip"], actor=acting(world.agent))
    services.set_tags(ticket=login, names=["vip", "sso"], actor=acting(world.agent))
    services.change_status(ticket=login, status=Status.OPEN, actor=acting(world.agent))
    assert found(world, tag="vip") == [3, 1]
    assert found(world, tag="VIP", status="open") == [3]
    assert found(world, tag="sso", sort="created") == [3]
    filters = TicketFilters.from_params({"tag": "vip"})
    assert selectors.count_matches(world.org, filters, user=world.agent, cap=1000) == 2
    assert found(world, tag="unknown") == []
    assert selectors.ticket_list(world.other_org, filters, user=world.outsider).count() == 0


def test_filter_by_customer_and_assignee_id(world, tickets):
    printer, login = tickets
    services.assign(ticket=printer, assignee=world.manager, actor=acting(world.agent))
    assert found(world, customer=str(printer.customer_id)) == [3, 2]
    assert found(world, assignee=str(world.manager.pk)) == [2]
    assert found(world, customer="x") == [3, 2, 1]


def test_unknown_filters_are_reported():
    filters = TicketFilters.from_params({"status": "bogus", "priority": "meh", "sort": "x", "q": "a" * 500})
    assert filters.errors == ["bogus", "meh"]
    assert (filters.status, filters.priority, filters.sort) == ("", "", "-created")
    assert len(filters.q) == 200
    assert filters.as_dict() == {"q": "a" * 200}


def test_counters_are_scoped_to_the_organization(world, tickets):
    printer, login = tickets
    services.change_status(ticket=login, status=Status.WAITING_INTERNAL, actor=acting(world.agent))
    services.change_status(ticket=printer, status=Status.RESOLVED, actor=acting(world.agent))
    counts = selectors.counters(world.org)
    assert counts == {
        "total": 3,
        "new": 1,
        "open": 0,
        "waiting_internal": 1,
        "waiting_customer": 0,
        "resolved": 1,
        "closed": 0,
        "in_progress": 1,
        "resolved_today": 1,
    }
    assert selectors.counters(world.other_org)["total"] == 1
    assert selectors.count_for(TicketFilters.from_params({"status": "resolved"}), counts) == 1
    assert selectors.count_for(TicketFilters.from_params({"q": "x"}), counts) is None


def test_get_ticket_never_crosses_organizations(world):
    assert selectors.get_ticket(world.org, world.other_ticket.number) is None
    assert selectors.get_ticket(world.other_org, world.ticket.number) is None
    assert selectors.get_ticket(world.org, world.ticket.number) == world.ticket


def test_tickets_created_this_month(world):
    TicketFactory(organization=world.org, created_at=world.ticket.created_at - timedelta(days=40))
    assert selectors.tickets_created_this_month(world.org) == 1


@pytest.mark.parametrize(
    "q",
    [
        "@",
        "a@",
        "+",
        "l'imprimante",
        "'",
        "\\",
        "(",
        "ticket#2",
        "C++",
        "%",
        "_",
        "a:*",
        "#",
        "#abc",
        "12345678901",
        "日本",
        "a\x00b",
        "x" * 300,
    ],
)
def test_odd_queries_never_fail(world, q):
    assert isinstance(found(world, q=q), list)
