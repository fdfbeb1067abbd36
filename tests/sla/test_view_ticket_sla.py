"""The SLA in the console: the list's column, its sort and filters; the due times on the ticket page."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from factories import SYSTEM, TicketFactory, acting, bulk_tickets
from helpers import assert_partial, htmx

from sla.selectors import list_status
from tickets import selectors, services
from tickets.models import MessageKind, Status, Ticket

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
LIST = reverse("tickets:list")


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


@pytest.fixture
def board(clock, world):
    """At Monday 10 March 2025, 15:00: an overdue urgent, a high one due soon, a normal one with time left,
    one waiting on the customer (paused) and one resolved in time."""
    org = world.org
    Ticket.objects.filter(pk=world.ticket.pk).delete()
    clock.set(paris(2025, 3, 10, 9, 30))
    overdue = TicketFactory(organization=org, priority="urgent", subject="En retard")  # due 10:00
    clock.set(paris(2025, 3, 10, 13, 30))
    soon = TicketFactory(organization=org, priority="high", subject="Bientôt")  # due 15:30, warned from 14:30
    clock.set(paris(2025, 3, 10, 14, 0))
    later = TicketFactory(organization=org, priority="normal", subject="Plus tard")  # due Tuesday 13:00
    paused = TicketFactory(organization=org, priority="normal", subject="En pause")
    services.add_message(ticket=paused, kind=MessageKind.REPLY, body="?", actor=acting(world.agent),
                         then_status=Status.WAITING_CUSTOMER)
    done = TicketFactory(organization=org, priority="high", subject="Fini")
    services.add_message(ticket=done, kind=MessageKind.REPLY, body="Voilà", actor=acting(world.agent),
                         then_status=Status.RESOLVED)
    clock.set(paris(2025, 3, 10, 15, 0))
    world.board = {t.subject: Ticket.objects.get(pk=t.pk) for t in (overdue, soon, later, paused, done)}
    return world


def test_the_list_shows_the_time_left_in_business_time(client, board):
    client.force_login(board.agent)
    response = client.get(LIST)
    html = response.content.decode()
    statuses = {t.subject: t.sla_status for t in response.context["tickets"]}
    assert (statuses["En retard"].state, statuses["En retard"].label) == ("overdue", "en retard de 5 h")
    assert (statuses["Bientôt"].state, statuses["Bientôt"].label) == ("soon", "30 min")
    assert (statuses["Plus tard"].state, statuses["Plus tard"].label) == ("running", "7 h")
    assert statuses["Plus tard"].metric_label == "1re réponse"
    assert (statuses["En pause"].state, statuses["En pause"].label) == ("paused", "en pause (reste 27 h)")
    assert (statuses["Fini"].state, statuses["Fini"].label) == ("met", "respecté")
    assert "sla sla-overdue" in html
    assert "Échéance : 10/03/2025 10:00 (temps ouvré)" in html  # in the organization's time zone


def test_sort_by_due_time_keeps_urgent_first(client, board):
    client.force_login(board.agent)
    subjects = [t.subject for t in client.get(LIST, {"sort": "due"}).context["tickets"]]
    assert subjects[:3] == ["En retard", "Bientôt", "Plus tard"]
    assert set(subjects[3:]) >= {"En pause", "Fini"}  # no clock running: last


def test_filters_overdue_and_due_soon(client, board):
    client.force_login(board.agent)
    overdue = [t.subject for t in client.get(LIST, {"sla": "overdue"}).context["tickets"]]
    assert overdue == ["En retard"]
    soon = [t.subject for t in client.get(LIST, {"sla": "due_soon"}).context["tickets"]]
    assert soon == ["Bientôt"]
    response = client.get(LIST, {"sla": "due_soon", "sort": "due"}, **htmx("ticket-list"))
    html = assert_partial(response)
    assert "Bientôt" in html and "Plus tard" not in html
    response = client.get(LIST, {"sla": "whenever"})
    assert "Filtre inconnu ignoré : whenever" in response.content.decode()


def test_the_filter_is_kept_in_a_shared_view(client, board):
    client.force_login(board.manager)
    client.post(reverse("tickets:view_create"), {"name": "Hors délai", "sla": "overdue", "sort": "due"})
    from tickets.models import SavedView

    assert SavedView.objects.get(name="Hors délai").filters == {"sla": "overdue", "sort": "due"}


def test_the_ticket_page_shows_both_due_times(client, board):
    client.force_login(board.viewer)
    ticket = board.board["Bientôt"]
    response = client.get(reverse("tickets:detail", args=[ticket.number]))
    clocks = response.context["sla"]["clocks"]
    assert [(c.metric_label, c.status.label) for c in clocks] == [("Première réponse", "30 min"),
                                                                    ("Résolution", "7 h 30")]
    html = response.content.decode()
    assert "échéance 10/03/2025 15:30" in html
    assert "échéance 11/03/2025 13:30" in html


def test_the_ticket_page_after_htmx_changes_shows_the_new_due_times(client, board):
    client.force_login(board.agent)
    ticket = board.board["Plus tard"]
    response = client.post(reverse("tickets:priority", args=[ticket.number]), {"priority": "urgent"}, **htmx())
    html = assert_partial(response)
    assert "en retard de" in html  # urgent: due at 14:30, it is 15:00


def test_met_and_late_on_the_ticket_page(client, board, clock):
    client.force_login(board.agent)
    done = board.board["Fini"]
    clocks = client.get(reverse("tickets:detail", args=[done.number])).context["sla"]["clocks"]
    assert [c.status.state for c in clocks] == ["met", "met"]
    overdue = board.board["En retard"]
    services.add_message(ticket=overdue, kind=MessageKind.REPLY, body="Désolé", actor=acting(board.agent))
    clocks = client.get(reverse("tickets:detail", args=[overdue.number])).context["sla"]["clocks"]
    assert [c.status.state for c in clocks] == ["late", "overdue"]


def test_an_imported_ticket_has_no_sla(client, world):
    ticket = services.create_ticket(actor=SYSTEM, organization=world.org, customer=world.customer, subject="Import",
                                    body="x",
                                    imported=True)
    client.force_login(world.agent)
    response = client.get(reverse("tickets:detail", args=[ticket.number]))
    assert response.context["sla"]["clocks"] == []
    assert "Ticket importé : pas de SLA." in response.content.decode()
    assert list_status(ticket, None, ticket.created_at).label == "—"


@pytest.mark.parametrize("params", [{"sort": "due"}, {"sla": "overdue"}, {"sla": "due_soon", "sort": "due"}])
def test_the_list_with_sla_costs_the_same_for_10_and_100_tickets(client, clock, params):
    from factories import OrganizationFactory, member

    from lumiodesk.models import Role

    def run(n):
        org = OrganizationFactory()
        agent = member(org, Role.AGENT)
        tickets = bulk_tickets(org, n, priority="urgent")
        due = clock.now + timedelta(hours=1 if params.get("sla") == "due_soon" else -1)
        Ticket.objects.filter(pk__in=[t.pk for t in tickets]).update(
            first_response_due_at=due, resolution_due_at=clock.now + timedelta(hours=3),
            sla_due_at=due, sla_warn_at=due - timedelta(hours=2),
        )
        client.force_login(agent)
        client.get(LIST)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(LIST, params)
        assert len(response.context["tickets"]) == min(n, 25)
        return len(ctx.captured_queries)

    assert run(10) == run(100)


def test_the_overdue_filter_uses_the_due_index(world, clock):
    filters = selectors.TicketFilters.from_params({"sla": "overdue", "sort": "due"})
    sql = str(selectors.ticket_list(world.org, filters, user=world.agent).query)
    assert '"sla_due_at" <' in sql
    assert "ORDER BY" in sql and "sla_due_at" in sql.split("ORDER BY")[1]


def test_in_english(client, board, settings):
    client.force_login(board.agent)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.get(LIST)
    html = response.content.decode()
    assert "Sort by SLA due time" in html
    assert "overdue by 5 h" in html
    assert "Due: 10/03/2025 10:00 (business time)" in html
