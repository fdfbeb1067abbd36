"""IMAP polling against a real Dovecot server started for the test session (tests/imap_server.py)."""

from __future__ import annotations

import imaplib
import threading
from datetime import timedelta

import factories as f
import pytest
from django.db import connection
from django.utils import timezone
from factories import acting
from imap_server import DovecotServer, DovecotUnavailable, free_port

from lumiodesk.models import AuditLog, Role
from tickets.email import imap
from tickets.email.models import InboundEmail, InboundStatus, Mailbox
from tickets.email.services import pause_mailbox, resume_mailbox
from tickets.models import Message, MessageKind, Ticket
from tickets.tasks import poll_imap_mailbox, poll_imap_mailboxes

pytestmark = pytest.mark.django_db


# --- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dovecot():
    """One private Dovecot per test session (per xdist worker), on a free loopback port."""
    server = DovecotServer()
    try:
        server.start()
    except DovecotUnavailable as exc:
        pytest.fail(f"the IMAP tests need a real Dovecot server: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    """Dovecot listens on loopback, which mailboxes may only reach when the server's administrator allows it
    (tickets/email/server_connections.py)."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ("127.0.0.0/8",)


@pytest.fixture
def account(dovecot):
    return dovecot.new_account()


@pytest.fixture
def business_org():
    return f.OrganizationFactory(name="Initech", plan="business")


@pytest.fixture
def admin(business_org):
    return f.member(business_org, Role.ADMIN, email="admin@initech.test")


def imap_mailbox(org, dovecot: DovecotServer, account, **fields) -> Mailbox:
    mailbox = Mailbox(
        organization=org,
        name="Support",
        address=f"support@{org.slug}.test",
        imap_host=dovecot.host,
        imap_port=dovecot.port,
        imap_ssl=False,
        imap_user=account.user,
        **fields,
    )
    mailbox.set_imap_password(account.password)
    mailbox.save()
    return mailbox


@pytest.fixture
def mailbox(business_org, dovecot, account):
    return imap_mailbox(business_org, dovecot, account)


def email(
    subject: str,
    msgid: str,
    *,
    sender: str = "claire@example.com",
    body: str = "Bonjour,\nmon souci.",
    in_reply_to: str = "",
) -> bytes:
    headers = [
        f"From: Claire Dupont <{sender}>",
        "To: support@initech.test",
        f"Subject: {subject}",
        f"Message-ID: <{msgid}>",
        "Date: Mon, 02 Jun 2025 10:00:00 +0200",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if in_reply_to:
        headers += [f"In-Reply-To: <{in_reply_to}>", f"References: <{in_reply_to}>"]
    return ("\r\n".join(headers) + "\r\n\r\n" + body.replace("\n", "\r\n") + "\r\n").encode()


def tickets_of(org) -> list[str]:
    return list(Ticket.objects.filter(organization=org).order_by("number").values_list("subject", flat=True))


# --- polling -----------------------------------------------------------------------------------------


def test_appended_messages_become_tickets_once(dovecot, account, mailbox, business_org):
    uid1 = dovecot.append(account, email("Imprimante en panne", "a1@example.com"))
    uid2 = dovecot.append(account, email("Accès VPN", "a2@example.com", sender="bob@example.com"))

    assert imap.poll_mailbox(mailbox.pk) == 2

    assert tickets_of(business_org) == ["Imprimante en panne", "Accès VPN"]
    inbound = list(InboundEmail.objects.filter(mailbox=mailbox).order_by("pk"))
    assert [(i.source, i.status) for i in inbound] == [("imap", InboundStatus.IMPORTED)] * 2
    assert inbound[0].ticket.customer.email == "claire@example.com"
    mailbox.refresh_from_db()
    assert mailbox.imap_last_uid == uid2 > uid1
    assert mailbox.imap_uidvalidity == dovecot.uidvalidity(account)
    assert mailbox.imap_last_error == ""
    assert mailbox.imap_last_polled_at is not None
    # BODY.PEEK: the messages stay unread on the server.
    assert "\\Seen" not in dovecot.flags(account, uid1)

    # Polling again, or after a restart (nothing in memory, only what the mailbox row remembers):
    assert imap.poll_mailbox(mailbox.pk) == 0
    assert imap.poll_mailbox(Mailbox.objects.get(pk=mailbox.pk).pk) == 0
    assert InboundEmail.objects.filter(mailbox=mailbox).count() == 2
    assert len(tickets_of(business_org)) == 2


def test_only_new_messages_are_fetched_after_a_restart(dovecot, account, mailbox, business_org):
    dovecot.append(account, email("Premier", "r1@example.com"))
    assert imap.poll_mailbox(mailbox.pk) == 1
    dovecot.append(account, email("Deuxième", "r2@example.com"))
    dovecot.append(account, email("Troisième", "r3@example.com"))

    assert imap.poll_mailbox(mailbox.pk) == 2

    assert tickets_of(business_org) == ["Premier", "Deuxième", "Troisième"]
    assert not InboundEmail.objects.filter(mailbox=mailbox, status=InboundStatus.DUPLICATE).exists()


def test_a_large_backlog_is_fetched_in_batches_over_several_polls(dovecot, account, mailbox, business_org, monkeypatch):
    monkeypatch.setattr(imap, "FETCH_BATCH", 2)
    monkeypatch.setattr(imap, "MAX_MESSAGES_PER_POLL", 5)
    for i in range(7):
        dovecot.append(account, email(f"Arriéré {i}", f"b{i}@example.com"))

    assert imap.poll_mailbox(mailbox.pk) == 5
    assert imap.poll_mailbox(mailbox.pk) == 2
    assert imap.poll_mailbox(mailbox.pk) == 0

    assert tickets_of(business_org) == [f"Arriéré {i}" for i in range(7)]


def test_a_crash_between_two_messages_neither_skips_nor_reimports(dovecot, account, mailbox, business_org, monkeypatch):
    uid1 = dovecot.append(account, email("Un", "c1@example.com"))
    dovecot.append(account, email("Deux", "c2@example.com"))
    dovecot.append(account, email("Trois", "c3@example.com"))
    real_store, calls = imap._store, []

    def crash_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionResetError("worker lost the connection")
        return real_store(*args, **kwargs)

    monkeypatch.setattr(imap, "_store", crash_on_second)
    with pytest.raises(ConnectionResetError):
        imap.poll_mailbox(mailbox.pk)
    mailbox.refresh_from_db()
    assert mailbox.imap_last_uid == uid1
    assert "ConnectionResetError" in mailbox.imap_last_error

    monkeypatch.setattr(imap, "_store", real_store)
    assert imap.poll_mailbox(mailbox.pk) == 2

    assert tickets_of(business_org) == ["Un", "Deux", "Trois"]
    assert InboundEmail.objects.filter(mailbox=mailbox).count() == 3
    mailbox.refresh_from_db()
    assert mailbox.imap_last_error == ""


def test_a_message_stored_but_not_parsed_is_parsed_by_the_next_poll(
    dovecot, account, mailbox, business_org, monkeypatch
):
    dovecot.append(account, email("Stocké", "s1@example.com"))
    monkeypatch.setattr(imap.intake, "process", lambda pk: None)  # the worker dies right after the commit
    imap.poll_mailbox(mailbox.pk)
    assert InboundEmail.objects.get(mailbox=mailbox).status == InboundStatus.RECEIVED
    monkeypatch.undo()

    assert imap.poll_mailbox(mailbox.pk) == 0

    assert InboundEmail.objects.get(mailbox=mailbox).status == InboundStatus.IMPORTED
    assert tickets_of(business_org) == ["Stocké"]


def test_a_reply_threads_into_the_existing_ticket(dovecot, account, mailbox, business_org):
    dovecot.append(account, email("Facture de mars", "orig@example.com"))
    imap.poll_mailbox(mailbox.pk)
    ticket = Ticket.objects.get(organization=business_org)

    dovecot.append(
        account,
        email("Re: Facture de mars", "reply@example.com", body="Toujours rien.", in_reply_to="orig@example.com"),
    )
    assert imap.poll_mailbox(mailbox.pk) == 1

    assert Ticket.objects.filter(organization=business_org).count() == 1
    customer_messages = Message.objects.filter(ticket=ticket, kind=MessageKind.CUSTOMER).order_by("created_at", "pk")
    assert [m.body_text for m in customer_messages][-1] == "Toujours rien."
    assert InboundEmail.objects.filter(mailbox=mailbox, ticket=ticket).count() == 2


def test_uidvalidity_change_reads_again_as_duplicates(dovecot, account, mailbox, business_org):
    dovecot.append(account, email("Alpha", "u1@example.com"))
    dovecot.append(account, email("Beta", "u2@example.com"))
    imap.poll_mailbox(mailbox.pk)
    old = Mailbox.objects.get(pk=mailbox.pk).imap_uidvalidity

    dovecot.set_uidvalidity(account, old + 1000)
    dovecot.append(account, email("Gamma", "u3@example.com"))
    assert imap.poll_mailbox(mailbox.pk) == 1

    assert tickets_of(business_org) == ["Alpha", "Beta", "Gamma"]
    duplicates = InboundEmail.objects.filter(mailbox=mailbox, status=InboundStatus.DUPLICATE)
    assert sorted(d.message_key for d in duplicates) == ["u1@example.com", "u2@example.com"]
    assert all(d.duplicate_of_id and d.ticket_id for d in duplicates)
    mailbox.refresh_from_db()
    assert mailbox.imap_uidvalidity == old + 1000
    assert imap.poll_mailbox(mailbox.pk) == 0


def test_recreated_folder_with_a_non_ascii_name(dovecot, account, business_org):
    folder = 'Reçus "clients" & co'
    dovecot.create_folder(account, folder)
    mailbox = imap_mailbox(business_org, dovecot, account, imap_folder=folder)
    no_id = b"From: anon@example.com\r\nSubject: Sans identifiant\r\n\r\nPas de Message-ID.\r\n"
    dovecot.append(account, email("Dossier", "f1@example.com"), folder=folder)
    dovecot.append(account, no_id, folder=folder)
    assert imap.poll_mailbox(mailbox.pk) == 2

    # Deleted and re-created: UIDs start again at 1 under a new UIDVALIDITY.
    dovecot.recreate_folder(account, folder)
    dovecot.append(account, email("Dossier", "f1@example.com"), folder=folder)
    dovecot.append(account, no_id, folder=folder)
    dovecot.append(account, email("Nouveau", "f2@example.com"), folder=folder)
    assert imap.poll_mailbox(mailbox.pk) == 1

    assert tickets_of(business_org) == ["Dossier", "Sans identifiant", "Nouveau"]
    assert InboundEmail.objects.filter(mailbox=mailbox, status=InboundStatus.DUPLICATE).count() == 2
    assert Mailbox.objects.get(pk=mailbox.pk).imap_last_uid == 3


def test_a_message_above_the_size_limit_is_quarantined_with_its_headers(dovecot, account, mailbox, settings):
    settings.INBOUND_MAX_BYTES = 2_000
    big = email("Énorme pièce jointe", "big@example.com", body="x" * 5_000)
    uid = dovecot.append(account, big)

    assert imap.poll_mailbox(mailbox.pk) == 1

    inbound = InboundEmail.objects.get(mailbox=mailbox)
    assert inbound.status == InboundStatus.QUARANTINED
    assert "taille maximale" in inbound.reason
    assert b"Subject:" in bytes(inbound.raw) and b"xxxx" not in bytes(inbound.raw)
    assert Mailbox.objects.get(pk=mailbox.pk).imap_last_uid == uid


# --- plans, poll_all and the Celery tasks ------------------------------------------------------------


def test_poll_all_queues_only_business_and_scale_mailboxes(dovecot, business_org, monkeypatch):
    queued = []
    monkeypatch.setattr(poll_imap_mailbox, "apply_async", lambda args, **kw: queued.append(args[0]))
    business = imap_mailbox(business_org, dovecot, dovecot.new_account())
    scale = imap_mailbox(f.OrganizationFactory(plan="scale"), dovecot, dovecot.new_account())
    starter = imap_mailbox(f.OrganizationFactory(plan="starter"), dovecot, dovecot.new_account())
    paused = imap_mailbox(
        f.OrganizationFactory(plan="business"), dovecot, dovecot.new_account(), paused_at=timezone.now()
    )
    inactive = imap_mailbox(f.OrganizationFactory(plan="business"), dovecot, dovecot.new_account(), is_active=False)
    Mailbox.objects.create(organization=business_org, name="Transfert", address="fwd@initech.test")

    assert poll_imap_mailboxes() == 2

    assert sorted(queued) == sorted([business.pk, scale.pk])
    assert {starter.pk, paused.pk, inactive.pk}.isdisjoint(queued)


def test_a_starter_mailbox_is_not_polled(dovecot, account):
    starter = f.OrganizationFactory(plan="starter")
    mailbox = imap_mailbox(starter, dovecot, account)
    dovecot.append(account, email("Starter", "st@example.com"))

    assert imap.poll_mailbox(mailbox.pk) == 0

    assert not InboundEmail.objects.filter(mailbox=mailbox).exists()
    mailbox.refresh_from_db()
    assert mailbox.imap_last_polled_at is None and mailbox.imap_uidvalidity is None


def test_the_celery_task_polls_the_mailbox(dovecot, account, mailbox, business_org):
    dovecot.append(account, email("Par la tâche", "t1@example.com"))

    assert poll_imap_mailbox(mailbox.pk) == 1
    assert poll_imap_mailbox(mailbox.pk) == 0
    assert tickets_of(business_org) == ["Par la tâche"]


def test_errors_are_recorded_on_the_mailbox_and_raised(dovecot, account, mailbox):
    Mailbox.objects.filter(pk=mailbox.pk).update(imap_port=free_port())  # nothing listens there
    with pytest.raises(OSError):
        poll_imap_mailbox(mailbox.pk)  # OSError: the task retries
    assert Mailbox.objects.get(pk=mailbox.pk).imap_last_error.startswith("ConnectionRefusedError")

    mailbox = Mailbox.objects.get(pk=mailbox.pk)
    mailbox.imap_port = dovecot.port
    mailbox.set_imap_password("wrong-password")
    mailbox.save()
    with pytest.raises(imaplib.IMAP4.error):
        imap.poll_mailbox(mailbox.pk)
    assert "AUTHENTICATIONFAILED" in Mailbox.objects.get(pk=mailbox.pk).imap_last_error

    mailbox.imap_folder = "Inexistant"
    mailbox.set_imap_password(account.password)
    mailbox.save()
    with pytest.raises(imap.ImapCommandFailed, match="SELECT Inexistant"):
        imap.poll_mailbox(mailbox.pk)


def test_a_server_on_an_internal_address_is_never_contacted(dovecot, account, mailbox, settings):
    """Without WEBHOOK_ALLOWED_NETWORKS a mailbox cannot name a loopback or private server: no connection, and
    the error on the mailbox says why without telling which ports answer."""
    settings.WEBHOOK_ALLOWED_NETWORKS = ()
    for host, port in [(dovecot.host, dovecot.port), ("127.0.0.1", free_port()), ("localhost", 6379),
                       ("10.0.0.1", 143), ("169.254.169.254", 80), ("2130706433", dovecot.port)]:
        Mailbox.objects.filter(pk=mailbox.pk).update(imap_host=host, imap_port=port)
        with pytest.raises(OSError):
            poll_imap_mailbox(mailbox.pk)
        error = Mailbox.objects.get(pk=mailbox.pk).imap_last_error
        assert "Serveur refusé" in error and "ConnectionRefused" not in error, (host, error)
    assert InboundEmail.objects.count() == 0


# --- pause and resume --------------------------------------------------------------------------------


def test_pause_and_resume_skip_what_arrived_during_the_pause(
    dovecot, account, mailbox, business_org, admin, monkeypatch
):
    now = timezone.now()
    dovecot.append(account, email("Déjà importé", "p0@example.com"), when=now - timedelta(hours=1))
    imap.poll_mailbox(mailbox.pk)
    # Arrived before the pause, not fetched yet.
    dovecot.append(account, email("Avant la pause", "p1@example.com"), when=now - timedelta(minutes=10))

    pause_mailbox(mailbox=mailbox, actor=acting(admin))
    # The pause started five minutes ago (INTERNALDATE has whole seconds: keep clear of the boundary).
    Mailbox.objects.filter(pk=mailbox.pk).update(paused_at=now - timedelta(minutes=5))
    during = dovecot.append(account, email("Pendant la pause", "p2@example.com"), when=now - timedelta(minutes=2))
    assert imap.poll_mailbox(mailbox.pk) == 0
    assert not InboundEmail.objects.filter(message_key__in=["p1@example.com", "p2@example.com"]).exists()
    assert Mailbox.objects.get(pk=mailbox.pk).paused_at is not None  # history kept, nothing fetched

    fetched = []
    real_fetch = imap._fetch
    monkeypatch.setattr(
        imap, "_fetch", lambda client, uids, item: fetched.extend(uids) or real_fetch(client, uids, item)
    )
    mailbox = resume_mailbox(mailbox=Mailbox.objects.select_related("organization").get(pk=mailbox.pk),
                             actor=acting(admin))

    assert not mailbox.is_paused
    assert during not in fetched  # skipped without downloading it
    assert tickets_of(business_org) == ["Déjà importé", "Avant la pause"]
    assert not InboundEmail.objects.filter(message_key="p2@example.com").exists()
    assert mailbox.imap_last_uid == during
    skipped = AuditLog.objects.get(action=imap.AUDIT_BACKLOG_SKIPPED, target_id=mailbox.pk)
    assert (skipped.data["skipped"], skipped.data["imported"]) == (1, 1)
    assert list(
        AuditLog.objects.filter(target_type="mailbox", target_id=mailbox.pk)
        .order_by("pk")
        .values_list("action", flat=True)
    ) == [imap.AUDIT_PAUSED, imap.AUDIT_RESUMED, imap.AUDIT_BACKLOG_SKIPPED]

    dovecot.append(account, email("Après la reprise", "p3@example.com"))
    assert imap.poll_mailbox(mailbox.pk) == 1
    assert tickets_of(business_org) == ["Déjà importé", "Avant la pause", "Après la reprise"]
    assert not InboundEmail.objects.filter(message_key="p2@example.com").exists()


def test_resume_with_the_server_down_skips_the_pause_on_the_next_poll(dovecot, account, mailbox, business_org, admin):
    now = timezone.now()
    pause_mailbox(mailbox=mailbox, actor=acting(admin))
    Mailbox.objects.filter(pk=mailbox.pk).update(paused_at=now - timedelta(minutes=5), imap_port=free_port())
    dovecot.append(account, email("Pendant la pause", "d1@example.com"), when=now - timedelta(minutes=1))

    mailbox = resume_mailbox(
        mailbox=Mailbox.objects.select_related("organization").get(pk=mailbox.pk), actor=acting(admin)
    )  # does not raise

    assert not mailbox.is_paused
    assert mailbox.imap_last_error.startswith("ConnectionRefusedError")
    Mailbox.objects.filter(pk=mailbox.pk).update(imap_port=dovecot.port)
    dovecot.append(account, email("Après la reprise", "d2@example.com"))

    assert imap.poll_mailbox(mailbox.pk) == 1

    assert tickets_of(business_org) == ["Après la reprise"]
    assert not InboundEmail.objects.filter(message_key="d1@example.com").exists()
    assert AuditLog.objects.filter(action=imap.AUDIT_BACKLOG_SKIPPED, target_id=mailbox.pk).count() == 1
    assert imap.pending_pause_windows(mailbox) == []
    assert Mailbox.objects.get(pk=mailbox.pk).imap_last_error == ""


def test_pause_and_resume_are_for_admins(mailbox, business_org):
    from lumiodesk.exceptions import NotPermitted

    agent = f.member(business_org, Role.AGENT)
    with pytest.raises(NotPermitted):
        pause_mailbox(mailbox=mailbox, actor=acting(agent))
    assert not Mailbox.objects.get(pk=mailbox.pk).is_paused


# --- two workers at once -----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("advisory", [True, False], ids=["advisory-lock", "row-lock-only"])
def test_two_concurrent_polls_import_each_message_once(dovecot, account, mailbox, business_org, monkeypatch, advisory):
    for i in range(6):  # one sender each: this test is about fetching, not about creating customers
        dovecot.append(account, email(f"Concurrent {i}", f"cc{i}@example.com", sender=f"client{i}@example.com"))
    if not advisory:  # even without the lock, the row lock and the last-UID check hold
        import contextlib

        monkeypatch.setattr(imap, "advisory_lock", lambda mailbox_id, wait=0: contextlib.nullcontext(True))
    barrier, results, errors = threading.Barrier(2), [], []

    def worker():
        try:
            barrier.wait(timeout=10)
            results.append(imap.poll_mailbox(mailbox.pk))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    assert sum(results) == 6
    assert InboundEmail.objects.filter(mailbox=mailbox).count() == 6
    assert not InboundEmail.objects.filter(mailbox=mailbox).exclude(status=InboundStatus.IMPORTED).exists()
    assert len(tickets_of(business_org)) == 6


# --- helpers -----------------------------------------------------------------------------------------


def test_internaldate_and_folder_names():
    assert imap.parse_internaldate("17-Jul-1996 02:44:25 -0700").isoformat() == "1996-07-17T09:44:25+00:00"
    assert imap.parse_internaldate(" 7-Jan-2025 00:00:00 +0100").isoformat() == "2025-01-06T23:00:00+00:00"
    assert imap.parse_internaldate("garbage") is None
    assert imap.encode_folder("INBOX") == "INBOX"
    assert imap.encode_folder("Envoyés") == "Envoy&AOk-s"
    assert imap.encode_folder("R&D") == "R&-D"
    assert imap.encode_folder("Envoy&AOk-s") == "Envoy&AOk-s"  # already encoded
    # INTERNALDATE after the literal: continuation items belong to the message before.
    items = imap._fetch_items(
        [
            (b"1 (UID 7 BODY[] {3}", b"abc"),
            b' INTERNALDATE "01-Feb-2025 10:00:00 +0000")',
            b'2 (UID 8 INTERNALDATE "01-Feb-2025 10:00:00 +0000" RFC822.SIZE 10)',
        ]
    )
    assert [(t.count(b"INTERNALDATE"), lit) for t, lit in items] == [(1, b"abc"), (1, None)]
