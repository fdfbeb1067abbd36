"""Names and addresses as mail clients show them (issue 22, after the held-out corpora):

- a file name or an attached message's subject keeps its runs of spaces ("No filename?  No problem!"), unfolded,
  control characters dropped, and still made safe where it is stored (no path separator, length cap);
- a Content-Type that is garbage around a type ("%22…"application%22…/pdf; name\\"…") is read through, and a
  readable quoted ``name=`` in it still names the file;
- UTF-8 text with stray bytes that are not UTF-8 (Latin-1 mixed in) reads those bytes as windows-1252;
- a sender whose domain has one label ("kontakt@redacted") becomes a customer and a ticket, not a quarantined
  message; nothing is ever sent to such an address, nor to an internal one ("root@localhost"): the
  notification is marked not sent with the reason, the contact form's acknowledgement leaves a note instead.
"""

from __future__ import annotations

import pytest
from django.core import mail
from factories import acting

from crm.models import Customer
from crm.services import normalize_email, undeliverable
from lumiodesk.exceptions import InvalidInput
from tickets import selectors, services
from tickets.email import intake
from tickets.email.models import InboundStatus, Mailbox
from tickets.email.parsing import decode_bytes, decode_header_value, parse_email
from tickets.models import Attachment, CustomerNotification, Message, MessageKind, Ticket
from tickets.tasks import send_customer_notification_email


def _forwarding(subject: str, *, name_param: str = "") -> bytes:
    inner = f"From: a@example.org\r\nSubject: {subject}\r\n\r\nhello\r\n"
    return (
        "From: Jo <jo@example.org>\r\nTo: support@acme.test\r\nSubject: fwd\r\nMessage-ID: <fwd-1@example.org>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        f"--b\r\nContent-Type: message/rfc822{name_param}\r\n\r\n{inner}\r\n--b--\r\n"
    ).encode()


def test_an_attached_message_named_from_its_subject_keeps_its_runs_of_spaces():
    parsed = parse_email(_forwarding("No filename?  No problem!"))
    assert [a.filename for a in parsed.attachments] == ["No filename?  No problem!.eml"]


def test_a_folded_subject_or_file_name_is_unfolded_not_collapsed():
    parsed = parse_email(_forwarding("HTML and...  HTML?\r\n\tsecond line"))
    assert [a.filename for a in parsed.attachments] == ["HTML and...  HTML? second line.eml"]
    parsed = parse_email(_forwarding("x", name_param='; name="two  spaces\r\n .eml"'))
    assert [a.filename for a in parsed.attachments] == ["two  spaces .eml"]


def test_names_drop_control_characters_and_headers_still_collapse_blanks():
    assert decode_header_value("a\x01b\tc  d", keep_spaces=True) == "a b c  d"
    assert decode_header_value("=?utf-8?q?a__b?=", keep_spaces=True) == "a  b"
    assert decode_header_value("a  b\r\n c") == "a b c"  # a subject shown on one line, as before


def test_the_stored_name_keeps_the_spaces_and_is_still_safe(world):
    mailbox = Mailbox.objects.create(organization=world.org, name="Support", address="support@acme.test")
    inbound = intake.ingest(mailbox=mailbox, raw=_forwarding("Tom &  Jerry/..\\x  ?"), source="file")
    assert inbound.status == InboundStatus.IMPORTED
    [name] = Attachment.objects.filter(message_id=inbound.message_id).values_list("filename", flat=True)
    assert name == "x  .eml"  # a path separator in a subject: never a path (safe_filename keeps the last piece)
    inbound = intake.ingest(mailbox=mailbox, raw=_forwarding("Tom &  Jerry: «  fin  »?").replace(
        b"fwd-1@", b"fwd-2@"), source="file")
    [name] = Attachment.objects.filter(message_id=inbound.message_id).values_list("filename", flat=True)
    assert name == "Tom &  Jerry «  fin  ».eml"


GARBAGE_TYPE = (
    b"From: FOOBAR <sender@some.net>\r\nTo: some@one.net\r\nMessage-ID: <g-1@x>\r\nSubject: SUBJECT\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: %22%22%22"application%22%22%22/pdf; name\\"Newsletter ?ISO-8859-1?Q?D??cembre 2013.pdf""; '
    b'name="Newsletter D\xc3\xa9cembre 2013.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n'
)


def test_a_garbage_content_type_is_read_through_and_its_quoted_name_names_the_file():
    parsed = parse_email(GARBAGE_TYPE)
    [att] = parsed.attachments
    assert (att.filename, att.content_type, att.data) == ("Newsletter Décembre 2013.pdf", "application/pdf",
                                                          b"%PDF-1.4\n")
    assert parsed.text == ""


def test_an_unreadable_content_type_is_a_file_never_text():
    raw = GARBAGE_TYPE.replace(b'%22%22%22"application%22%22%22/pdf', b"{[x]}/@@")
    parsed = parse_email(raw)
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [
        ("Newsletter Décembre 2013.pdf", "application/octet-stream")]


@pytest.mark.parametrize("data, text", [
    ("Atención — ".encode() + "divulgação, proprietário".encode("latin-1"), "Atención — divulgação, proprietário"),
    (b"r\xc3\xa9ponse, d\xe9j\xc3\xa0", "réponse, déjà"),  # one stray byte among good UTF-8
    (b"\x93quoted\x94 caf\xc3\xa9", "“quoted” café"),  # windows-1252's own characters
])
def test_utf8_with_stray_latin_bytes_reads_them_as_windows_1252(data, text):
    assert decode_bytes(data, "utf-8") == text


def test_latin1_labelled_utf8_and_plain_latin1_are_read_as_before():
    assert decode_bytes("déjà".encode("latin-1"), "utf-8") == "déjà"  # no UTF-8 at all: windows-1252, as before
    assert decode_bytes("déjà".encode(), "iso-8859-1") == "déjà"


# --- addresses ---------------------------------------------------------------------------------------------


def test_a_received_address_may_have_a_one_label_domain_a_typed_one_may_not():
    assert normalize_email("Kontakt@Redacted", received=True) == "Kontakt@redacted"
    assert normalize_email("tomá@intranet", received=True) == "tomá@intranet"
    for bad in ("kontakt@redacted", "a b@host", "x@-host", "x@ho_st"):
        with pytest.raises(InvalidInput):
            normalize_email(bad)
    for bad in ("a b@host", "x@-host", "x@ho_st", "@host", "x@"):
        with pytest.raises(InvalidInput):
            normalize_email(bad, received=True)


@pytest.mark.parametrize("address", ["kontakt@redacted", "root@localhost", "a@srv.local", "a@x.internal",
                                     "a@box.localdomain", "a@[10.0.0.1]", "a@nas.home.arpa", "a@x.invalid"])
def test_internal_and_one_label_domains_are_undeliverable(address):
    assert undeliverable(address)


@pytest.mark.parametrize("address", ["renee@example.org", "a@sub.example.co.uk", "x@bücher.de", "a@acme.test"])
def test_public_domains_are_deliverable(address):
    assert undeliverable(address) == ""


def test_mail_from_a_one_label_domain_becomes_a_ticket(world):
    mailbox = Mailbox.objects.create(organization=world.org, name="Support", address="support@acme.test")
    raw = (b"From: Kontakt <kontakt@redacted>\r\nTo: support@acme.test\r\nSubject: Hallo\r\n"
           b"Message-ID: <k-1@redacted>\r\n\r\nGuten Tag\r\n")
    inbound = intake.ingest(mailbox=mailbox, raw=raw, source="file")
    assert inbound.status == InboundStatus.IMPORTED
    ticket = Ticket.objects.select_related("customer").get(pk=inbound.ticket_id)
    assert ticket.customer.email == "kontakt@redacted" and ticket.subject == "Hallo"


def _ticket_for(world, email: str) -> Ticket:
    customer = Customer.objects.create(organization=world.org, email=email, first_name="Root")
    return services.create_ticket(organization=world.org, customer=customer, subject="Cron", body="x",
                                  actor=acting(world.agent), channel="manual")


@pytest.mark.parametrize("address", ["root@localhost", "kontakt@redacted"])
def test_nothing_is_sent_to_an_internal_address_and_the_ticket_says_so(world, queued_emails, address,
                                                                       django_capture_on_commit_callbacks):
    ticket = _ticket_for(world, address)
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(ticket=ticket, kind=MessageKind.REPLY, body="Bonjour", actor=acting(world.agent))
    [notification_id] = queued_emails
    assert send_customer_notification_email(notification_id) is False
    assert mail.outbox == []
    notification = CustomerNotification.objects.get(pk=notification_id)
    assert notification.emailed_at is None and notification.email_failed_at is not None
    failure = notification.email_failure
    assert failure.startswith("jamais envoyé, ") and address.split("@")[1] in failure
    assert send_customer_notification_email(notification_id) is False  # the task run again: still nothing
    assert mail.outbox == []
    # The ticket page and the customer record show it.
    assert selectors.ticket_page(ticket)["failed_email"] == notification
    assert selectors.failed_email_of_customer(ticket.customer) == notification


def test_a_deliverable_reply_is_still_sent(world, queued_emails, django_capture_on_commit_callbacks):
    ticket = _ticket_for(world, "root@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        services.add_message(ticket=ticket, kind=MessageKind.REPLY, body="Bonjour", actor=acting(world.agent))
    assert send_customer_notification_email(queued_emails[0]) is True
    assert [m.to for m in mail.outbox] == [["root@example.org"]]


def test_no_contact_acknowledgement_to_an_internal_address_a_note_instead(world, mailoutbox):
    from tickets.portal.emails import send_contact_acknowledgement

    ticket = _ticket_for(world, "root@localhost")
    assert send_contact_acknowledgement(ticket.pk) is False
    assert send_contact_acknowledgement(ticket.pk) is False
    assert mailoutbox == []
    [note] = Message.objects.filter(ticket=ticket, kind=MessageKind.NOTE)
    assert "root@localhost" in note.body_text and "localhost" in note.body_text.split(":", 1)[1]
