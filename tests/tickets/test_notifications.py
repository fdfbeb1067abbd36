"""Customer notifications (support guide 002): which events, which channel, and the email task."""

from datetime import timedelta

import pytest
from django.core import mail
from factories import CustomerFactory, TicketFactory, acting

from tickets import services
from tickets.models import CustomerNotification, MessageKind, NotificationKind, Status
from tickets.notifications import title_and_body
from tickets.tasks import send_customer_notification_email

pytestmark = pytest.mark.django_db


def _notifications(ticket):
    return list(CustomerNotification.objects.filter(ticket=ticket).order_by("created_at", "id"))


def test_agent_reply_notifies_the_customer_after_commit(world, queued_emails, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = services.add_message(
            ticket=world.ticket, kind=MessageKind.REPLY, body="Nous regardons.", actor=acting(world.agent)
        )
        assert queued_emails == [], "the email must not be queued before the transaction commits"
    [notification] = _notifications(world.ticket)
    assert len(callbacks) == 1
    assert queued_emails == [notification.pk]
    assert notification.kind == NotificationKind.AGENT_REPLY
    assert notification.message == message
    assert notification.customer == world.customer
    assert notification.organization_id == world.org.pk
    assert notification.title == "Ticket de support : Nouvelle réponse"
    assert notification.body == "Vous avez reçu une réponse à votre ticket 'Facture en double'."
    assert (notification.web, notification.email) == (True, True)  # default preference: both


def test_new_to_open_is_never_notified(world, queued_emails, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket=world.ticket, status=Status.OPEN, actor=acting(world.agent))
    assert _notifications(world.ticket) == []
    assert queued_emails == []


def test_internal_note_is_never_notified(world, queued_emails, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(
            ticket=world.ticket, kind=MessageKind.NOTE, body="Client difficile", actor=acting(world.agent)
        )
    assert _notifications(world.ticket) == []
    assert queued_emails == []


def test_customer_message_is_not_notified_to_the_customer(world, queued_emails, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(ticket=world.ticket, kind=MessageKind.CUSTOMER, body="Une précision")
    assert _notifications(world.ticket) == []


@pytest.mark.parametrize(
    "status, kind, level, title, body",
    [
        (
            Status.WAITING_CUSTOMER,
            "waiting_customer",
            "warning",
            "Ticket de support : En attente de votre réponse",
            "Votre ticket 'Facture en double' est maintenant en attente de votre réponse.",
        ),
        (
            Status.RESOLVED,
            "resolved",
            "success",
            "Ticket de support : Résolu",
            "Votre ticket 'Facture en double' est maintenant résolu.",
        ),
        (
            Status.CLOSED,
            "closed",
            "info",
            "Ticket de support : Fermé",
            "Votre ticket 'Facture en double' est maintenant fermé.",
        ),
    ],
)
def test_status_notifications_use_the_support_guide_wording(
    world, queued_emails, django_capture_on_commit_callbacks, status, kind, level, title, body
):
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket=world.ticket, status=status, actor=acting(world.agent))
    [notification] = _notifications(world.ticket)
    assert (notification.kind, notification.level, notification.title, notification.body) == (kind, level, title, body)
    assert notification.message is None
    assert queued_emails == [notification.pk]


@pytest.mark.parametrize("status", [Status.OPEN, Status.WAITING_INTERNAL])
def test_internal_statuses_are_not_notified(world, status):
    services.change_status(ticket=world.ticket, status=status, actor=acting(world.agent))
    assert _notifications(world.ticket) == []


@pytest.mark.parametrize(
    "preference, web, email",
    [("web_only", True, False), ("email_only", False, True), ("both", True, True)],
)
def test_notification_follows_the_customers_preference(
    world, queued_emails, django_capture_on_commit_callbacks, preference, web, email
):
    customer = CustomerFactory(organization=world.org, notification_preference=preference)
    ticket = TicketFactory(organization=world.org, customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket=ticket, status=Status.RESOLVED, actor=acting(world.agent))
    [notification] = _notifications(ticket)
    assert (notification.web, notification.email) == (web, email)
    assert queued_emails == ([notification.pk] if email else [])


def test_preference_none_records_nothing(world, queued_emails, django_capture_on_commit_callbacks):
    customer = CustomerFactory(organization=world.org, notification_preference="none")
    ticket = TicketFactory(organization=world.org, customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(
            ticket=ticket, kind=MessageKind.REPLY, body="Bonjour", actor=acting(world.agent),
            then_status=Status.RESOLVED,
        )
    assert _notifications(ticket) == []
    assert queued_emails == []


def test_imported_tickets_notify_nobody(world, queued_emails, django_capture_on_commit_callbacks):
    ticket = TicketFactory(organization=world.org, customer=world.customer, imported=True)
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(
            ticket=ticket,
            kind=MessageKind.REPLY,
            body="Historique",
            actor=acting(world.agent),
            then_status=Status.RESOLVED,
        )
    assert _notifications(ticket) == []
    assert queued_emails == []


def test_reply_and_resolve_is_one_email_and_two_web_notifications(
    world, queued_emails, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(
            ticket=world.ticket,
            kind=MessageKind.REPLY,
            body="C'est corrigé.",
            actor=acting(world.agent),
            then_status=Status.RESOLVED,
        )
    reply_n, resolved_n = _notifications(world.ticket)
    assert (reply_n.kind, reply_n.web, reply_n.email) == ("agent_reply", True, True)
    assert (resolved_n.kind, resolved_n.web, resolved_n.email) == ("resolved", True, False)
    assert queued_emails == [reply_n.pk]
    send_customer_notification_email(reply_n.pk)
    [email] = mail.outbox
    assert "C'est corrigé." in email.body
    assert "Résolu" in email.body  # the reply's email shows the new status


def test_note_then_status_still_emails_the_status(world, queued_emails, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(
            ticket=world.ticket,
            kind=MessageKind.NOTE,
            body="On attend le client",
            actor=acting(world.agent),
            then_status=Status.WAITING_CUSTOMER,
        )
    [notification] = _notifications(world.ticket)
    assert (notification.kind, notification.email, notification.message) == ("waiting_customer", True, None)
    assert queued_emails == [notification.pk]


def test_email_only_customer_gets_one_notification_for_reply_and_resolve(
    world, queued_emails, django_capture_on_commit_callbacks
):
    customer = CustomerFactory(organization=world.org, notification_preference="email_only")
    ticket = TicketFactory(organization=world.org, customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(
            ticket=ticket, kind=MessageKind.REPLY, body="Réglé", actor=acting(world.agent), then_status=Status.RESOLVED
        )
    [notification] = _notifications(ticket)
    assert notification.kind == "agent_reply"
    assert queued_emails == [notification.pk]


def test_a_refused_action_queues_no_email(world, queued_emails, django_capture_on_commit_callbacks):
    services.change_status(ticket=world.ticket, status=Status.CLOSED, actor=acting(world.agent))
    queued_emails.clear()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Exception):  # noqa: B017
        services.add_message(
            ticket=world.ticket,
            kind=MessageKind.REPLY,
            body="x",
            actor=acting(world.agent),
            then_status="waiting_customer",
        )
    assert queued_emails == []
    assert [n.kind for n in _notifications(world.ticket)] == ["closed"]


# --- the email task --------------------------------------------------------------------------------------


def test_email_task_sends_once_and_marks_the_notification(world):
    services.add_message(
        ticket=world.ticket, kind=MessageKind.REPLY, body="Voici la marche à suivre.", actor=acting(world.agent)
    )
    services.change_status(ticket=world.ticket, status=Status.RESOLVED, actor=acting(world.agent))
    reply_n, resolved_n = _notifications(world.ticket)

    assert send_customer_notification_email(resolved_n.pk) is True
    [email] = mail.outbox
    assert email.subject == "Ticket de support : Résolu [#1]"
    assert email.to == ["claire.dupont@example.com"]
    assert "Bonjour Claire," in email.body
    assert "Votre ticket 'Facture en double' est maintenant résolu." in email.body
    assert email.extra_headers["Auto-Submitted"] == "auto-generated"
    assert email.extra_headers["Message-ID"].startswith(f"<ticket-{world.org.pk}-1-n{resolved_n.pk}@")
    assert email.extra_headers["X-LumioDesk-Ticket"] == "1"
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    assert "Ticket de support : Résolu" in html
    resolved_n.refresh_from_db()
    assert resolved_n.emailed_at is not None

    # Safe to run twice: the second run sends nothing.
    assert send_customer_notification_email(resolved_n.pk) is False
    assert len(mail.outbox) == 1

    assert send_customer_notification_email(reply_n.pk) is True
    assert mail.outbox[1].subject == "Re: Facture en double [#1]"
    assert "Voici la marche à suivre." in mail.outbox[1].body
    assert mail.outbox[1].extra_headers["Auto-Submitted"] == "no"


def test_email_task_skips_web_only_and_unknown_notifications(world):
    customer = CustomerFactory(organization=world.org, notification_preference="web_only")
    ticket = TicketFactory(organization=world.org, customer=customer)
    services.change_status(ticket=ticket, status=Status.RESOLVED, actor=acting(world.agent))
    [notification] = _notifications(ticket)
    assert send_customer_notification_email(notification.pk) is False
    assert send_customer_notification_email(10**9) is False
    assert mail.outbox == []


def test_email_escapes_the_customers_subject_in_html(world):
    customer = CustomerFactory(organization=world.org, first_name="<b>Zoé</b>")
    ticket = TicketFactory(organization=world.org, customer=customer, subject="<script>alert(1)</script>")
    services.change_status(ticket=ticket, status=Status.RESOLVED, actor=acting(world.agent))
    [notification] = _notifications(ticket)
    send_customer_notification_email(notification.pk)
    html = mail.outbox[0].alternatives[0][0]
    assert "<script>" not in html
    assert "<b>Zoé</b>" not in html


def test_follow_up_and_no_reply_close_emails_carry_the_explanation(
    world, queued_emails, django_capture_on_commit_callbacks
):
    ticket = services.change_status(ticket=world.ticket, status=Status.WAITING_CUSTOMER, actor=acting(world.agent))
    start = ticket.status_changed_at
    queued_emails.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.run_lifecycle(now=start + timedelta(days=3))
    with django_capture_on_commit_callbacks(execute=True):
        services.run_lifecycle(now=start + timedelta(days=7))
    assert len(queued_emails) == 2
    for pk in queued_emails:
        send_customer_notification_email(pk)
    followup, closing = mail.outbox
    assert followup.extra_headers["Auto-Submitted"] == "auto-generated"
    assert closing.extra_headers["Auto-Submitted"] == "auto-generated"
    assert followup.subject == "Ticket de support : En attente de votre réponse [#1]"
    assert "depuis 3 jours" in followup.body
    assert closing.subject == "Ticket de support : Fermé [#1]"
    assert "fermé faute de réponse" in closing.body


def test_titles_for_every_kind():
    assert {k: title_and_body(k, "S")[0] for k in NotificationKind.values} == {
        "agent_reply": "Ticket de support : Nouvelle réponse",
        "waiting_customer": "Ticket de support : En attente de votre réponse",
        "resolved": "Ticket de support : Résolu",
        "closed": "Ticket de support : Fermé",
    }
