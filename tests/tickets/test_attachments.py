"""Attachments: size and type limits, magic bytes, and a refused file leaves nothing behind."""

from pathlib import Path

import pytest
from django.conf import settings
from factories import PDF, PNG, SYSTEM, acting, upload

from lumiodesk.exceptions import InvalidInput
from lumiodesk.models import Organization
from tickets import services
from tickets.attachments import MAX_FILES_PER_MESSAGE, check_uploads, safe_filename
from tickets.models import Attachment, CustomerNotification, Message, MessageKind, Status, Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """A MEDIA_ROOT of its own per test, so files left on disk can be counted."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "attachments"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.parametrize(
    "name, content, content_type",
    [
        ("capture.png", PNG, "image/png"),
        ("Capture.PNG", PNG, "image/png"),
        ("facture.pdf", PDF, "application/pdf"),
        ("journal.log", b"error 42\n", "text/plain"),
        ("export.csv", b"a,b\n1,2\n", "text/csv"),
        ("archive.zip", b"PK\x03\x04rest", "application/zip"),
    ],
)
def test_accepted_files_get_the_type_of_their_extension(name, content, content_type):
    [checked] = check_uploads([upload(name, content, content_type="application/x-whatever")])
    assert checked.content_type == content_type
    assert checked.size == len(content)
    assert len(checked.token) == 32


@pytest.mark.parametrize(
    "name, content",
    [
        ("setup.exe", b"MZ\x90\x00"),
        ("logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"),
        ("page.html", b"<html><script>alert(1)</script></html>"),
        ("page.htm", b"<html></html>"),
        ("script.js", b"alert(1)"),
        ("sans-extension", b"hello"),
        ("capture.png.exe", b"MZ"),
    ],
)
def test_forbidden_types_are_refused(name, content):
    with pytest.raises(InvalidInput, match="Type de fichier refusé"):
        check_uploads([upload(name, content)])


@pytest.mark.parametrize(
    "name, content",
    [
        ("capture.png", b"<html><script>alert(1)</script></html>"),
        ("photo.jpg", PNG),
        ("facture.pdf", b"MZ\x90\x00 not a pdf"),
        ("anim.gif", b"<svg></svg>"),
    ],
)
def test_content_must_match_the_extension(name, content):
    with pytest.raises(InvalidInput, match="ne correspond pas"):
        check_uploads([upload(name, content)])


def test_size_limit_comes_from_settings(settings):
    settings.ATTACHMENT_MAX_BYTES = 100
    check_uploads([upload("ok.txt", b"x" * 100)])
    with pytest.raises(InvalidInput, match="trop volumineux"):
        check_uploads([upload("big.txt", b"x" * 101)])


def test_empty_files_and_too_many_files_are_refused():
    with pytest.raises(InvalidInput, match="vide"):
        check_uploads([upload("vide.txt", b"")])
    with pytest.raises(InvalidInput):
        check_uploads([upload(f"f{i}.txt") for i in range(MAX_FILES_PER_MESSAGE + 1)])


@pytest.mark.parametrize(
    "raw, safe",
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\bob\\rapport.pdf", "rapport.pdf"),
        ('mauvais<>:"|?*nom.txt', "mauvaisnom.txt"),
        ("nul\x00.txt", "nul.txt"),
        ("", "fichier"),
        ("a" * 300 + ".txt", "a" * 196 + ".txt"),  # a long name keeps its extension (issue 22)
    ],
)
def test_safe_filename(raw, safe):
    assert safe_filename(raw) == safe


def test_attachments_are_stored_with_the_message(world):
    message = services.add_message(
        ticket=world.ticket,
        kind=MessageKind.REPLY,
        body="Voir la capture",
        actor=acting(world.agent),
        attachments=[upload("capture.png", PNG, "image/png")],
    )
    att = message.attachments.get()
    assert (att.filename, att.content_type, att.size) == ("capture.png", "image/png", len(PNG))
    assert att.organization_id == world.org.pk
    assert att.file.name.startswith(f"attachments/{world.org.pk}/")
    assert "capture" not in att.file.name  # stored under the random token, not the sender's name
    assert att.file.read() == PNG
    assert stored_files() == [Path(att.file.path)]


def test_a_message_with_only_an_attachment_is_accepted(world):
    message = services.add_message(
        ticket=world.ticket, kind=MessageKind.CUSTOMER, body="", attachments=[upload("log.txt", b"trace")]
    )
    assert message.attachments.count() == 1


def test_a_refused_attachment_leaves_no_message_behind(world, queued_emails, django_capture_on_commit_callbacks):
    before_messages = Message.objects.count()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(InvalidInput):
        services.add_message(
            ticket=world.ticket,
            kind=MessageKind.REPLY,
            body="Deux fichiers",
            actor=acting(world.agent),
            attachments=[upload("ok.png", PNG), upload("virus.exe", b"MZ")],
        )
    assert Message.objects.count() == before_messages
    assert Attachment.objects.count() == 0
    assert stored_files() == []
    ticket = Ticket.objects.get(pk=world.ticket.pk)
    assert ticket.status == Status.NEW
    assert ticket.first_response_at is None
    assert not CustomerNotification.objects.exists()
    assert queued_emails == []


def test_a_refused_attachment_leaves_no_ticket_behind(world):
    before = Ticket.objects.count()
    with pytest.raises(InvalidInput):
        services.create_ticket(actor=SYSTEM,
            organization=world.org,
            customer=world.customer,
            subject="Avec pièce jointe",
            body="Voir fichier",
            attachments=[upload("ok.pdf", PDF), upload("x.svg", b"<svg/>")],
        )
    assert Ticket.objects.count() == before
    assert Organization.objects.get(pk=world.org.pk).last_ticket_number == 1
    assert Attachment.objects.count() == 0
    assert stored_files() == []


def test_a_failure_while_writing_files_removes_those_already_written(world, monkeypatch):
    def broken_bulk_create(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Attachment.objects, "bulk_create", broken_bulk_create)
    with pytest.raises(OSError):
        services.add_message(
            ticket=world.ticket,
            kind=MessageKind.CUSTOMER,
            body="Fichiers",
            attachments=[upload("a.txt"), upload("b.txt")],
        )
    assert stored_files() == []
    assert Message.objects.filter(ticket=world.ticket).count() == 1
