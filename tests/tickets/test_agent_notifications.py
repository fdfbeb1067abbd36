"""Agent notifications of ticket events (section 17): assigned, mention, customer reply, urgent.

The service queues them after commit; ``run_queued`` runs the task as the worker would.
"""

from __future__ import annotations

import pytest
from conftest import run_queued
from django.core import mail
from factories import SYSTEM, TicketFactory, acting, member

from lumiodesk import notifications
from lumiodesk.models import AgentNotification, NotificationPreference, Role
from tickets import services
from tickets.agent_notifications import deliver, mentioned
from tickets.models import MessageKind, Status

pytestmark = pytest.mark.django_db


def notified(kind=None) -> list[tuple[str, str]]:
    qs = AgentNotification.objects.order_by("id")
    if kind:
        qs = qs.filter(kind=kind)
    return [(n.recipient.email, n.kind) for n in qs.select_related("recipient")]


def test_assigning_tells_the_new_assignee_after_commit(world, queued_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.assign(ticket=world.ticket, assignee=world.agent, actor=acting(world.manager))
        assert queued_tasks == []  # nothing before the commit
    assert [name for name, _a, _k in queued_tasks] == ["tickets.tasks.notify_agents"]
    run_queued(queued_tasks)
    [n] = AgentNotification.objects.all()
    assert (n.recipient, n.kind, n.organization) == (world.agent, "assigned", world.org)
    assert n.title == "Ticket assigné : #1 Facture en double"
    assert n.body == f"{world.manager.get_full_name()} vous a assigné ce ticket."
    assert n.url == "/tickets/1/"


def test_assigning_oneself_tells_no_one(world, queued_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.assign(ticket=world.ticket, assignee=world.agent, actor=acting(world.agent))
    run_queued(queued_tasks)
    assert notified() == []


def test_the_task_run_twice_notifies_once(world, queued_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.assign(ticket=world.ticket, assignee=world.agent, actor=acting(world.manager))
    [(name, args, kwargs)] = queued_tasks
    assert deliver(*args, **kwargs) == 1
    assert deliver(*args, **kwargs) == 0
    assert AgentNotification.objects.count() == 1


def test_a_mention_in_a_note_tells_the_agents_named(world, queued_tasks, django_capture_on_commit_callbacks):
    lea = member(world.org, Role.AGENT, first_name="Léa", email="lea.rousseau@acme.test")
    body = "@lea et @marc.dupont peuvent regarder ? @agathe aussi. Écrire à facture@acme.test. @victor @otto"
    world.manager.email = "marc.dupont@acme.test"
    world.manager.save(update_fields=["email"])
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(ticket=world.ticket, kind=MessageKind.NOTE, body=body, actor=acting(world.agent))
    run_queued(queued_tasks)
    recipients = {email for email, _kind in notified("mention")}
    # Léa by first name (accents ignored), Marc by his email's local part; not the author, not the viewer
    # (Victor), not someone of another organization (Otto), not an email address in the text.
    assert recipients == {lea.email, "marc.dupont@acme.test"}
    n = AgentNotification.objects.filter(kind="mention").first()
    assert n.title == f"{world.agent.get_full_name()} vous a mentionné : #1 Facture en double"
    assert n.body.startswith("@lea et @marc.dupont")


def test_mention_matching():
    class U:
        def __init__(self, pk, first_name, email):
            self.pk, self.first_name, self.email = pk, first_name, email

    team = [U(1, "Élodie", "elodie.m@x.test"), U(2, "Hugo", "h.perrin@x.test"), U(3, "Hugo", "hugo.b@x.test")]
    assert mentioned("merci @elodie.", team) == [1]
    assert mentioned("@HUGO", team) == [2, 3]  # a shared first name mentions each of them
    assert mentioned("@h.perrin", team) == [2]
    assert mentioned("email hugo@x.test", team) == []
    assert mentioned("pas de mention", team) == []


def test_a_public_reply_or_a_note_without_mention_tells_no_one(world, queued_tasks,
                                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(ticket=world.ticket, kind=MessageKind.REPLY, body="Bonjour @agathe",
                             actor=acting(world.manager))
        services.add_message(ticket=world.ticket, kind=MessageKind.NOTE, body="RAS", actor=acting(world.manager))
    assert queued_tasks == []


def test_a_customer_reply_tells_the_assignee(world, queued_tasks, django_capture_on_commit_callbacks):
    services.assign(ticket=world.ticket, assignee=world.agent, actor=acting(world.agent))
    services.add_message(ticket=world.ticket, kind=MessageKind.REPLY, body="Précisez ?", actor=acting(world.agent),
                         then_status=Status.WAITING_CUSTOMER)
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(ticket=world.ticket, kind=MessageKind.CUSTOMER, body="Voici le numéro de facture.")
    run_queued(queued_tasks)
    assert notified() == [(world.agent.email, "customer_reply")]
    n = AgentNotification.objects.get()
    assert n.title == "Réponse client : #1 Facture en double"
    assert n.body == "Voici le numéro de facture."
    assert (n.in_app, n.email) == (True, False)  # customer replies: in the app only by default


def test_a_customer_reply_on_an_unassigned_ticket_tells_no_one(world, queued_tasks,
                                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(ticket=world.ticket, kind=MessageKind.CUSTOMER, body="Alors ?")
    assert queued_tasks == []  # not even a task: no one to tell (each email reply would cost a broker round trip)
    assert notified() == []


def test_an_urgent_ticket_tells_the_assignee_or_everyone(world, queued_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        TicketFactory(organization=world.org, customer=world.customer, priority="urgent")
    run_queued(queued_tasks)
    assert {email for email, _k in notified("urgent")} == {world.admin.email, world.manager.email, world.agent.email}

    AgentNotification.objects.all().delete()
    services.assign(ticket=world.ticket, assignee=world.agent, actor=acting(world.agent))
    with django_capture_on_commit_callbacks(execute=True):
        services.set_priority(ticket=world.ticket, priority="urgent", actor=acting(world.manager))
        services.set_priority(ticket=world.ticket, priority="urgent", actor=acting(world.manager))  # no change: nothing
    run_queued(queued_tasks)
    assert notified("urgent") == [(world.agent.email, "urgent")]


def test_a_ticket_created_urgent_and_assigned_sends_both(world, queued_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        TicketFactory(organization=world.org, customer=world.customer, priority="urgent", assignee=world.agent,
                      actor=world.manager)
    run_queued(queued_tasks)
    assert sorted(notified()) == [(world.agent.email, "assigned"), (world.agent.email, "urgent")]


def test_imported_tickets_and_muted_blocks_notify_no_one(world, queued_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.create_ticket(actor=SYSTEM, organization=world.org, customer=world.customer, subject="Ancien",
                               body="x",
                               priority="urgent", assignee=world.agent, imported=True)
        with notifications.muted():
            services.assign(ticket=world.ticket, assignee=world.agent, actor=acting(world.manager))
    assert queued_tasks == []


def test_preferences_none_means_no_notification(world, queued_tasks, django_capture_on_commit_callbacks):
    NotificationPreference.objects.create(organization=world.org, user=world.agent, kind="assigned", in_app=False,
                                          email=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.assign(ticket=world.ticket, assignee=world.agent, actor=acting(world.manager))
    run_queued(queued_tasks)
    assert notified() == []


def test_the_email_is_sent_once_with_a_link(world, queued_tasks, django_capture_on_commit_callbacks, settings):
    settings.SITE_URL = "https://help.acme.test"
    with django_capture_on_commit_callbacks(execute=True):
        services.assign(ticket=world.ticket, assignee=world.agent, actor=acting(world.manager))
    [(name, args, kwargs)] = queued_tasks
    queued_tasks.clear()
    with django_capture_on_commit_callbacks(execute=True):
        deliver(*args, **kwargs)
    n = AgentNotification.objects.get()
    assert [(name, args) for name, args, _k in queued_tasks] == [
        ("lumiodesk.tasks.send_agent_notification_email", (n.pk,))]
    run_queued(queued_tasks)
    assert notifications.send_email(n.pk) is False  # already sent
    [email] = mail.outbox
    assert email.to == [world.agent.email]
    assert email.subject == "[Acme] Ticket assigné : #1 Facture en double"
    assert f"https://help.acme.test/notifications/{n.pk}/" in email.body
    assert email.extra_headers["Auto-Submitted"] == "auto-generated"
    n.refresh_from_db()
    assert n.emailed_at is not None


def test_unsent_emails_are_queued_again(world, clock, queued_tasks):
    draft = notifications.Draft(recipient_id=world.agent.pk, title="T", dedup_key="k")
    [pk] = notifications.notify(organization_id=world.org.pk, kind="assigned", drafts=[draft])
    assert notifications.resend_unsent_emails() == 0  # too recent
    clock.advance(minutes=11)
    assert notifications.resend_unsent_emails() == 1
    assert queued_tasks == [("lumiodesk.tasks.send_agent_notification_email", (pk,), {})]


def test_texts_follow_the_organizations_language(world, queued_tasks, django_capture_on_commit_callbacks):
    world.org.language = "en"
    world.org.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=True):
        services.assign(ticket=world.ticket, assignee=world.agent, actor=acting(world.manager))
    run_queued(queued_tasks)
    n = AgentNotification.objects.get()
    assert n.title == "Ticket assigned: #1 Facture en double"
    assert n.body == f"{world.manager.get_full_name()} assigned this ticket to you."
