"""A mailbox's own SMTP server goes through the outbound guard: a real SMTP receiver on loopback gets the mail
only when the server's administrator allows loopback (WEBHOOK_ALLOWED_NETWORKS); otherwise nothing connects."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller
from django.core.mail import EmailMessage, get_connection
from imap_server import free_port

from tickets.email.server_connections import RefusedServer


class _Inbox:
    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.received.append(envelope.content)
        return "250 OK"


@pytest.fixture
def receiver():
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def _send(port: int) -> None:
    connection = get_connection("tickets.email.server_connections.GuardedSMTPBackend", host="localhost",
                                port=port, timeout=5)
    EmailMessage("Objet", "Corps", "support@acme.test", ["client@example.com"], connection=connection).send()


def test_loopback_is_reached_only_when_allowed(receiver, settings):
    controller, inbox = receiver
    settings.WEBHOOK_ALLOWED_NETWORKS = ()
    with pytest.raises(RefusedServer, match="Serveur refusé"):
        _send(controller.port)
    assert inbox.received == []

    settings.WEBHOOK_ALLOWED_NETWORKS = ("127.0.0.0/8", "::1/128")
    _send(controller.port)
    assert len(inbox.received) == 1 and b"Subject: Objet" in inbox.received[0]


@pytest.mark.parametrize("host", ["10.1.2.3", "169.254.169.254", "0.0.0.0", "[::1]", "192.168.0.10"])
def test_internal_addresses_are_refused_before_any_connection(host, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ()
    connection = get_connection("tickets.email.server_connections.GuardedSMTPBackend", host=host.strip("[]"),
                                port=25, timeout=1)
    with pytest.raises(RefusedServer):
        connection.open()


@pytest.mark.django_db
def test_saving_a_mailbox_with_an_internal_server_is_refused_with_the_reason(settings):
    import factories as f
    from factories import acting

    from lumiodesk.exceptions import InvalidInput
    from lumiodesk.models import Role
    from tickets.email import mailboxes
    from tickets.email.models import Mailbox

    settings.WEBHOOK_ALLOWED_NETWORKS = ()
    org = f.OrganizationFactory(plan="business")
    admin = f.member(org, Role.ADMIN)
    mailbox = Mailbox.objects.create(organization=org, name="Support", address="support@acme.test")
    for field, host in [("imap_host", "127.0.0.1"), ("smtp_host", "localhost"), ("imap_host", "10.0.0.5")]:
        connection = {"imap_user": "u", "imap_port": 993, "smtp_port": 587, field: host}
        mailbox = Mailbox.objects.get(pk=mailbox.pk)  # as each request loads it
        with pytest.raises(InvalidInput, match="Serveur refusé"):
            mailboxes.update_mailbox(mailbox=mailbox, actor=acting(admin, org), name="Support", connection=connection)
        assert Mailbox.objects.get(pk=mailbox.pk).imap_host == ""  # nothing half-saved
    # A public name that does not resolve yet is accepted: the connection checks again.
    mailbox = Mailbox.objects.get(pk=mailbox.pk)
    mailboxes.update_mailbox(mailbox=mailbox, actor=acting(admin, org), name="Support",
                             connection={"imap_host": "imap.unresolvable.invalid", "imap_user": "u", "imap_port": 993})
    assert Mailbox.objects.get(pk=mailbox.pk).imap_host == "imap.unresolvable.invalid"
