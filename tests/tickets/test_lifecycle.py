"""The ticket lifecycle (tickets.services): replies, reopening, forbidden moves and the timed rules."""

from datetime import timedelta

import pytest
from django.utils import timezone
from factories import SYSTEM, CustomerFactory, TicketFactory, acting, member

from lumiodesk.exceptions import InvalidInput, NotPermitted, TransitionNotAllowed
from lumiodesk.models import AuditLog, Organization, Role
from tickets import services
from tickets.models import CustomerNotification, Message, MessageKind, Status, Ticket

pytestmark = pytest.mark.django_db


def _set_status(ticket, status, actor, *, ago: timedelta | None = None):
    """Move a ticket to ``status`` through the service, optionally pretending it happened ``ago``."""
    ticket = services.change_status(ticket=ticket, status=status, actor=acting(actor))
    if ago is not None:
        Ticket.objects.filter(pk=ticket.pk).update(status_changed_at=timezone.now() - ago)
    ticket.refresh_from_db()
    return ticket


def _state(ticket):
    """Everything a refused action must leave as it was."""
    ticket.refresh_from_db()
    return (
        ticket.status,
        ticket.priority,
        ticket.status_changed_at,
        ticket.resolved_at,
        ticket.closed_at,
        ticket.first_response_at,
        Message.objects.filter(ticket=ticket).count(),
        CustomerNotification.objects.filter(ticket=ticket).count(),
        AuditLog.objects.filter(target_type="ticket", target_id=ticket.pk).count(),
    )


# --- creation ----------------------------------------------------------------------------------------


def test_create_ticket_starts_new_with_the_customers_message(world):
    ticket = world.ticket
    assert ticket.status == Status.NEW
    assert ticket.number == 1
    assert ticket.first_response_at is None
    message = ticket.messages.get()
    assert message.kind == MessageKind.CUSTOMER
    assert message.author_customer == world.customer
    assert message.body_text == "J'ai reçu deux fois la facture de mars."
    assert not CustomerNotification.objects.filter(ticket=ticket).exists()


def test_ticket_numbers_are_sequential_per_organization(world):
    second = TicketFactory(organization=world.org)
    other_second = TicketFactory(organization=world.other_org)
    assert second.number == 2
    assert other_second.number == 1002


@pytest.mark.parametrize("subject", ["", "   ", None])
def test_empty_subject_is_rejected_and_nothing_is_written(world, subject):
    before = Ticket.objects.count()
    with pytest.raises(InvalidInput):
        services.create_ticket(actor=SYSTEM, organization=world.org, customer=world.customer, subject=subject,
                               body="Bonjour")
    assert Ticket.objects.count() == before
    assert Organization.objects.get(pk=world.org.pk).last_ticket_number == 1


def test_empty_description_is_rejected(world):
    with pytest.raises(InvalidInput):
        services.create_ticket(actor=SYSTEM, organization=world.org, customer=world.customer, subject="Sujet",
                               body="  ")


@pytest.mark.parametrize("field, value", [("priority", "critical"), ("channel", "pigeon")])
def test_unknown_priority_or_channel_is_rejected(world, field, value):
    with pytest.raises(InvalidInput):
        services.create_ticket(organization=world.org, customer=world.customer, subject="S", body="B", actor=SYSTEM,
                               **{field: value})


def test_a_customer_of_another_organization_is_rejected(world):
    with pytest.raises(InvalidInput):
        services.create_ticket(actor=SYSTEM, organization=world.org, customer=world.other_ticket.customer,
                               subject="S", body="B")


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_only_agents_of_the_organization_create_tickets_by_hand(world, who):
    with pytest.raises(NotPermitted):
        services.create_ticket(
            organization=world.org, customer=world.customer, subject="S", body="B", actor=acting(getattr(world, who))
        )


# --- replies -------------------------------------------------------------------------------------------


def test_first_public_reply_opens_a_new_ticket_and_sets_first_response(world):
    message = services.add_message(
        ticket=world.ticket, kind=MessageKind.REPLY, body="Bonjour Claire", actor=acting(world.agent)
    )
    ticket = Ticket.objects.get(pk=world.ticket.pk)
    assert ticket.status == Status.OPEN
    assert ticket.first_response_at == message.created_at
    assert message.author_user == world.agent


def test_second_reply_keeps_the_first_response_time(world):
    first = services.add_message(ticket=world.ticket, kind=MessageKind.REPLY, body="Un", actor=acting(world.agent))
    services.add_message(ticket=world.ticket, kind=MessageKind.REPLY, body="Deux", actor=acting(world.admin))
    assert Ticket.objects.get(pk=world.ticket.pk).first_response_at == first.created_at


def test_internal_note_neither_opens_nor_counts_as_first_response(world):
    services.add_message(ticket=world.ticket, kind=MessageKind.NOTE, body="À vérifier", actor=acting(world.agent))
    ticket = Ticket.objects.get(pk=world.ticket.pk)
    assert ticket.status == Status.NEW
    assert ticket.first_response_at is None


def test_reply_then_status_in_one_step(world):
    services.add_message(
        ticket=world.ticket,
        kind=MessageKind.REPLY,
        body="Pouvez-vous préciser ?",
        actor=acting(world.agent),
        then_status=Status.WAITING_CUSTOMER,
    )
    ticket = Ticket.objects.get(pk=world.ticket.pk)
    assert ticket.status == Status.WAITING_CUSTOMER
    assert ticket.first_response_at is not None


@pytest.mark.parametrize("status", [Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED])
def test_customer_reply_reopens(world, status):
    ticket = _set_status(world.ticket, status, world.agent)
    services.add_message(ticket=ticket, kind=MessageKind.CUSTOMER, body="Ce n'est pas réglé.")
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert ticket.resolved_at is None
    assert ticket.closed_at is None
    assert ticket.last_customer_message_at is not None
    assert AuditLog.objects.filter(
        target_id=ticket.pk, action="ticket.status", data__reason="customer_reply", data__new=Status.OPEN
    ).exists()


@pytest.mark.parametrize("status", [Status.NEW, Status.OPEN, Status.WAITING_INTERNAL])
def test_customer_reply_does_not_move_other_statuses(world, status):
    ticket = world.ticket if status == Status.NEW else _set_status(world.ticket, status, world.agent)
    services.add_message(ticket=ticket, kind=MessageKind.CUSTOMER, body="Des nouvelles ?")
    ticket.refresh_from_db()
    assert ticket.status == status


def test_empty_message_is_rejected(world):
    before = _state(world.ticket)
    with pytest.raises(InvalidInput):
        services.add_message(ticket=world.ticket, kind=MessageKind.REPLY, body=" \n ", actor=acting(world.agent))
    assert _state(world.ticket) == before


def test_unknown_message_kind_is_rejected(world):
    with pytest.raises(InvalidInput):
        services.add_message(ticket=world.ticket, kind="shout", body="Hé", actor=acting(world.agent))


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_viewer_and_outsider_cannot_reply(world, who):
    before = _state(world.ticket)
    with pytest.raises(NotPermitted):
        services.add_message(ticket=world.ticket, kind=MessageKind.REPLY, body="Non", actor=acting(getattr(world, who)))
    assert _state(world.ticket) == before


def test_html_bodies_are_sanitized(world):
    message = services.add_message(
        ticket=world.ticket,
        kind=MessageKind.CUSTOMER,
        body_html='<p onclick="x()">Salut<script>alert(1)</script> <a href="javascript:alert(1)">lien</a></p>',
    )
    assert "script" not in message.body_html
    assert "onclick" not in message.body_html
    assert "javascript:" not in message.body_html
    assert message.body_text.startswith("Salut")


def test_plain_text_bodies_are_escaped(world):
    message = services.add_message(
        ticket=world.ticket, kind=MessageKind.REPLY, body="<b>gras</b>", actor=acting(world.agent)
    )
    assert "&lt;b&gt;" in message.body_html


# --- status changes ----------------------------------------------------------------------------------


FORBIDDEN = [
    (Status.RESOLVED, Status.WAITING_CUSTOMER),
    (Status.RESOLVED, Status.WAITING_INTERNAL),
    (Status.CLOSED, Status.RESOLVED),
    (Status.CLOSED, Status.WAITING_CUSTOMER),
    (Status.OPEN, Status.NEW),
    (Status.CLOSED, Status.NEW),
]


@pytest.mark.parametrize("start, target", FORBIDDEN)
def test_forbidden_transition_raises_and_changes_nothing(world, start, target):
    ticket = _set_status(world.ticket, start, world.agent)
    before = _state(ticket)
    with pytest.raises(TransitionNotAllowed):
        services.change_status(ticket=ticket, status=target, actor=acting(world.agent))
    assert _state(ticket) == before


def test_forbidden_then_status_rolls_the_reply_back(world, queued_emails, django_capture_on_commit_callbacks):
    ticket = _set_status(world.ticket, Status.CLOSED, world.agent)
    before = _state(ticket)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(TransitionNotAllowed):
        services.add_message(
            ticket=ticket, kind=MessageKind.REPLY, body="Réponse", actor=acting(world.agent),
            then_status=Status.RESOLVED,
        )
    assert _state(ticket) == before
    assert queued_emails == []


@pytest.mark.parametrize("status", ["", "archived", "OPEN"])
def test_unknown_status_raises_invalid_input(world, status):
    before = _state(world.ticket)
    with pytest.raises(InvalidInput):
        services.change_status(ticket=world.ticket, status=status, actor=acting(world.agent))
    assert _state(world.ticket) == before


@pytest.mark.parametrize("priority", ["", "critical", "URGENT"])
def test_unknown_priority_raises_invalid_input(world, priority):
    before = _state(world.ticket)
    with pytest.raises(InvalidInput):
        services.set_priority(ticket=world.ticket, priority=priority, actor=acting(world.agent))
    assert _state(world.ticket) == before


def test_urgent_priority_is_flagged(world):
    ticket = services.set_priority(ticket=world.ticket, priority="urgent", actor=acting(world.agent))
    assert ticket.is_urgent is True
    assert Ticket.objects.get(pk=ticket.pk).is_urgent is True
    ticket = services.set_priority(ticket=ticket, priority="low", actor=acting(world.agent))
    assert ticket.is_urgent is False


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_viewer_and_outsider_cannot_change_status_or_priority(world, who):
    before = _state(world.ticket)
    with pytest.raises(NotPermitted):
        services.change_status(ticket=world.ticket, status=Status.OPEN, actor=acting(getattr(world, who)))
    with pytest.raises(NotPermitted):
        services.set_priority(ticket=world.ticket, priority="high", actor=acting(getattr(world, who)))
    assert _state(world.ticket) == before


def test_resolve_and_close_stamp_times_and_reopen_clears_them(world):
    ticket = _set_status(world.ticket, Status.RESOLVED, world.agent)
    assert ticket.resolved_at is not None and ticket.closed_at is None
    ticket = services.change_status(ticket=ticket, status=Status.CLOSED, actor=acting(world.agent))
    assert ticket.closed_at is not None and ticket.resolved_at is not None
    ticket = services.change_status(ticket=ticket, status=Status.OPEN, actor=acting(world.agent))
    assert ticket.resolved_at is None and ticket.closed_at is None


def test_same_status_is_a_no_op(world):
    ticket = _set_status(world.ticket, Status.OPEN, world.agent)
    before = _state(ticket)
    services.change_status(ticket=ticket, status=Status.OPEN, actor=acting(world.agent))
    assert _state(ticket) == before


def test_status_change_is_audited(world):
    services.change_status(ticket=world.ticket, status=Status.WAITING_INTERNAL, actor=acting(world.manager))
    entry = AuditLog.objects.get(target_id=world.ticket.pk, action="ticket.status")
    assert entry.actor == world.manager
    assert entry.organization == world.org
    assert entry.data == {"old": "new", "new": "waiting_internal", "reason": "manual"}


# --- assignment and tags -------------------------------------------------------------------------------


def test_assign_to_a_team_member(world):
    ticket = services.assign(ticket=world.ticket, assignee=world.manager, actor=acting(world.agent))
    assert Ticket.objects.get(pk=ticket.pk).assignee == world.manager
    ticket = services.assign(ticket=ticket, assignee=None, actor=acting(world.agent))
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_cannot_assign_to_a_viewer_or_an_outsider(world, who):
    with pytest.raises(NotPermitted):
        services.assign(ticket=world.ticket, assignee=getattr(world, who), actor=acting(world.agent))
    assert Ticket.objects.get(pk=world.ticket.pk).assignee is None


def test_tags_are_normalized_and_scoped_to_the_organization(world):
    services.set_tags(ticket=world.ticket, names=["Facturation", " facturation ", "VIP  client", ""],
                      actor=acting(world.agent))
    assert sorted(t.name for t in world.ticket.tags.all()) == ["facturation", "vip client"]
    services.set_tags(ticket=world.other_ticket, names=["facturation"], actor=acting(world.outsider))
    assert world.other_ticket.tags.get().organization_id == world.other_org.pk
    services.set_tags(ticket=world.ticket, names=["vip client"], actor=acting(world.agent))
    assert [t.name for t in world.ticket.tags.all()] == ["vip client"]


def test_tag_too_long_is_rejected(world):
    with pytest.raises(InvalidInput):
        services.set_tags(ticket=world.ticket, names=["x" * 51], actor=acting(world.agent))


# --- the timed lifecycle -------------------------------------------------------------------------------


def test_resolved_ticket_closes_after_seven_days(world):
    ticket = _set_status(world.ticket, Status.RESOLVED, world.agent)
    start = ticket.status_changed_at
    assert services.run_lifecycle(now=start + timedelta(days=7) - timedelta(minutes=1))["closed_resolved"] == 0
    assert Ticket.objects.get(pk=ticket.pk).status == Status.RESOLVED
    done = services.run_lifecycle(now=start + timedelta(days=7))
    assert done["closed_resolved"] == 1
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED
    assert ticket.closed_at == start + timedelta(days=7)
    assert AuditLog.objects.filter(target_id=ticket.pk, data__reason="auto_close_resolved").count() == 1
    # Idempotent: a second run (or a second worker) does nothing more.
    assert services.run_lifecycle(now=start + timedelta(days=7)) == {
        "closed_resolved": 0,
        "followups": 0,
        "closed_no_reply": 0,
    }
    assert CustomerNotification.objects.filter(ticket=ticket, kind="closed").count() == 1


def test_auto_close_delay_is_an_organization_setting(world):
    world.org.auto_close_resolved_days = 5  # the CRM module's value
    world.org.save()
    ticket = _set_status(world.ticket, Status.RESOLVED, world.agent)
    services.run_lifecycle(now=ticket.status_changed_at + timedelta(days=5))
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED


def test_customer_reply_before_the_delay_prevents_auto_close(world):
    ticket = _set_status(world.ticket, Status.RESOLVED, world.agent)
    start = ticket.status_changed_at
    services.add_message(ticket=ticket, kind=MessageKind.CUSTOMER, body="Toujours cassé")
    services.run_lifecycle(now=start + timedelta(days=8))
    assert Ticket.objects.get(pk=ticket.pk).status == Status.OPEN


def test_waiting_customer_follow_ups_at_three_and_five_days_then_closes_at_seven(world):
    ticket = _set_status(world.ticket, Status.WAITING_CUSTOMER, world.agent)
    start = ticket.status_changed_at
    replies = Message.objects.filter(ticket=ticket, kind=MessageKind.REPLY)

    def run(days, hours=0):
        first = services.run_lifecycle(now=start + timedelta(days=days, hours=hours))
        again = services.run_lifecycle(now=start + timedelta(days=days, hours=hours))
        assert again == {"closed_resolved": 0, "followups": 0, "closed_no_reply": 0}, "not idempotent"
        ticket.refresh_from_db()
        return first

    assert run(2, 23)["followups"] == 0
    assert replies.count() == 0

    assert run(3)["followups"] == 1
    assert ticket.status == Status.WAITING_CUSTOMER
    assert ticket.followups_sent == 1
    assert replies.count() == 1
    assert "depuis 3 jours" in replies.get().body_text
    assert "Facture en double" in replies.get().body_text

    assert run(4)["followups"] == 0
    assert run(5)["followups"] == 1
    assert ticket.followups_sent == 2
    assert replies.count() == 2
    assert "depuis 5 jours" in replies.order_by("-created_at").first().body_text

    assert run(6, 23)["closed_no_reply"] == 0
    done = run(7)
    assert done["closed_no_reply"] == 1
    assert ticket.status == Status.CLOSED
    last = replies.order_by("-created_at").first()
    assert "fermé faute de réponse" in last.body_text
    assert last.body_text.startswith("Bonjour Claire")
    assert replies.count() == 3
    kinds = list(
        CustomerNotification.objects.filter(ticket=ticket).order_by("created_at", "id").values_list("kind", flat=True)
    )
    assert kinds == ["waiting_customer", "waiting_customer", "waiting_customer", "closed"]


def test_lifecycle_that_missed_a_day_catches_up_one_step_at_a_time(world):
    ticket = _set_status(world.ticket, Status.WAITING_CUSTOMER, world.agent)
    start = ticket.status_changed_at
    assert services.run_lifecycle(now=start + timedelta(days=6))["followups"] == 1
    assert services.run_lifecycle(now=start + timedelta(days=6))["followups"] == 1
    assert services.run_lifecycle(now=start + timedelta(days=6))["followups"] == 0
    ticket.refresh_from_db()
    assert ticket.followups_sent == 2
    assert ticket.status == Status.WAITING_CUSTOMER


def test_customer_reply_stops_the_follow_ups_and_a_new_wait_starts_over(world):
    ticket = _set_status(world.ticket, Status.WAITING_CUSTOMER, world.agent)
    start = ticket.status_changed_at
    services.run_lifecycle(now=start + timedelta(days=3))
    services.add_message(ticket=ticket, kind=MessageKind.CUSTOMER, body="Voici la réponse")
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert services.run_lifecycle(now=start + timedelta(days=8))["closed_no_reply"] == 0
    ticket = services.change_status(ticket=ticket, status=Status.WAITING_CUSTOMER, actor=acting(world.agent))
    ticket.refresh_from_db()
    assert ticket.followups_sent == 0


def test_lifecycle_ignores_imported_tickets_and_other_statuses(world):
    imported = TicketFactory(organization=world.org, imported=True)
    _set_status(imported, Status.RESOLVED, world.agent, ago=timedelta(days=30))
    _set_status(world.ticket, Status.OPEN, world.agent, ago=timedelta(days=30))
    assert services.run_lifecycle(now=timezone.now()) == {"closed_resolved": 0, "followups": 0, "closed_no_reply": 0}
    assert Ticket.objects.get(pk=imported.pk).status == Status.RESOLVED


def test_lifecycle_uses_each_organizations_own_delays(world):
    world.other_org.first_followup_days = 1
    world.other_org.second_followup_days = 2
    world.other_org.close_waiting_days = 3
    world.other_org.save()
    mine = _set_status(world.ticket, Status.WAITING_CUSTOMER, world.agent, ago=timedelta(days=3, hours=1))
    theirs = _set_status(world.other_ticket, Status.WAITING_CUSTOMER, world.outsider, ago=timedelta(days=3, hours=1))
    done = services.run_lifecycle()
    assert done == {"closed_resolved": 0, "followups": 1, "closed_no_reply": 1}
    assert Ticket.objects.get(pk=mine.pk).status == Status.WAITING_CUSTOMER
    assert Ticket.objects.get(pk=theirs.pk).status == Status.CLOSED


def test_followup_text_uses_the_email_when_the_customer_has_no_first_name(world):
    customer = CustomerFactory(organization=world.org, first_name="", last_name="", email="anon@example.com")
    ticket = TicketFactory(organization=world.org, customer=customer)
    ticket = _set_status(ticket, Status.WAITING_CUSTOMER, world.agent)
    services.run_lifecycle(now=ticket.status_changed_at + timedelta(days=3))
    assert (
        Message.objects.filter(ticket=ticket, kind=MessageKind.REPLY)
        .get()
        .body_text.startswith("Bonjour anon@example.com")
    )


def test_inactive_member_cannot_work_tickets(world):
    user = member(world.org, Role.AGENT)
    user.memberships.update(is_active=False)
    with pytest.raises(NotPermitted):
        services.change_status(ticket=world.ticket, status=Status.OPEN, actor=acting(user))


def test_a_stale_organization_save_does_not_reuse_ticket_numbers(world):
    stale = Organization.objects.get(pk=world.org.pk)
    TicketFactory(organization=world.org)  # #2
    stale.language = "en"
    stale.save()  # writes back last_ticket_number = 1
    assert TicketFactory(organization=world.org).number == 3
