"""A real SAML identity provider (pysaml2's IdP) on loopback, for the SSO tests.

``SamlIdP`` makes a fresh RSA key and self-signed certificate (``cryptography``), builds its metadata, and serves
on 127.0.0.1 (a free port, a thread):
- ``GET /idp/metadata`` its metadata;
- ``GET /idp/sso?SAMLRequest=…`` (HTTP-Redirect binding): parses the AuthnRequest, "authenticates" ``user``
  without asking, and answers the HTML form that POSTs a signed response to the request's ACS (HTTP-POST
  binding), as a real IdP's page does.

Knobs for the refusal tests: ``audience`` (another entity ID as the assertion's audience), ``lifetime`` (the
assertion's validity, ``{"seconds": 1}``), ``sign_assertion``. ``sp_metadata``: the SPs it knows.
``requests`` counts the AuthnRequests received, ``metadata_fetches`` the metadata downloads.
"""

from __future__ import annotations

import base64
import datetime
import html
import os
import re
import shutil
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server

DEFAULT_USER = {
    "uid": "nina.martin",
    "mail": "nina.martin@acme-corp.test",
    "displayName": "Nina Martin",
    "givenName": "Nina",
    "sn": "Martin",
}


def _key_and_certificate(directory: str) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "LumioDesk test IdP")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = os.path.join(directory, "idp.key"), os.path.join(directory, "idp.crt")
    with open(key_file, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    with open(cert_file, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


class SamlIdP:
    def __init__(self) -> None:
        self.directory = tempfile.mkdtemp(prefix="lumiodesk-idp-")
        self.key_file, self.cert_file = _key_and_certificate(self.directory)
        self.user = dict(DEFAULT_USER)
        self.audience: str | None = None
        self.lifetime: dict = {"minutes": 15}
        self.sign_assertion = True
        self.requests = 0
        self.metadata_fetches = 0
        self.sp_metadata: list[str] = []  # the service providers it trusts (their metadata XML)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self._httpd.server_port}"
        self.entity_id = f"{self.base_url}/idp/metadata"
        self.sso_url = f"{self.base_url}/idp/sso"
        self.metadata_url = self.entity_id
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    # --- pysaml2 ------------------------------------------------------------------------------------------

    def _config(self) -> IdPConfig:
        config = IdPConfig()
        extra = {"metadata": {"inline": list(self.sp_metadata)}} if self.sp_metadata else {}
        config.load({
            **extra,
            "entityid": self.entity_id,
            "xmlsec_binary": shutil.which("xmlsec1"),
            "key_file": self.key_file,
            "cert_file": self.cert_file,
            "service": {"idp": {
                "endpoints": {"single_sign_on_service": [(self.sso_url, BINDING_HTTP_REDIRECT)]},
                "policy": {"default": {"lifetime": self.lifetime, "attribute_restrictions": None,
                                       "name_form": NAME_FORMAT_URI}},
                "want_authn_requests_signed": False,
            }},
        })
        return config

    def metadata(self) -> str:
        return str(entity_descriptor(self._config()))

    def respond(self, saml_request: str, relay_state: str = "") -> str:
        """The IdP's answer to an AuthnRequest: the HTML page that POSTs the signed response to the SP."""
        server = Server(config=self._config())
        request = server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT).message
        destination = request.assertion_consumer_service_url
        identity = {k: [v] for k, v in self.user.items()}
        response = server.create_authn_response(
            identity,
            in_response_to=request.id,
            destination=destination,
            sp_entity_id=self.audience or request.issuer.text,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=self.user["uid"]),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
            sign_assertion=self.sign_assertion,
            sign_response=False,
        )
        http_args = server.apply_binding(BINDING_HTTP_POST, str(response), destination, relay_state, response=True)
        return http_args["data"]

    # --- HTTP ------------------------------------------------------------------------------------------------

    def _handler(self):
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body: str, content_type: str) -> None:
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                parts = urlsplit(self.path)
                if parts.path == "/idp/metadata":
                    idp.metadata_fetches += 1
                    return self._send(200, idp.metadata(), "application/samlmetadata+xml")
                if parts.path == "/idp/sso":
                    query = parse_qs(parts.query)
                    idp.requests += 1
                    try:
                        page = idp.respond(query["SAMLRequest"][0], query.get("RelayState", [""])[0])
                    except Exception as exc:  # noqa: BLE001 (the test sees the IdP's error)
                        return self._send(400, f"IdP error: {exc}", "text/plain")
                    return self._send(200, page, "text/html; charset=utf-8")
                return self._send(404, "not found", "text/plain")

        return Handler

    def start(self) -> SamlIdP:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for a serve_forever() that never started otherwise
            self._httpd.shutdown()
        self._httpd.server_close()
        shutil.rmtree(self.directory, ignore_errors=True)


# --- helpers for tests -------------------------------------------------------------------------------------------

_INPUT = re.compile(r'<input[^>]*name="(?P<name>[^"]+)"[^>]*value="(?P<value>[^"]*)"')
_ACTION = re.compile(r'<form action="(?P<action>[^"]+)"')


def read_form(page: str) -> tuple[str, dict[str, str]]:
    """(action, fields) of the IdP's auto-posting form."""
    action = html.unescape(_ACTION.search(page).group("action"))
    return action, {m.group("name"): html.unescape(m.group("value")) for m in _INPUT.finditer(page)}


def decode(saml_response: str) -> str:
    return base64.b64decode(saml_response).decode("utf-8")


def encode(xml: str) -> str:
    return base64.b64encode(xml.encode("utf-8")).decode("ascii")
