"""Requests to addresses a user typed (webhooks today; IdP metadata or calendar URLs later): the one way out.

What it guarantees:
- The host is resolved when the request is made, every address it resolves to is checked, and the socket
  connects to an address that was checked (never a second lookup: no DNS-rebinding window). The request still
  carries the URL's ``Host`` header, and HTTPS checks the certificate against the URL's host name (SNI).
- Refused, in every notation the resolver accepts (``127.0.0.2``, ``2130706433``, ``0x7f000001``,
  ``0177.0.0.1``, ``[::1]``, ``[::ffff:127.0.0.1]``, ``0.0.0.0``, ``localhost``…): loopback, private, shared
  (100.64/10), link-local (cloud metadata 169.254.169.254), multicast, reserved, unspecified, documentation,
  IPv6 unique-local and site-local, and any IPv6 address that embeds a refused IPv4 one (IPv4-mapped,
  IPv4-compatible, 6to4, NAT64, Teredo). Also LumioDesk itself (``SITE_URL``'s address and port) under any name.
- ``settings.WEBHOOK_ALLOWED_NETWORKS`` (environment variable, comma-separated CIDRs, empty by default) lets
  a self-hosted install reach an internal system; LumioDesk itself stays refused.
- Redirects are never followed; the caller gets the status and no ``Location``. A failure to connect, a
  timeout, a name that does not resolve or an answer that is not HTTP all read the same: a generic error,
  so the messages shown to users are no port scanner.

What it never does: use a proxy from the environment, send credentials from the URL, read more of the answer
than asked.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_PORTS = {"http": 80, "https": 443}

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


class RefusedDestination(Exception):
    """The URL names (or resolves to) an address outbound requests may not reach."""


class ConnectionFailed(Exception):
    """Could not reach the server or read an HTTP answer (the reason is kept for the logs only)."""


@dataclass(frozen=True)
class Response:
    status: int
    excerpt: bytes
    redirect: bool


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address
    if any(ip in net for net in _NAT64) or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(n, strict=False) for n in getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", ()) or ()]


def _public(ip: IPAddress) -> bool:
    if ip.is_multicast or ip.is_unspecified or ip.is_loopback or ip.is_link_local or ip.is_reserved:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return _public(embedded)
    return ip.is_global


def is_allowed_address(ip: IPAddress) -> bool:
    """True if an outbound request may connect to ``ip`` (public, or in ``WEBHOOK_ALLOWED_NETWORKS``)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:10.1.2.3 is 10.1.2.3, for the allowed networks too
    if any(ip.version == net.version and ip in net for net in _allowed_networks()):
        return True
    return _public(ip)


def _resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (numeric forms such as ``2130706433`` included), in the resolver's
    order, without duplicates. ``localhost`` and its subdomains are this machine whatever a resolver says
    (RFC 6761)."""
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise ConnectionFailed(f"resolve {host!r}: {exc}") from None
    seen: dict[str, IPAddress] = {}
    for _family, _type, _proto, _canon, sockaddr in infos:
        address = sockaddr[0].split("%", 1)[0]  # a scope id (fe80::1%eth0) is not part of the address
        seen.setdefault(address, ipaddress.ip_address(address))
    return list(seen.values())


def _own_endpoints() -> set[tuple[IPAddress, int]]:
    """LumioDesk's own (address, port), from ``SITE_URL``: a webhook never calls the application itself."""
    site = urlsplit(settings.SITE_URL)
    if not site.hostname:
        return set()
    port = site.port or DEFAULT_PORTS.get(site.scheme, 80)
    try:
        return {(ip, port) for ip in _resolve(site.hostname, port)}
    except ConnectionFailed:
        return set()


def _target(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an http(s) URL; ValueError if it is not one."""
    parts = urlsplit(url)
    port = parts.port  # ValueError on a bad port
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("not an http(s) URL with a host")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme], path


def vetted_addresses(host: str, port: int) -> list[IPAddress]:
    """The addresses of ``host`` a request may connect to; RefusedDestination if any of them is refused (a name
    that mixes public and private addresses is refused whole), ConnectionFailed if it does not resolve."""
    if (host.lower(), port) == _site_host_port():
        raise RefusedDestination("LumioDesk itself")
    addresses = _resolve(host, port)
    own = _own_endpoints()
    for ip in addresses:
        bare = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip
        if (ip, port) in own or (bare, port) in own:
            raise RefusedDestination("LumioDesk itself")
        if not is_allowed_address(ip):
            raise RefusedDestination(str(ip))
    if not addresses:
        raise ConnectionFailed(f"resolve {host!r}: no address")
    return addresses


def _site_host_port() -> tuple[str, int]:
    site = urlsplit(settings.SITE_URL)
    return (site.hostname or "").lower(), site.port or DEFAULT_PORTS.get(site.scheme, 80)


def check_url(url: str) -> None:
    """At save time: RefusedDestination (with a message for the form) if the URL names a refused address now.
    A name that does not resolve yet is accepted: the check at request time is the guard."""
    try:
        _scheme, host, port, _path = _target(url)
    except ValueError:
        raise RefusedDestination(_("URL invalide.")) from None
    try:
        vetted_addresses(host, port)
    except ConnectionFailed:
        return
    except RefusedDestination as exc:
        if str(exc) == "LumioDesk itself":
            raise RefusedDestination(_("Un webhook ne peut pas appeler LumioDesk lui-même.")) from None
        raise RefusedDestination(_(
            "Cette adresse est refusée : un webhook ne peut appeler qu'un serveur public (pas d'adresse locale, "
            "privée ou réservée). Un réseau interne peut être autorisé par l'administrateur du serveur "
            "(WEBHOOK_ALLOWED_NETWORKS).")) from None


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the vetted address; the Host header still names the URL's host."""

    def __init__(self, host: str, port: int, *, address: IPAddress, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self._address), self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As above, with TLS: SNI and the certificate check use the URL's host name, not the address."""

    def __init__(self, host: str, port: int, *, address: IPAddress, timeout: float,
                 context: ssl.SSLContext | None = None):
        super().__init__(host, port, timeout=timeout, context=context or ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((str(self._address), self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _connect(url: str, *, timeout: float,
             ssl_context: ssl.SSLContext | None) -> tuple[http.client.HTTPConnection, str]:
    """A connection to the first vetted address of ``url``'s host that answers, pinned to that address (the
    name is not resolved again), and the request path. Raises RefusedDestination or ConnectionFailed."""
    try:
        scheme, host, port, path = _target(url)
    except ValueError as exc:
        raise ConnectionFailed(f"invalid URL: {exc}") from None
    last: Exception | None = None
    for address in vetted_addresses(host, port):
        if scheme == "https":
            conn: http.client.HTTPConnection = _PinnedHTTPSConnection(
                host, port, address=address, timeout=timeout, context=ssl_context)
        else:
            conn = _PinnedHTTPConnection(host, port, address=address, timeout=timeout)
        try:
            conn.connect()
        except (OSError, ValueError) as exc:  # this address does not answer (or TLS refuses the name): try the next
            conn.close()
            last = exc
            continue
        return conn, path
    raise ConnectionFailed(f"connect: {last}")


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, read: int = 500,
         ssl_context: ssl.SSLContext | None = None) -> Response:
    """POST ``body`` to ``url`` through the guard. Raises RefusedDestination or ConnectionFailed."""
    conn, path = _connect(url, timeout=timeout, ssl_context=ssl_context)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        excerpt = response.read(read) if read else b""
        return Response(status=response.status, excerpt=excerpt, redirect=300 <= response.status < 400)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise ConnectionFailed(f"{type(exc).__name__}: {exc}") from None
    finally:
        conn.close()


class TooLarge(Exception):
    """The answer is longer than the caller accepts."""


@dataclass(frozen=True)
class Document:
    status: int
    body: bytes
    content_type: str


def get(url: str, *, timeout: float, max_bytes: int, headers: dict[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None) -> Document:
    """GET a document (IdP metadata…) through the guard: redirects are not followed (a 3xx comes back as it
    is), the whole exchange is bounded by ``timeout`` seconds and the body by ``max_bytes`` (TooLarge
    beyond). Raises RefusedDestination, ConnectionFailed or TooLarge."""
    deadline = time.monotonic() + timeout
    conn, path = _connect(url, timeout=timeout, ssl_context=ssl_context)
    try:
        conn.request("GET", path, headers={"Accept": "*/*", **(headers or {})})
        response = conn.getresponse()
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise TooLarge(declared)
        chunks, size = [], 0
        while True:
            if time.monotonic() > deadline:
                raise ConnectionFailed("timeout: the answer took too long")
            chunk = response.read(min(65536, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(str(size))
        return Document(status=response.status, body=b"".join(chunks),
                        content_type=response.getheader("Content-Type", ""))
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise ConnectionFailed(f"{type(exc).__name__}: {exc}") from None
    finally:
        conn.close()
