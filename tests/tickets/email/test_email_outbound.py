"""Outgoing customer email: threaded so that the customer's answer comes back to the same ticket.

The agent's public reply is committed, its notification id is queued (``queued_emails``, see
conftest), and the task function runs here; the mail lands in ``django.core.mail.outbox``. Then
the customer's answer, as raw bytes, goes through intake.
"""

from __future__ import annotations

import email
import email.policy
from email.utils import make_msgid
from pathlib import Path

import pytest
from django.core import mail
from factories import SYSTEM, acting

from tickets import services
from tickets.email import intake
from tickets.email.models import EmailReference, InboundEmail, InboundStatus, Mailbox
from tickets.emails import message_id_for
from tickets.models import CustomerNotification, MessageKind, NotificationKind, Status, Ticket
from tickets.tasks import send_customer_notification_email

CORPUS = Path(__file__).parent / "email_corpus"


@pytest.fixture
def support(world):
    return Mailbox.objects.create(organization=world.org, name="Support", address="support@acme.test")


@pytest.fixture
def email_ticket(world, support) -> Ticket:
    """A ticket opened by Renée's email (Message-ID orig-1@example.org) to support@acme.test."""
    inbound = intake.ingest(mailbox=support, raw=(CORPUS / "plain_utf8_lf.eml").read_bytes(), source="file")
    assert inbound.status == InboundStatus.IMPORTED
    return Ticket.objects.get(pk=inbound.ticket_id)


def reply(ticket, agent, text: str, capture, then_status=None):
    with capture(execute=True):
        return services.add_message(ticket=ticket, kind=MessageKind.REPLY, body=text, actor=acting(agent),
                                    then_status=then_status)


def send_queued(queued: list[int]) -> list:
    sent = [send_customer_notification_email(pk) for pk in queued]  # the Celery task's function, run here
    queued.clear()
    assert all(sent)
    return mail.outbox


def parsed_mail(message) -> email.message.EmailMessage:
    """What the customer's mail client receives."""
    return email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)


def customer_answer(*, in_reply_to: str, references: str, subject: str, body: str,
                    sender: str = "Renée Martin <renee.martin@example.org>") -> bytes:
    return (
        f"From: {sender}\r\nTo: support@acme.test\r\nSubject: {subject}\r\nMessage-ID: {make_msgid('answer')}\r\n"
        f"In-Reply-To: {in_reply_to}\r\nReferences: {references}\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    ).encode()


def test_public_reply_is_sent_threaded(world, email_ticket, queued_emails, django_capture_on_commit_callbacks):
    ticket = email_ticket
    message = reply(ticket, world.agent, "Bonjour Renée,\nvoici votre facture <de février>.",
                    django_capture_on_commit_callbacks)
    assert len(queued_emails) == 1
    notification = CustomerNotification.objects.get(pk=queued_emails[0])
    assert notification.kind == NotificationKind.AGENT_REPLY and notification.message_id == message.pk
    [sent] = send_queued(queued_emails)

    own_id = message_id_for(ticket, f"n{notification.pk}")
    root = message_id_for(ticket, "0")
    assert own_id.startswith(f"ticket-{world.org.pk}-{ticket.number}-n")
    msg = parsed_mail(sent)
    assert msg["Message-ID"] == f"<{own_id}>"
    assert msg["In-Reply-To"] == "<orig-1@example.org>"  # under the customer's own message
    assert msg["References"] == f"<{root}> <orig-1@example.org>"
    assert msg["Subject"] == f"Re: Problème de facture [#{ticket.number}]"
    assert msg["From"] == "Acme <support@acme.test>"
    assert msg["Reply-To"] == "support@acme.test"
    assert msg["To"] == "renee.martin@example.org"
    assert msg["Auto-Submitted"] == "no"  # a person's answer: the customer's auto-responder may answer it
    assert msg["X-LumioDesk-Ticket"] == str(ticket.number)
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "voici votre facture <de février>." in text
    assert "voici votre facture &lt;de février&gt;." in html
    assert "<script" not in html
    # Our ids are remembered, to thread the answer and to recognise our own mail coming back.
    assert set(EmailReference.objects.filter(ticket=ticket, outbound=True).values_list("message_id", flat=True)) == {
        own_id, root}
    notification.refresh_from_db()
    assert notification.emailed_at is not None
    # The task is safe to run twice: nothing is sent again.
    assert send_customer_notification_email(notification.pk) is False
    assert len(mail.outbox) == 1


def test_internal_note_is_never_sent(world, email_ticket, queued_emails, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        note = services.add_message(ticket=email_ticket, kind=MessageKind.NOTE, body="Client difficile.",
                                    actor=acting(world.agent))
    assert queued_emails == []
    assert not CustomerNotification.objects.filter(ticket=email_ticket).exists()
    # Even a notification pointing at a note (whatever made it) is not emailed.
    forged = CustomerNotification.objects.create(
        organization=world.org, customer=email_ticket.customer, ticket=email_ticket, message=note,
        kind=NotificationKind.AGENT_REPLY, level="info", title="x", body="x", email=True)
    assert send_customer_notification_email(forged.pk) is False
    assert mail.outbox == []


@pytest.mark.parametrize("waiting", [Status.WAITING_CUSTOMER, Status.RESOLVED, Status.CLOSED])
def test_customer_answer_threads_back_and_reopens(world, email_ticket, queued_emails,
                                                  django_capture_on_commit_callbacks, waiting):
    ticket = email_ticket
    reply(ticket, world.agent, "Pouvez-vous confirmer votre adresse ?", django_capture_on_commit_callbacks,
          then_status=waiting)
    [sent] = send_queued(queued_emails)
    ticket.refresh_from_db()
    assert ticket.status == waiting
    ours = parsed_mail(sent)
    raw = customer_answer(
        in_reply_to=ours["Message-ID"], references=f"{ours['References']} {ours['Message-ID']}",
        subject=f"Re: {ours['Subject']}",
        body="Oui, c'est bien ça.\r\n\r\nLe lun. 3 mars 2025 à 11:00, Acme <support@acme.test> a écrit :\r\n"
             "> Pouvez-vous confirmer votre adresse ?",
    )
    inbound = intake.ingest(mailbox=Mailbox.objects.get(address="support@acme.test"), raw=raw, source="file")
    assert intake.outcome_of(inbound).ticket_number == ticket.number
    assert inbound.status == InboundStatus.IMPORTED
    assert inbound.ticket_id == ticket.pk
    assert bytes(inbound.raw) == raw
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN  # reopened by the customer's answer
    answer = ticket.messages.filter(kind=MessageKind.CUSTOMER).order_by("created_at", "id").last()
    assert answer.body_text == "Oui, c'est bien ça."
    assert answer.body_quoted.startswith("Le lun. 3 mars 2025 à 11:00, Acme")
    # The customer's message is not announced back to them.
    with django_capture_on_commit_callbacks(execute=True):
        pass
    assert queued_emails == []


def test_answer_without_headers_threads_by_subject_token(world, email_ticket, queued_emails,
                                                         django_capture_on_commit_callbacks):
    ticket = email_ticket
    reply(ticket, world.agent, "Réponse.", django_capture_on_commit_callbacks, then_status=Status.WAITING_CUSTOMER)
    [sent] = send_queued(queued_emails)
    subject = f"RE: {parsed_mail(sent)['Subject']}"
    raw = customer_answer(in_reply_to="", references="", subject=subject, body="Depuis un autre logiciel.")
    inbound = intake.ingest(mailbox=Mailbox.objects.get(address="support@acme.test"), raw=raw, source="file")
    assert inbound.ticket_id == ticket.pk
    # Somebody else quoting the same subject does not get into the ticket.
    raw = customer_answer(in_reply_to="", references="", subject=subject, body="Moi aussi.",
                          sender="Autre <autre@example.net>")
    inbound = intake.ingest(mailbox=Mailbox.objects.get(address="support@acme.test"), raw=raw, source="file")
    assert inbound.ticket_id != ticket.pk


def test_our_mail_looping_back_is_recognised(world, email_ticket, queued_emails, django_capture_on_commit_callbacks):
    ticket = email_ticket
    reply(ticket, world.agent, "Voici.", django_capture_on_commit_callbacks)
    [sent] = send_queued(queued_emails)
    messages = ticket.messages.count()
    raw = sent.message().as_bytes()  # e.g. the customer's address forwards everything back to support@
    inbound = intake.ingest(mailbox=Mailbox.objects.get(address="support@acme.test"), raw=raw, source="file")
    assert inbound.status == InboundStatus.IGNORED
    assert inbound.ticket_id == ticket.pk
    assert ticket.messages.count() == messages
    with django_capture_on_commit_callbacks(execute=True):
        pass
    assert queued_emails == [] and len(mail.outbox) == 1


def test_status_notification_is_threaded_and_marked_automatic(world, email_ticket, queued_emails,
                                                              django_capture_on_commit_callbacks):
    ticket = email_ticket
    with django_capture_on_commit_callbacks(execute=True):
        services.change_status(ticket=ticket, status=Status.RESOLVED, actor=acting(world.agent))
    [sent] = send_queued(queued_emails)
    msg = parsed_mail(sent)
    assert msg["Subject"] == f"Ticket de support : Résolu [#{ticket.number}]"
    assert msg["In-Reply-To"] == "<orig-1@example.org>"
    assert msg["Auto-Submitted"] == "auto-generated"  # no auto-responder answers it
    assert msg.get_body(("plain",)) is not None and msg.get_body(("html",)) is not None
    # An out-of-office answer to it is kept as a note and does not reopen.
    oof = customer_answer(in_reply_to=msg["Message-ID"], references=msg["Message-ID"], subject="Absent",
                          body="Je suis absente.")
    oof = oof.replace(b"MIME-Version", b"Auto-Submitted: auto-replied\r\nMIME-Version")
    inbound = intake.ingest(mailbox=Mailbox.objects.get(address="support@acme.test"), raw=oof, source="file")
    assert inbound.status == InboundStatus.IGNORED and inbound.ticket_id == ticket.pk
    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    assert InboundEmail.objects.get(pk=inbound.pk).message.kind == MessageKind.NOTE


def test_subject_with_a_line_break_is_sent_on_one_line(world, support, queued_emails,
                                                       django_capture_on_commit_callbacks):
    """A subject typed with a line break (API, import) must not stop the email (BadHeaderError)."""
    ticket = services.create_ticket(actor=SYSTEM, organization=world.org, customer=world.customer,
                                    subject="Ligne 1\nLigne 2",
                                    body="Bonjour")
    reply(ticket, world.agent, "Réponse.", django_capture_on_commit_callbacks)
    [sent] = send_queued(queued_emails)
    assert sent.subject == f"Re: Ligne 1 Ligne 2 [#{ticket.number}]"
