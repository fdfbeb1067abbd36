"""Issue 22: automatic mail and delivery reports through the real intake (``intake.ingest``) and the real
outbound path (an agent's reply, its notification sent by the task function into ``mail.outbox``).

- a delivery report of our own notification lands on that ticket as a note, marks the notification failed
  with the reason (the ticket shows a banner), and opens no ticket; matched by the returned message's
  Message-ID, or by the failed recipient when the report carries no headers; unmatched: listed as a bounce;
- automatic mail from one of our own addresses, and a loop, are suppressed and kept in the inbound log;
- the organization's "automatic mail out of SLA" setting.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.core import mail
from factories import acting

from tickets import services
from tickets.email import intake
from tickets.email.models import InboundEmail, InboundStatus, Mailbox
from tickets.models import CustomerNotification, Message, MessageKind, Ticket
from tickets.tasks import send_customer_notification_email

CORPUS = Path(__file__).parent / "email_corpus"


@pytest.fixture
def support(world):
    return Mailbox.objects.create(organization=world.org, name="Support", address="support@acme.test")


@pytest.fixture
def notified(world, support, queued_emails, django_capture_on_commit_callbacks):
    """Renée's ticket, answered by an agent: the notification email sent (its Message-ID returned)."""
    inbound = intake.ingest(mailbox=support, raw=(CORPUS / "plain_utf8_lf.eml").read_bytes(), source="file")
    ticket = Ticket.objects.get(pk=inbound.ticket_id)
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(ticket=ticket, kind=MessageKind.REPLY, body="Voici votre facture.",
                             actor=acting(world.agent))
    assert all(send_customer_notification_email(pk) for pk in queued_emails)
    sent = email.message_from_bytes(mail.outbox[-1].message().as_bytes(), policy=email.policy.default)
    notification = CustomerNotification.objects.get(ticket=ticket, emailed_at__isnull=False)
    return ticket, notification, sent


def dsn(*, original: EmailMessage | None, recipient: str, status: str = "5.1.1",
        diagnostic: str = "smtp; 550 5.1.1 <renee.martin@example.org>: Recipient address rejected") -> bytes:
    """An RFC 3464 report as Postfix writes it; the returned message's headers attached when given."""
    headers = ""
    if original is not None:
        headers = "--B\nContent-Type: text/rfc822-headers\n\n" + "".join(
            f"{k}: {v}\n" for k, v in original.items() if k.lower() in ("from", "to", "subject", "message-id")
        ) + "\n"
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\n"
        "To: support@acme.test\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        f"Message-ID: <dsn-{recipient}-{status}@mx.example.org>\n"
        "Auto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nThis is the mail system at host mx.example.org.\n\n"
        "I'm sorry to have to inform you that your message could not be delivered.\n\n"
        "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n"
        f"Final-Recipient: rfc822; {recipient}\nAction: failed\nStatus: {status}\nDiagnostic-Code: {diagnostic}\n\n"
        f"{headers}--B--\n"
    ).encode()


def test_bounce_of_our_notification_lands_on_its_ticket(world, support, notified):
    ticket, notification, sent = notified
    before = Ticket.objects.filter(organization=world.org).count()
    inbound = intake.ingest(mailbox=support, raw=dsn(original=sent, recipient="renee.martin@example.org"),
                            source="file")
    assert inbound.status == InboundStatus.BOUNCE
    assert inbound.ticket_id == ticket.pk
    assert Ticket.objects.filter(organization=world.org).count() == before  # never a new ticket
    note = Message.objects.get(pk=inbound.message_id)
    assert note.kind == MessageKind.NOTE and note.ticket_id == ticket.pk
    assert note.body_text.startswith("Échec de remise de l'email à renee.martin@example.org : 5.1.1")
    notification.refresh_from_db()
    assert notification.email_failed_at is not None
    assert "Recipient address rejected" in notification.email_failure


def test_bounce_without_headers_is_matched_by_the_failed_recipient(world, support, notified):
    ticket, notification, _sent = notified
    inbound = intake.ingest(mailbox=support, raw=dsn(original=None, recipient="renee.martin@example.org"),
                            source="file")
    assert (inbound.status, inbound.ticket_id) == (InboundStatus.BOUNCE, ticket.pk)
    notification.refresh_from_db()
    assert notification.email_failed_at is not None


def test_unmatched_bounce_is_listed_not_ticketed(world, support):
    inbound = intake.ingest(mailbox=support, raw=dsn(original=None, recipient="nobody@example.net"),
                            source="file")
    assert inbound.status == InboundStatus.BOUNCE and inbound.ticket_id is None
    assert "nobody@example.net" in inbound.reason
    assert not Ticket.objects.filter(organization=world.org, channel="email").exists()


def test_bounce_banner_on_the_ticket(client, world, support, notified):
    ticket, _notification, sent = notified
    intake.ingest(mailbox=support, raw=dsn(original=sent, recipient="renee.martin@example.org"), source="file")
    client.force_login(world.agent)
    page = client.get(f"/tickets/{ticket.number}/").content.decode()
    assert "n’a pas été remis" in page or "n'a pas été remis" in page


def automatic(sender: str, subject: str, n: int) -> bytes:
    return (f"From: {sender}\nTo: support@acme.test\nSubject: {subject}\nMessage-ID: <auto-{n}@x.example>\n"
            "Auto-Submitted: auto-replied\n\nJe suis absent.\n").encode()


def test_automatic_mail_from_our_own_address_is_suppressed(world, support):
    inbound = intake.ingest(mailbox=support, raw=automatic("Acme <support@acme.test>", "Absent", 1), source="file")
    assert inbound.status == InboundStatus.IGNORED and inbound.ticket_id is None
    assert inbound.reason == "message automatique envoyé par une adresse de l'organisation"


def test_a_loop_is_suppressed_after_the_limit(world, support):
    results = [intake.ingest(mailbox=support, raw=automatic("bot@robot.example", "Absent", n), source="file")
               for n in range(intake.LOOP_LIMIT + 2)]
    statuses = [r.status for r in results]
    assert statuses[: intake.LOOP_LIMIT] == [InboundStatus.IMPORTED] * intake.LOOP_LIMIT
    assert statuses[intake.LOOP_LIMIT:] == [InboundStatus.IGNORED] * 2
    assert results[-1].reason.startswith("boucle : ")
    assert InboundEmail.objects.filter(organization=world.org, status=InboundStatus.IGNORED).count() == 2


def test_automatic_mail_in_sla_when_the_organization_says_so(world, support):
    world.org.automatic_mail_out_of_sla = False
    world.org.save(update_fields=["automatic_mail_out_of_sla"])
    inbound = intake.ingest(mailbox=support, raw=automatic("bot@robot.example", "Alerte", 1), source="file")
    ticket = Ticket.objects.get(pk=inbound.ticket_id)
    assert ticket.is_automatic and not ticket.out_of_sla
    assert ticket.first_response_due_at is not None


def test_automatic_filter_lists_only_automatic_tickets(client, world, support):
    intake.ingest(mailbox=support, raw=automatic("bot@robot.example", "Alerte disque", 1), source="file")
    client.force_login(world.agent)
    page = client.get("/tickets/?automatic=1").content.decode()
    assert "Alerte disque" in page and "Facture en double" not in page
    page = client.get("/tickets/?automatic=0").content.decode()
    assert "Alerte disque" not in page and "Facture en double" in page
