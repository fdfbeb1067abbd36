"""The SMTP receiver, for real, on loopback.

Most tests run ``tickets.email.smtp.InboundHandler`` in an aiosmtpd ``Controller`` inside the test
process, built with the same arguments as ``manage.py smtpd`` (the size limit is read from
INBOUND_MAX_BYTES when the controller is built). The handler stores through ``sync_to_async`` in
another thread, on its own database connection: the tests are transactional so that it sees the
committed mailboxes. Parsing is queued to Celery: the queued ids are recorded and processed here.
The last test starts ``manage.py smtpd`` itself as a subprocess on this run's test database.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from tickets.email import intake
from tickets.email.models import InboundEmail, InboundStatus, Mailbox
from tickets.email.smtp import InboundHandler
from tickets.models import Channel, Status, Ticket
from tickets.tasks import process_inbound_email

pytestmark = pytest.mark.django_db(transaction=True)

CORPUS = Path(__file__).parent / "email_corpus"
BASE_DIR = Path(settings.BASE_DIR)
MAX_BYTES = 20_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Receiver:
    port: int
    queued: list[int] = field(default_factory=list)

    def client(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.port, timeout=10)

    def send(self, raw: bytes, to: list[str], sender: str = "claire.dupont@example.com") -> dict:
        with self.client() as smtp:
            return smtp.sendmail(sender, to, raw)

    def process_queued(self) -> list[InboundEmail]:
        done = [intake.process(pk) for pk in self.queued]
        self.queued.clear()
        return done


@pytest.fixture
def mailboxes(world):
    support = Mailbox.objects.create(organization=world.org, name="Support", address="support@acme.test",
                                   address_verified_at=timezone.now())
    sales = Mailbox.objects.create(organization=world.org, name="Ventes", address="sales@acme.test",
                                 address_verified_at=timezone.now())
    return support, sales


@pytest.fixture
def receiver(transactional_db, settings, monkeypatch):
    settings.INBOUND_MAX_BYTES = MAX_BYTES  # before the controller is built: it reads the limit then
    rec = Receiver(free_port())
    monkeypatch.setattr(process_inbound_email, "delay", rec.queued.append)
    controller = Controller(
        InboundHandler(),
        hostname="127.0.0.1",
        port=rec.port,
        data_size_limit=settings.INBOUND_MAX_BYTES,
        decode_data=False,
        ident="LumioDesk inbound",
    )
    controller.start()
    try:
        yield rec
    finally:
        # The handler's database connection lives in asgiref's sync thread: close it there, or the
        # test database could not be flushed and dropped.
        asyncio.run_coroutine_threadsafe(sync_to_async(connections.close_all)(), controller.loop).result(10)
        controller.stop()


def crlf_message(subject: str, body: str, mid: str) -> bytes:
    return (
        f"From: Claire Dupont <claire.dupont@example.com>\r\nTo: support@acme.test\r\nSubject: {subject}\r\n"
        f"Message-ID: <{mid}>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    ).encode()


def test_accepts_own_and_forwarding_address_stores_then_processes(world, mailboxes, receiver):
    support, _sales = mailboxes
    # A line starting with a dot checks SMTP transparency: the stored bytes are the message, exactly.
    raw = crlf_message("Problème de facture", "Bonjour,\r\n.ligne qui commence par un point\r\nRenée", "smtp-1@x.fr")
    assert receiver.send(raw, ["support@acme.test"]) == {}
    inbound = InboundEmail.objects.get(message_key="smtp-1@x.fr")
    assert inbound.source == "smtp" and inbound.mailbox == support
    assert bytes(inbound.raw) == raw
    assert inbound.envelope_from == "claire.dupont@example.com"
    assert inbound.envelope_to == ["support@acme.test"]
    assert inbound.status == InboundStatus.RECEIVED  # stored before the 250, parsed later
    assert receiver.queued == [inbound.pk]
    [done] = receiver.process_queued()
    assert done.status == InboundStatus.IMPORTED
    ticket = Ticket.objects.get(pk=done.ticket_id)
    assert ticket.subject == "Problème de facture" and ticket.channel == Channel.EMAIL
    assert ticket.customer == world.customer
    assert ticket.messages.get().body_text == "Bonjour,\n.ligne qui commence par un point\nRenée"

    forwarding = support.forwarding_address(settings.INBOUND_EMAIL_DOMAIN)
    corpus = (CORPUS / "charset_koi8r.eml").read_bytes()
    assert receiver.send(corpus, [forwarding], sender="ivan@example.ru") == {}
    inbound = InboundEmail.objects.get(message_key="koi8@example.ru")
    assert bytes(inbound.raw) == corpus and inbound.mailbox == support
    [done] = receiver.process_queued()
    assert Ticket.objects.get(pk=done.ticket_id).subject == "Проблема с оплатой"


def test_refusals(world, mailboxes, receiver):
    support, _sales = mailboxes
    raw = crlf_message("Bonjour", "Texte", "smtp-2@x.fr")
    # Unknown address: permanent refusal.
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        receiver.send(raw, ["nobody@acme.test"])
    code, text = refused.value.recipients["nobody@acme.test"]
    assert code == 550 and b"No such mailbox" in text
    # One known, one unknown: the known one gets it, the other is listed as refused.
    assert receiver.send(raw, ["support@acme.test", "ghost@acme.test"])["ghost@acme.test"][0] == 550
    assert InboundEmail.objects.count() == 1
    # Paused mailbox: temporary refusal, the sender's server keeps it and retries.
    Mailbox.objects.filter(pk=support.pk).update(paused_at=world.org.created_at)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        receiver.send(crlf_message("Pendant la pause", "x", "smtp-3@x.fr"), ["support@acme.test"])
    assert refused.value.recipients["support@acme.test"][0] == 450
    assert not InboundEmail.objects.filter(message_key="smtp-3@x.fr").exists()  # never imported later


def test_size_limit(world, mailboxes, receiver):
    big = crlf_message("Gros", ("x" * 70 + "\r\n") * (MAX_BYTES // 70 + 10), "smtp-big@x.fr")
    assert len(big) > MAX_BYTES
    # A client that declares the size (ESMTP SIZE) is refused at MAIL FROM ...
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        receiver.send(big, ["support@acme.test"])
    assert refused.value.smtp_code == 552
    # ... one that does not, after DATA.
    with receiver.client() as smtp:
        smtp.ehlo()
        assert smtp.mail("claire.dupont@example.com")[0] == 250
        assert smtp.rcpt("support@acme.test")[0] == 250
        code, text = smtp.data(big)
        assert code == 552, text
    assert not InboundEmail.objects.exists()
    # Just under the limit is fine.
    ok = crlf_message("Petit", ("y" * 70 + "\r\n") * ((MAX_BYTES - 400) // 72), "smtp-ok@x.fr")
    assert len(ok) < MAX_BYTES
    assert receiver.send(ok, ["support@acme.test"]) == {}


def test_two_mailboxes_of_the_organization_make_one_ticket(world, mailboxes, receiver):
    support, sales = mailboxes
    raw = (CORPUS / "cc_two_mailboxes.eml").read_bytes()
    assert receiver.send(raw, ["support@acme.test", "sales@acme.test"]) == {}
    rows = list(InboundEmail.objects.order_by("id"))
    assert [(r.mailbox_id, r.status) for r in rows] == [
        (support.pk, InboundStatus.RECEIVED),
        (sales.pk, InboundStatus.DUPLICATE),
    ]
    assert all(bytes(r.raw) == raw for r in rows)
    assert rows[0].envelope_to == ["support@acme.test", "sales@acme.test"]
    receiver.process_queued()
    # The copy that reached the other mailbox by another delivery is a duplicate too.
    assert receiver.send(raw, ["sales@acme.test"]) == {}
    assert receiver.queued == []
    tickets = Ticket.objects.filter(organization=world.org, subject="Question commerciale")
    assert tickets.count() == 1 and tickets.get().messages.count() == 1
    assert intake.outcome_of(InboundEmail.objects.order_by("id").last()).ticket_number == tickets.get().number


def test_null_sender_is_automatic(world, mailboxes, receiver):
    """MAIL FROM:<> is a bounce or an auto-reply (RFC 5321 4.5.5): accepted, kept, a ticket marked automatic
    (issue 22), no answer. Our receiver is the final delivery: there is no Return-Path header, only the
    envelope says it."""
    raw = crlf_message("Réponse automatique", "Je suis absente.", "smtp-null@x.fr")
    assert b"Return-Path" not in raw and b"Auto-Submitted" not in raw
    assert receiver.send(raw, ["support@acme.test"], sender="<>") == {}
    [done] = receiver.process_queued()
    assert done.envelope_from == "<>"
    assert done.status == InboundStatus.IMPORTED
    assert done.reason == "message automatique : null sender"
    assert Ticket.objects.get(organization=world.org, channel=Channel.EMAIL).is_automatic


def test_broker_down_processes_inline_and_database_down_answers_451(world, mailboxes, receiver, monkeypatch):
    def broker_down(pk):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(process_inbound_email, "delay", broker_down)
    raw = (CORPUS / "plain_ascii.eml").read_bytes()
    assert receiver.send(raw, ["support@acme.test"]) == {}
    inbound = InboundEmail.objects.get(message_key="plain-ascii@example.com")
    assert inbound.status == InboundStatus.IMPORTED  # parsed right away rather than lost
    assert Ticket.objects.get(pk=inbound.ticket_id).status == Status.NEW

    def db_down(*args, **kwargs):
        raise OSError("database unavailable")

    monkeypatch.setattr("tickets.email.smtp.receive", db_down)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        receiver.send(crlf_message("Plus tard", "x", "smtp-451@x.fr"), ["support@acme.test"])
    assert refused.value.smtp_code == 451  # temporary: the sending server keeps the message
    # Down already when the recipient is looked up: temporary too, and no internals in the answer.
    monkeypatch.setattr("tickets.email.smtp.find_mailbox", db_down)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        receiver.send(crlf_message("Plus tard", "x", "smtp-451@x.fr"), ["support@acme.test"])
    code, text = refused.value.recipients["support@acme.test"]
    assert code == 451 and b"database" not in text
    assert not InboundEmail.objects.filter(message_key="smtp-451@x.fr").exists()


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] or "postgres"
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.mark.slow  # starts the real command in a process of its own
def test_manage_py_smtpd(world, mailboxes, tmp_path):
    """The real command: its --port, the size limit from the environment, 550/552, and the message
    imported (the broker is unreachable here, so the receiver parses inline instead of queueing)."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": "redis://127.0.0.1:1/15",  # nothing listens there: Celery cannot take the task
        "INBOUND_MAX_BYTES": "5000",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "lumiodesk.settings",
        "PYTHONUNBUFFERED": "1",
        "DB_CONN_MAX_AGE": "0",
    }
    log_path = tmp_path / "smtpd.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "smtpd", "--host", "127.0.0.1", "--port", str(port)],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "listening" not in log_path.read_text():
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        assert f"SMTP receiver listening on 127.0.0.1:{port} (max 5000 bytes" in log_path.read_text()
        raw = (CORPUS / "rfc2231_filename.eml").read_bytes()
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as smtp:
            assert smtp.sendmail("claire.dupont@example.com", ["support@acme.test"], raw) == {}
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                smtp.sendmail("claire.dupont@example.com", ["nobody@acme.test"], raw)
            assert refused.value.recipients["nobody@acme.test"][0] == 550
            with pytest.raises(smtplib.SMTPSenderRefused) as too_big:
                smtp.sendmail("claire.dupont@example.com", ["support@acme.test"], raw + b"x" * 6000 + b"\r\n")
            assert too_big.value.smtp_code == 552
        inbound = InboundEmail.objects.get()
        assert bytes(inbound.raw) == raw and inbound.source == "smtp"
        assert inbound.status == InboundStatus.IMPORTED
        message = Ticket.objects.get(pk=inbound.ticket_id).messages.get()
        assert message.attachments.get().filename == "facture février 2025.pdf"
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert "SMTP receiver stopped." in log_path.read_text()


# --- own addresses: only verified ones route (issue 15, item 5) --------------------------------------------


def test_another_tenant_registering_a_verified_address_changes_nothing(world, mailboxes, receiver, queued_tasks):
    """Before: Globex's admin registered support@acme.test and Acme's mail bounced (550, "used by several
    organizations"). Now the receiver keeps answering for Acme, whose address is verified."""
    import factories as f

    from lumiodesk.models import Role
    from tickets.email.mailboxes import create_mailbox

    support, _sales = mailboxes
    globex_admin = f.member(world.other_org, Role.ADMIN, email="gadmin@globex.test")
    claim = create_mailbox(organization=world.other_org, name="Pris", address="SUPPORT@acme.test",
                           actor=f.acting(globex_admin))
    assert not claim.is_verified
    assert queued_tasks == []  # no verification email to an address another organization holds verified
    assert receiver.send(crlf_message("Toujours chez Acme", "x", "smtp-claim@x.fr"), ["support@acme.test"]) == {}
    assert InboundEmail.objects.get(message_key="smtp-claim@x.fr").mailbox == support
    assert intake.find_mailbox("Support@Acme.test") == support


def test_unverified_own_address_routes_nowhere_forwarding_address_works(world, receiver, queued_tasks):
    """Before: the first organization to type an address nobody had registered received its mail. Now an
    unverified address is refused (550) until verified; the forwarding address works from the start."""
    box = Mailbox.objects.create(organization=world.other_org, name="Libre", address="help@free.test")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        receiver.send(crlf_message("Pour qui ?", "x", "smtp-free@x.fr"), ["help@free.test"])
    assert refused.value.recipients["help@free.test"][0] == 550
    assert not InboundEmail.objects.exists()
    forwarding = box.forwarding_address(settings.INBOUND_EMAIL_DOMAIN)
    assert receiver.send(crlf_message("Par le transfert", "x", "smtp-fwd@x.fr"), [forwarding]) == {}
    assert InboundEmail.objects.get().mailbox == box

    Mailbox.objects.filter(pk=box.pk).update(address_verified_at=timezone.now())
    assert receiver.send(crlf_message("Vérifiée", "x", "smtp-verified@x.fr"), ["help@free.test"]) == {}
    assert InboundEmail.objects.get(message_key="smtp-verified@x.fr").mailbox == box
