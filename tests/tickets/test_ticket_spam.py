"""Spam (002 "Ticket spam"): closed without any customer notification, the sender optionally blocked (their
next mail quarantined by email intake), audited, and reversible."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from django.urls import reverse
from factories import acting
from helpers import assert_partial, htmx

from lumiodesk.exceptions import NotPermitted
from lumiodesk.models import AuditLog
from tickets import services
from tickets.email import intake
from tickets.email.models import InboundStatus, Mailbox
from tickets.models import BlockedSender, CustomerNotification, Status, Ticket

pytestmark = pytest.mark.django_db


def mail_from(sender: str, subject: str = "Gagnez un iPhone") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "support@acme.test", subject
    msg["Message-ID"] = f"<{subject.replace(' ', '.')}@spam.example>"
    msg.set_content("Cliquez ici.")
    return msg.as_bytes()


@pytest.fixture
def support(world):
    return Mailbox.objects.create(organization=world.org, name="Support", address="support@acme.test")


def test_marking_closes_without_a_word_to_the_customer(world, queued_emails, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.mark_spam(ticket=world.ticket, actor=acting(world.agent))
    assert ticket.status == Status.CLOSED and ticket.spam_at is not None and ticket.status_before_spam == "new"
    assert not CustomerNotification.objects.filter(ticket=ticket).exists()
    assert queued_emails == []
    assert not BlockedSender.objects.exists()
    log = AuditLog.objects.get(action="ticket.spam", target_id=ticket.pk)
    assert log.actor == world.agent and log.data["blocked"] == ""
    assert services.mark_spam(ticket=ticket, actor=acting(world.agent)).spam_at == ticket.spam_at  # idempotent


def test_a_blocked_sender_is_quarantined_until_unmarked(world, support):
    first = intake.ingest(mailbox=support, raw=mail_from("Promo <Promo@Spam.example>", "Offre 1"), source="file")
    ticket = Ticket.objects.get(pk=first.ticket_id)
    services.mark_spam(ticket=ticket, actor=acting(world.agent), block_sender=True)
    assert BlockedSender.objects.get(organization=world.org).email == "promo@spam.example"

    second = intake.ingest(mailbox=support, raw=mail_from("promo@spam.example", "Offre 2"), source="file")
    assert second.status == InboundStatus.QUARANTINED and "bloqué" in second.reason
    assert Ticket.objects.filter(organization=world.org).count() == 2  # the world's and the first spam only
    # Another organization's mail from the same address is not blocked.
    other = Mailbox.objects.create(organization=world.other_org, name="S", address="support@globex.test")
    assert intake.ingest(mailbox=other, raw=mail_from("promo@spam.example", "Offre 3"),
                         source="file").status == InboundStatus.IMPORTED

    ticket = services.unmark_spam(ticket=ticket, actor=acting(world.agent))
    assert ticket.status == Status.OPEN and ticket.spam_at is None
    assert not BlockedSender.objects.filter(organization=world.org).exists()
    assert AuditLog.objects.get(action="ticket.not_spam").data["unblocked"] == "promo@spam.example"
    assert not CustomerNotification.objects.filter(ticket=ticket).exists()
    third = intake.ingest(mailbox=support, raw=mail_from("promo@spam.example", "Offre 4"), source="file")
    assert third.status == InboundStatus.IMPORTED


def test_viewers_may_not(world):
    with pytest.raises(NotPermitted):
        services.mark_spam(ticket=world.ticket, actor=acting(world.viewer))


def test_the_ticket_page_button(client, world):
    url = reverse("tickets:spam", args=[world.ticket.number])
    client.force_login(world.viewer)
    assert reverse("tickets:spam", args=[world.ticket.number]) not in client.get(
        reverse("tickets:detail", args=[world.ticket.number])).content.decode()
    assert client.post(url).status_code == 403
    client.force_login(world.outsider)
    assert client.post(url).status_code == 404
    client.force_login(world.agent)
    page = client.get(reverse("tickets:detail", args=[world.ticket.number])).content.decode()
    assert url in page and "Marquer comme spam" in page
    status_url = reverse("tickets:status", args=[world.ticket.number])
    assert status_url in page
    response = client.post(url, {"block": "1"})
    assert response.status_code == 302
    listed = client.get(reverse("tickets:list"), {"spam": "1"}).content.decode()  # the "Spam" shared view
    assert world.ticket.subject in listed
    assert world.ticket.subject not in client.get(reverse("tickets:list"), {"spam": "0"}).content.decode()
    page = client.get(reverse("tickets:detail", args=[world.ticket.number])).content.decode()
    assert "Ce n&#x27;est pas un spam" in page or "Ce n'est pas un spam" in page
    assert status_url not in page  # no "Rouvrir": "not spam" reopens it
    assert BlockedSender.objects.filter(organization=world.org, email=world.customer.email.lower()).exists()
    html = assert_partial(client.post(reverse("tickets:unspam", args=[world.ticket.number]), **htmx()))
    assert "Marquer comme spam" in html
    world.ticket.refresh_from_db()
    assert world.ticket.status == Status.OPEN and not BlockedSender.objects.exists()


def test_a_customer_reply_reopens_a_spam_and_ends_the_mark(world):
    ticket = services.mark_spam(ticket=world.ticket, actor=acting(world.agent))
    services.add_message(ticket=ticket, kind="customer", body="Ce n'était pas un spam !",
                         author_customer=world.customer)
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN and ticket.spam_at is None and ticket.status_before_spam == ""


def test_closing_as_spam_runs_no_updated_rule(world, queued_emails, django_capture_on_commit_callbacks):
    """A rule reacting to "ticket updated" (here: a closed ticket is reopened, tagged, the Managers told) does not
    run when the ticket is closed as spam: no word to the customer, not even through a rule. Unmarked, the ticket
    is a ticket again and its next update runs the rules."""
    from automation_helpers import rule

    from automations.models import AutomationRun, Trigger
    from lumiodesk.models import AgentNotification

    rule(world.org, {"field": "status", "op": "is", "value": "closed"}, events=[Trigger.UPDATED], actions=[
        {"type": "add_tag", "tag": "fermé"}, {"type": "notify", "to": "managers"},
        {"type": "set_status", "status": "open"},
    ])
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.mark_spam(ticket=world.ticket, actor=acting(world.agent))
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED and ticket.spam_at is not None
    assert not AutomationRun.objects.filter(ticket=ticket).exists()
    assert not ticket.tags.exists()
    assert not AgentNotification.objects.filter(organization=world.org, kind="automation").exists()
    assert not CustomerNotification.objects.filter(ticket=ticket).exists() and queued_emails == []
    with django_capture_on_commit_callbacks(execute=True):
        services.set_tags(ticket=ticket, names=["promo"], actor=acting(world.agent))  # still a spam: no rule
    assert not AutomationRun.objects.filter(ticket=ticket).exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.unmark_spam(ticket=ticket, actor=acting(world.agent))
        services.change_status(ticket=ticket, status=Status.CLOSED, actor=acting(world.agent))
    assert AutomationRun.objects.filter(ticket=ticket, trigger=Trigger.UPDATED).exists()  # a ticket again
