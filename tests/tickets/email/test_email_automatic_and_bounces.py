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
import email.utils
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.core import mail
from factories import acting

from tickets import services
from tickets.email import intake
from tickets.email.models import InboundEmail, InboundStatus, Mailbox
from tickets.email.parsing import normalize_message_id, parse_email
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


def test_bounce_banner_on_the_customer_record(client, world, support, notified):
    ticket, _notification, sent = notified
    client.force_login(world.agent)
    url = f"/customers/{ticket.customer_id}/"
    assert "n’a pas été remis" not in client.get(url).content.decode()
    intake.ingest(mailbox=support, raw=dsn(original=sent, recipient="renee.martin@example.org"), source="file")
    page = client.get(url).content.decode()
    assert f"Le dernier email à {ticket.customer.email} (ticket #{ticket.number}, le " in page
    assert "n’a pas été remis : 5.1.1" in page


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


# --- reports that are not RFC 3464 (issue 22, non-standard bounces) ---------------------------------------------


def _address(header: str) -> str:
    return email.utils.parseaddr(header)[1]


def scanner_report(sent: EmailMessage, *, sender: str = "gateway@scanner.example.net",
                   subject: str = "Mail could not be delivered", to: str | None = None) -> bytes:
    """A virus scanner's (or a gateway's) report, as InterScan and friends write it: a notice and the returned
    message, from an ordinary address, no DSN, no MAILER-DAEMON."""
    return (
        f"From: {sender}\nTo: {to or _address(sent['From'])}\nSubject: {subject}\n"
        "Message-ID: <scan-1@scanner.example.net>\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="S"\n\n--S\nContent-Type: text/plain\n\n'
        "****** Message from the e-mail gateway ******\n\nThe following mail could not be delivered.\n"
        "Reason: Exceeded maximum delivery attempts.\n\n--S\nContent-Type: message/rfc822\n\n"
        f"{sent.as_string()}\n--S--\n"
    ).encode()


def test_a_gateway_report_from_an_ordinary_address_lands_on_its_ticket(world, support, notified):
    ticket, notification, sent = notified
    inbound = intake.ingest(mailbox=support, raw=scanner_report(sent), source="file")
    assert (inbound.status, inbound.ticket_id) == (InboundStatus.BOUNCE, ticket.pk)
    notification.refresh_from_db()
    assert notification.email_failed_at is not None
    assert notification.email_failure == "The following mail could not be delivered."


def test_an_exim_report_with_the_message_copied_inline(world, support, notified):
    ticket, notification, sent = notified
    raw = (
        "From: Mail Delivery System <Mailer-Daemon@mx.example.org>\n"
        f"To: {_address(sent['From'])}\nSubject: Mail delivery failed: returning message to sender\n"
        "X-Failed-Recipients: renee.martin@example.org\nAuto-Submitted: auto-replied\n\n"
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent "
        "error. The following address(es) failed:\n\n  renee.martin@example.org\n    550 5.1.1 User unknown\n\n"
        "------ This is a copy of the message, including all the headers. ------\n\n"
        f"{sent.as_string()}"
    ).encode()
    bounce = parse_email(raw).bounce
    assert bounce.recipients == ["renee.martin@example.org"]
    assert normalize_message_id(sent["Message-ID"]) in bounce.original_ids  # matched by the copy's Message-ID
    inbound = intake.ingest(mailbox=support, raw=raw, source="file")
    assert (inbound.status, inbound.ticket_id) == (InboundStatus.BOUNCE, ticket.pk)


def test_an_exchange_report_in_html_only(world, support, notified):
    _ticket, _notification, sent = notified
    raw = (
        "From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.example>\n"
        f"To: {_address(sent['From'])}\nSubject: Undeliverable: {sent['Subject']}\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="X"\n\n--X\nContent-Type: text/html; charset=utf-8\n\n'
        "<html><body><p><b>Your message to renee.martin@example.org couldn't be delivered.</b></p></body></html>\n"
        f"--X\nContent-Type: message/rfc822\n\n{sent.as_string()}\n--X--\n"
    ).encode()
    bounce = parse_email(raw).bounce
    assert bounce is not None and normalize_message_id(sent["Message-ID"]) in bounce.original_ids


@pytest.mark.parametrize("subject", ["Fwd: Mail could not be delivered", "TR: Undeliverable: votre facture"])
def test_a_report_a_customer_forwards_is_their_message(world, support, notified, subject):
    _ticket, _notification, sent = notified
    raw = scanner_report(sent, sender="Renée Martin <renee.martin@example.org>", subject=subject)
    assert parse_email(raw).bounce is None
    inbound = intake.ingest(mailbox=support, raw=raw, source="file")
    assert inbound.status == InboundStatus.IMPORTED


def test_a_carriers_email_a_customer_attaches_is_not_a_report():
    carrier = EmailMessage()
    carrier["From"] = "tracking@carrier.example"
    carrier["To"] = "renee.martin@example.org"
    carrier["Subject"] = "Votre colis"
    carrier.set_content("Your parcel could not be delivered.")
    raw = scanner_report(carrier, sender="renee.martin@example.org", subject="Parcel could not be delivered",
                         to="support@acme.test")
    assert parse_email(raw).bounce is None


def test_a_report_attached_to_a_customer_message_is_not_theirs():
    report = email.message_from_bytes(dsn(original=None, recipient="someone@example.net"))
    outer = EmailMessage()
    outer["From"] = "renee.martin@example.org"
    outer["Subject"] = "Pourquoi ce message ?"
    outer.set_content("J'ai reçu ceci, que faire ?")
    outer.add_attachment(report)
    assert parse_email(outer.as_bytes()).bounce is None


def test_the_recipient_scan_stays_bounded_on_hostile_reports():
    """flufl.bounce's Exchange detector is quadratic on a long line: it reads a copy with short lines."""
    import time

    for line in ("<" * 120_000, "SMTP=" * 24_000, "<a" * 60_000):
        raw = ("From: MAILER-DAEMON@mx.example\nTo: a@b.example\nSubject: Undeliverable\n\n"
               f"did not reach the following recipient(s):\n{line}\nbob@example.com on 12/12/2000\n").encode()
        start = time.process_time()
        bounce = parse_email(raw).bounce
        assert time.process_time() - start < 2
        assert bounce is not None and bounce.recipients == ["bob@example.com"]


def _system_report(sender: str) -> bytes:
    """A mail system's report in words no phrase list knows (Portuguese, an old MTA's layout), that
    flufl.bounce reads failed recipients in."""
    return (
        f"From: {sender}\nTo: support@acme.test\nSubject: Mensagem devolvida\n"
        "Date: Mon, 03 Mar 2025 10:15:00 +0100\nMessage-ID: <r-1@mx.example.net>\n\n"
        "|------------------------- Failed addresses follow: ---------------------|\n"
        " renee.martin@example.org ... host desconhecido\n"
        "|------------------------- Message text follows: ------------------------|\n"
        "Bom dia\n"
    ).encode()


def test_a_mail_systems_report_in_unknown_words_is_a_report(world, support, notified):
    ticket, notification, _sent = notified
    raw = _system_report("MAILER-DAEMON@mx.example.net")
    assert parse_email(raw).bounce.recipients == ["renee.martin@example.org"]
    inbound = intake.ingest(mailbox=support, raw=raw, source="file")
    assert (inbound.status, inbound.ticket_id) == (InboundStatus.BOUNCE, ticket.pk)


def test_a_no_reply_senders_mail_in_unknown_words_stays_mail():
    """Only a mail system's own address: a shop's no-reply address sends confirmations, not reports."""
    assert parse_email(_system_report("no-reply@shop.example.net")).bounce is None
    notice = (b"From: postmaster@mx.example.net\nTo: support@acme.test\nSubject: Quota\n\n"
              b"Votre boite est pleine a 80 %.\n")
    assert parse_email(notice).bounce is None  # a mail system's notice that names no failed recipient
