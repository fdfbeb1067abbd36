"""Issue 22, through the real intake (``intake.ingest``): nothing a customer sent is lost.

- the file after a nested multipart that reuses its parent's boundary reaches the ticket;
- bytes that look like a part but cannot be split are kept as received, as an attachment
  (``partie-illisible-1.eml``), and a note on the ticket names them;
- a file whose base64 was cut short is decoded as far as it goes, and the note says it may be incomplete.
"""

from __future__ import annotations

import base64

import pytest

from tickets.email import intake
from tickets.email.models import InboundStatus, Mailbox
from tickets.models import Attachment, MessageKind, Ticket

ZIP = b"PK\x03\x04" + bytes(range(200))


@pytest.fixture
def support(world):
    return Mailbox.objects.create(organization=world.org, name="Support", address="support@acme.test")


def mail(body: str) -> bytes:
    return (
        "From: Renée Martin <renee.martin@example.org>\nTo: support@acme.test\nSubject: Fichiers\n"
        "MIME-Version: 1.0\n" + body
    ).encode()


def ticket_of(inbound) -> Ticket:
    assert inbound.status == InboundStatus.IMPORTED, inbound.reason
    return Ticket.objects.get(pk=inbound.ticket_id)


def test_the_file_after_a_reused_boundary_reaches_the_ticket(world, support):
    raw = mail(
        'Content-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: multipart/alternative; boundary="B"\n\n'
        "--B\nContent-Type: text/plain\n\nVoici l'archive.\n--B\nContent-Type: text/html\n\n<p>Voici l'archive.</p>\n"
        '--B--\n\n--B\nContent-Type: application/zip; name="photos.zip"\nContent-Transfer-Encoding: base64\n\n'
        f"{base64.encodebytes(ZIP).decode()}--B--\n"
    )
    ticket = ticket_of(intake.ingest(mailbox=support, raw=raw, source="file"))
    attachment = Attachment.objects.get(message__ticket=ticket)
    assert attachment.filename == "photos.zip" and attachment.file.read() == ZIP
    assert not ticket.messages.filter(kind=MessageKind.NOTE).exists()  # nothing to say: nothing was lost


def test_an_unreadable_part_is_kept_raw_and_named_in_a_note(world, support):
    junk = 'Content-Type: application/pdf; name="perdu.pdf"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n'
    raw = mail(
        f'Content-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain\n\nBonjour.\n--B--\n{junk}'
    )
    ticket = ticket_of(intake.ingest(mailbox=support, raw=raw, source="file"))
    attachment = Attachment.objects.get(message__ticket=ticket)
    assert (attachment.filename, attachment.content_type) == ("partie-illisible-1.eml", "message/rfc822")
    assert b"perdu.pdf" in attachment.file.read()
    note = ticket.messages.get(kind=MessageKind.NOTE)
    assert note.body_text == (
        "Parties du message illisibles, conservées telles quelles en pièce jointe :\n- partie-illisible-1.eml"
    )


def test_a_file_cut_short_is_kept_with_a_note(world, support):
    data = b"%PDF-1.4 " + bytes(range(256)) * 3
    encoded = base64.b64encode(data).decode()
    cut = encoded[: len(encoded) - (len(encoded) % 4) - 3]
    raw = mail(
        'Content-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain\n\nLa facture.\n'
        '--B\nContent-Type: application/pdf\nContent-Disposition: attachment; filename="facture.pdf"\n'
        f"Content-Transfer-Encoding: base64\n\n{cut}\n--B--\n"
    )
    ticket = ticket_of(intake.ingest(mailbox=support, raw=raw, source="file"))
    attachment = Attachment.objects.get(message__ticket=ticket)
    assert attachment.filename == "facture.pdf" and data.startswith(attachment.file.read())
    note = ticket.messages.get(kind=MessageKind.NOTE)
    assert note.body_text == (
        "Pièces jointes incomplètes dans l'email reçu (décodées jusqu'où elles vont) :\n- facture.pdf"
    )
