"""lumiodesk.outbound, the guard in front of every request to a user-given URL (issue 15, webhook SSRF).

A real HTTP server listens on loopback; without an allowed network it never receives anything, whatever the
notation of its address. With WEBHOOK_ALLOWED_NETWORKS it does; LumioDesk itself stays refused; redirects are
not followed and the delivery log says neither where they pointed nor why a connection failed.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from automation_helpers import Receiver, drain, queued_deliveries
from factories import TicketFactory, acting

from automations import services
from automations.models import WebhookAttempt, WebhookEvent
from lumiodesk import outbound
from lumiodesk.exceptions import InvalidInput
from lumiodesk.models import Plan


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def no_allowed_networks(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ()
    settings.SITE_URL = "http://127.0.0.1:8000"


def notations(port: int) -> list[str]:
    """The loopback receiver, or a machine-local/private address, in the notations an attacker tries."""
    return [
        f"http://127.0.0.1:{port}/", f"http://127.0.0.2:{port}/", f"http://2130706433:{port}/",
        f"http://0x7f000001:{port}/", f"http://0177.0.0.1:{port}/", f"http://127.1:{port}/",
        f"http://localhost:{port}/", f"http://LOCALHOST.:{port}/", f"http://[::1]:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/", f"http://[::ffff:7f00:1]:{port}/", f"http://[::127.0.0.1]:{port}/",
        f"http://0.0.0.0:{port}/", f"http://0:{port}/", f"http://[::]:{port}/",
        f"http://[2002:7f00:1::]:{port}/", f"http://[64:ff9b::7f00:1]:{port}/",
    ]


REFUSED = [
    "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1", "224.0.0.1", "239.255.255.250",
    "240.0.0.1", "255.255.255.255", "198.18.0.1", "192.0.2.1", "fe80::1", "fc00::1", "fd12:3456::1", "fec0::1",
    "ff02::1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "2002:a9fe:a9fe::", "64:ff9b::a9fe:a9fe",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2", "::", "::1",
]


@pytest.mark.parametrize("address", REFUSED)
def test_every_non_public_range_is_refused(address, no_allowed_networks):
    assert not outbound.is_allowed_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8",
                                     "::ffff:8.8.8.8", "2002:808:808::"])
def test_public_addresses_are_allowed(address, no_allowed_networks):
    assert outbound.is_allowed_address(ipaddress.ip_address(address))


def test_the_loopback_receiver_gets_nothing_in_any_notation(receiver, no_allowed_networks):
    port = receiver.server.server_address[1]
    for url in notations(port):
        with pytest.raises((outbound.RefusedDestination, outbound.ConnectionFailed)):
            outbound.post(url, b"{}", {"Content-Type": "application/json"}, timeout=2)
        with pytest.raises(outbound.RefusedDestination):
            outbound.check_url(url)
    assert receiver.received == []


def test_an_allowed_network_lets_a_self_hosted_install_call_its_internal_system(receiver, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    settings.WEBHOOK_ALLOWED_NETWORKS = ("127.0.0.0/8",)
    response = outbound.post(receiver.url, b"{}", {"X-Test": "1"}, timeout=5)
    assert response.status == 200 and response.excerpt == b'{"ok": true}'
    assert receiver.received[0].headers["Host"] == f"127.0.0.1:{receiver.server.server_address[1]}"
    # Only the listed network: another private range stays refused.
    with pytest.raises(outbound.RefusedDestination):
        outbound.check_url("http://10.1.2.3/")


def test_lumiodesk_itself_is_refused_under_any_name_even_in_an_allowed_network(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    settings.WEBHOOK_ALLOWED_NETWORKS = ("127.0.0.0/8", "::1/128")
    for url in ("http://127.0.0.1:8000/", "http://localhost:8000/x", "http://2130706433:8000/",
                "http://[::ffff:127.0.0.1]:8000/"):
        with pytest.raises(outbound.RefusedDestination, match="LumioDesk"):
            outbound.check_url(url)


def test_the_connection_goes_to_the_address_that_was_checked(receiver, settings, monkeypatch):
    """No second lookup (DNS rebinding): the name is resolved once, and the socket connects to that address
    while the Host header keeps the name."""
    settings.SITE_URL = "http://127.0.0.1:8000"
    settings.WEBHOOK_ALLOWED_NETWORKS = ("127.0.0.0/8",)
    port = receiver.server.server_address[1]
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1", "10.9.9.9"])  # first answer checked, a rebinding answer afterwards
    lookups = []

    def rebinding(host, *args, **kwargs):
        if host == "hooks.rebind.test":
            address = next(answers)
            lookups.append(address)
            return real(address, *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    response = outbound.post(f"http://hooks.rebind.test:{port}/x", b"{}", {}, timeout=5)
    assert response.status == 200 and lookups == ["127.0.0.1"]
    assert receiver.received[0].headers["Host"] == f"hooks.rebind.test:{port}"


def test_a_name_that_resolves_to_a_private_address_is_refused_at_delivery(receiver, no_allowed_networks,
                                                                        monkeypatch):
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: real(
        "127.0.0.1" if host == "innocent.example" else host, *a, **k))
    with pytest.raises(outbound.RefusedDestination):
        outbound.post(f"http://innocent.example:{receiver.server.server_address[1]}/", b"{}", {}, timeout=2)
    assert receiver.received == []


def _certificate(tmp_path, name: str) -> tuple[str, str]:
    """A self-signed certificate for ``name`` (cert and key files)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def test_https_goes_to_the_vetted_address_with_sni_and_the_certificate_checked_for_the_name(
        settings, tmp_path, monkeypatch):
    settings.SITE_URL = "http://127.0.0.1:8000"
    settings.WEBHOOK_ALLOWED_NETWORKS = ("127.0.0.0/8",)
    cert, key = _certificate(tmp_path, "hooks.example.test")
    seen_sni = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    server_context.sni_callback = lambda sock, name, ctx: seen_sni.append(name)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    # serve_forever polls for shutdown() every 0.5 s by default: 20 ms, so the test does not wait at its end
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    port = server.server_address[1]
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: real(
        "127.0.0.1" if host.endswith(".example.test") else host, *a, **k))
    client_context = ssl.create_default_context(cafile=cert)
    try:
        response = outbound.post(f"https://hooks.example.test:{port}/x", b"{}", {}, timeout=5,
                                 ssl_context=client_context)
        assert response.status == 204 and seen_sni == ["hooks.example.test"]
        # Another name resolving to the same address: the certificate does not match it.
        with pytest.raises(outbound.ConnectionFailed, match="CERTIFICATE_VERIFY_FAILED|hostname"):
            outbound.post(f"https://other.example.test:{port}/x", b"{}", {}, timeout=5, ssl_context=client_context)
        # And no trust is added by default: the self-signed certificate is refused.
        with pytest.raises(outbound.ConnectionFailed):
            outbound.post(f"https://hooks.example.test:{port}/x", b"{}", {}, timeout=5)
    finally:
        server.shutdown()
        server.server_close()


# --- the webhook delivery log -----------------------------------------------------------------------------


@pytest.fixture
def business(world):
    world.org.plan = Plan.BUSINESS
    world.org.save(update_fields=["plan"])
    return world


def _deliver(business, monkeypatch, django_capture_on_commit_callbacks):
    queued = queued_deliveries(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        TicketFactory(organization=business.org, customer=business.customer)
    return drain(queued)


@pytest.mark.django_db
def test_saving_a_loopback_webhook_is_refused_with_a_clear_message(business, receiver, no_allowed_networks):
    for url in notations(receiver.server.server_address[1]) + ["http://169.254.169.254/latest/meta-data/"]:
        with pytest.raises(InvalidInput, match="adresse est refusée"):
            services.create_endpoint(organization=business.org, actor=acting(business.admin), url=url,
                                     events=[WebhookEvent.TICKET_CREATED])


@pytest.mark.django_db
def test_a_webhook_saved_before_is_refused_at_delivery_and_the_log_is_generic(
        business, receiver, settings, monkeypatch, django_capture_on_commit_callbacks):
    """Saved while the network was allowed (or before this fix): the delivery-time check is the guard."""
    settings.SITE_URL = "http://127.0.0.1:8000"
    settings.WEBHOOK_ALLOWED_NETWORKS = ("127.0.0.0/8",)
    endpoint, _secret = services.create_endpoint(organization=business.org, actor=acting(business.admin),
                                                 url=receiver.url, events=[WebhookEvent.TICKET_CREATED])
    settings.WEBHOOK_ALLOWED_NETWORKS = ()
    assert _deliver(business, monkeypatch, django_capture_on_commit_callbacks) == ["retry"]
    attempt = WebhookAttempt.objects.get(delivery__endpoint=endpoint)
    assert receiver.received == []
    assert attempt.status_code is None and attempt.duration_ms == 0 and attempt.response_excerpt == ""
    assert attempt.error == "destination refusée (adresse locale, privée ou réservée)"


@pytest.mark.django_db
def test_closed_port_and_non_http_service_read_the_same(business, settings, monkeypatch,
                                                       django_capture_on_commit_callbacks):
    """Before: "Connection refused" for a closed port, "BadStatusLine" or a timing for Redis: a port scanner."""
    settings.SITE_URL = "http://127.0.0.1:8000"
    settings.WEBHOOK_ALLOWED_NETWORKS = ("127.0.0.0/8",)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    redis_port = 6379
    for port in (closed, redis_port):
        services.create_endpoint(organization=business.org, actor=acting(business.admin), url=f"http://127.0.0.1:{port}/",
                                 events=[WebhookEvent.TICKET_CREATED])
    assert _deliver(business, monkeypatch, django_capture_on_commit_callbacks) == ["retry", "retry"]
    errors = {(a.error, a.status_code, a.duration_ms, a.response_excerpt) for a in WebhookAttempt.objects.all()}
    assert errors == {("connexion impossible", None, 0, "")}


@pytest.mark.django_db
def test_a_redirect_is_not_followed_and_its_target_not_shown(business, receiver, settings, monkeypatch,
                                                            django_capture_on_commit_callbacks):
    settings.SITE_URL = "http://127.0.0.1:8000"
    settings.WEBHOOK_ALLOWED_NETWORKS = ("127.0.0.0/8",)
    target = Receiver().start()
    try:
        receiver.responses = [("redirect", target.url)]
        services.create_endpoint(organization=business.org, actor=acting(business.admin), url=receiver.url,
                                 events=[WebhookEvent.TICKET_CREATED])
        assert _deliver(business, monkeypatch, django_capture_on_commit_callbacks) == ["retry"]
        attempt = WebhookAttempt.objects.get()
        assert target.received == [] and len(receiver.received) == 1
        assert attempt.status_code == 302 and attempt.error == "redirection non suivie"
        assert str(target.server.server_address[1]) not in attempt.error + attempt.response_excerpt
    finally:
        target.stop()


def test_the_setting_is_read_from_the_environment_and_checked(tmp_path, monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from lumiodesk.config import read_config

    assert read_config(tmp_path).webhook_allowed_networks == ()
    monkeypatch.setenv("WEBHOOK_ALLOWED_NETWORKS", "10.20.0.0/16, 192.168.1.5")
    assert read_config(tmp_path).webhook_allowed_networks == ("10.20.0.0/16", "192.168.1.5/32")
    monkeypatch.setenv("WEBHOOK_ALLOWED_NETWORKS", "10.20.0.0/33")
    with pytest.raises(ImproperlyConfigured, match="WEBHOOK_ALLOWED_NETWORKS"):
        read_config(tmp_path)
