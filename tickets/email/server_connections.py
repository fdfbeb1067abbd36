"""Connections to the IMAP and SMTP servers an admin typed in a mailbox's settings.

They go through the same guard as webhooks (``lumiodesk.outbound``): the host is resolved once, every address
it resolves to is checked (no loopback, private, link-local, metadata… unless ``WEBHOOK_ALLOWED_NETWORKS``
allows it; never LumioDesk itself), and the socket connects to the address that was checked while TLS still
verifies the certificate against the typed host name. Without it, a mailbox's "server" could be Redis or
PostgreSQL on the machine, and the error shown on the mailbox page would tell which ports answer.
"""

from __future__ import annotations

import imaplib
import smtplib
import socket

from django.core.mail.backends.smtp import EmailBackend
from django.utils.translation import gettext as _

from lumiodesk import outbound


class RefusedServer(smtplib.SMTPConnectError):
    """The server's address is one LumioDesk never connects to (an OSError, like every connection failure,
    so the callers' retries and error reports treat it as one)."""

    def __init__(self, host: str):
        message = _(
            "Serveur refusé : %(host)s n'est pas une adresse publique. Un réseau interne peut être autorisé par "
            "l'administrateur du serveur (WEBHOOK_ALLOWED_NETWORKS)."
        ) % {"host": host}
        super().__init__(0, message)
        self.args = (message,)

    def __str__(self) -> str:
        return self.args[0]


def vetted_address(host: str, port: int) -> str:
    """The address to connect to for ``host``; RefusedServer if it is refused, OSError if it does not resolve."""
    try:
        return str(outbound.vetted_addresses(host, port)[0])
    except outbound.RefusedDestination:
        raise RefusedServer(host) from None
    except outbound.ConnectionFailed as exc:
        raise OSError(str(exc)) from None


class _PinnedIMAP4(imaplib.IMAP4):
    def __init__(self, host: str, port: int, *, address: str, **kwargs):
        self._address = address
        super().__init__(host, port, **kwargs)

    def _create_socket(self, timeout):
        return socket.create_connection((self._address, self.port), timeout)


class _PinnedIMAP4_SSL(imaplib.IMAP4_SSL):  # noqa: N801 (imaplib's name)
    def __init__(self, host: str, port: int, *, address: str, **kwargs):
        self._address = address
        super().__init__(host, port, **kwargs)

    def _create_socket(self, timeout):
        sock = socket.create_connection((self._address, self.port), timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname=self.host)


def imap_client(host: str, port: int, *, use_ssl: bool, ssl_context, timeout: float) -> imaplib.IMAP4:
    address = vetted_address(host, port)
    if use_ssl:
        return _PinnedIMAP4_SSL(host, port, address=address, ssl_context=ssl_context, timeout=timeout)
    return _PinnedIMAP4(host, port, address=address, timeout=timeout)


class GuardedSMTPBackend(EmailBackend):
    """Django's SMTP backend, connecting to the checked address of ``host`` (TLS still checks ``host``)."""

    @property
    def connection_class(self):
        address = vetted_address(self.host, self.port)
        base = smtplib.SMTP_SSL if self.use_ssl else smtplib.SMTP

        class Pinned(base):
            def _get_socket(self, host, port, timeout):
                return super()._get_socket(address, port, timeout)

        return Pinned
