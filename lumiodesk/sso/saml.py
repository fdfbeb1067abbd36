"""The SAML protocol for one organization's service provider (SP), with pysaml2 and Debian's ``xmlsec1``.

What it guarantees:
- Each organization is its own SP: entity ID ``<SITE_URL>/sso/<slug>/metadata/``, assertion consumer service
  (ACS) ``<SITE_URL>/sso/<slug>/acs/`` (HTTP-POST), requests sent with the HTTP-Redirect binding.
- A response is accepted only when: its assertion is signed by a certificate of the IdP's metadata (xmlsec1);
  it answers a request this browser session made (``InResponseTo``: no unsolicited response); its
  ``Destination`` is our ACS; its assertion names our entity ID as audience; its time conditions hold
  (``ACCEPTED_CLOCK_SKEW`` seconds of tolerance); its status is success. Anything else raises
  ``SamlRefused`` with a reason for the audit log (the user sees one generic message).
- IdP metadata is parsed by pysaml2 (defusedxml underneath: no entity expansion, no external entities); the
  metadata must describe exactly one IdP with a signing certificate and an HTTP-Redirect sign-on endpoint.

What it never does: accept an encrypted-only or unsigned assertion, follow a URL found in a response, or keep
pysaml2 state between requests (a client is built per request from the stored configuration).
"""

from __future__ import annotations

import calendar
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime

import defusedxml.ElementTree as SafeET
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NAMEID_FORMAT_UNSPECIFIED
from saml2.time_util import str_to_time

ACCEPTED_CLOCK_SKEW = 120  # seconds (settings.SSO_ACCEPTED_CLOCK_SKEW overrides it)
MD_NS = "urn:oasis:names:tc:SAML:2.0:metadata"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"

# Attribute names tried when the organization names none (LDAP/eduPerson OIDs, friendly names, Microsoft's claims).
DEFAULT_EMAIL_ATTRIBUTES = (
    "mail", "email", "emailAddress", "urn:oid:0.9.2342.19200300.100.1.3", "urn:oid:1.2.840.113549.1.9.1",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
)
DEFAULT_NAME_ATTRIBUTES = (
    "displayName", "urn:oid:2.16.840.1.113730.3.1.241", "cn", "urn:oid:2.5.4.3", "name",
    "http://schemas.microsoft.com/identity/claims/displayname",
)
GIVEN_NAME_ATTRIBUTES = ("givenName", "urn:oid:2.5.4.42", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname")
SURNAME_ATTRIBUTES = ("sn", "surname", "urn:oid:2.5.4.4", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname")


class InvalidMetadata(Exception):
    """The IdP metadata cannot be used (the message is for the form)."""


class SamlRefused(Exception):
    """The SAML response is refused; ``reason`` is for the audit log and the server log, not for the user."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IdpInfo:
    entity_id: str
    sso_url: str


@dataclass(frozen=True)
class Assertion:
    assertion_id: str
    expires_at: datetime
    attributes: dict[str, list[str]]  # by attribute name and by friendly name
    name_id: str
    name_id_format: str


def xmlsec_binary() -> str:
    path = shutil.which("xmlsec1")
    if path is None:
        raise RuntimeError("xmlsec1 is missing: apt-get install xmlsec1 (tests/install_system_deps.sh)")
    return path


# --- our side's addresses ---------------------------------------------------------------------------------------


def _absolute(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def sp_entity_id(slug: str) -> str:
    return _absolute(reverse("sso:metadata", kwargs={"org": slug}))


def acs_url(slug: str) -> str:
    return _absolute(reverse("sso:acs", kwargs={"org": slug}))


def login_url(slug: str) -> str:
    return _absolute(reverse("sso:login", kwargs={"org": slug}))


# --- IdP metadata ---------------------------------------------------------------------------------------------


def parse_idp_metadata(xml: str) -> IdpInfo:
    """The IdP described by ``xml``; InvalidMetadata with a message for the form otherwise."""
    try:
        root = SafeET.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml)
    except Exception:  # noqa: BLE001 (defusedxml raises several types, all meaning "not usable XML")
        raise InvalidMetadata(_("Ces métadonnées ne sont pas du XML valide.")) from None
    entities = [root] if root.tag == f"{{{MD_NS}}}EntityDescriptor" else root.findall(f"{{{MD_NS}}}EntityDescriptor")
    idps = [(e, e.find(f"{{{MD_NS}}}IDPSSODescriptor")) for e in entities]
    idps = [(e, d) for e, d in idps if d is not None]
    if len(idps) != 1:
        raise InvalidMetadata(_("Les métadonnées doivent décrire exactement un fournisseur d'identité (IdP)."))
    entity, descriptor = idps[0]
    sso_url = next((s.get("Location") for s in descriptor.findall(f"{{{MD_NS}}}SingleSignOnService")
                    if s.get("Binding") == BINDING_HTTP_REDIRECT and s.get("Location")), None)
    if not sso_url or not sso_url.startswith(("https://", "http://")):
        raise InvalidMetadata(_("Les métadonnées n'indiquent pas d'adresse de connexion (SingleSignOnService, "
                                "HTTP-Redirect)."))
    signing = [k for k in descriptor.findall(f"{{{MD_NS}}}KeyDescriptor") if k.get("use") in (None, "", "signing")
               and k.find(f".//{{{DS_NS}}}X509Certificate") is not None]
    if not signing:
        raise InvalidMetadata(_("Les métadonnées ne contiennent pas de certificat de signature de l'IdP."))
    entity_id = entity.get("entityID") or ""
    if not entity_id:
        raise InvalidMetadata(_("Les métadonnées n'indiquent pas l'identifiant (entityID) de l'IdP."))
    try:
        _client("check", xml)  # pysaml2 must load it too
    except Exception:  # noqa: BLE001
        raise InvalidMetadata(_("Ces métadonnées SAML ne peuvent pas être lues.")) from None
    return IdpInfo(entity_id=entity_id, sso_url=sso_url)


# --- the SP -----------------------------------------------------------------------------------------------------


def _sp_config(slug: str, idp_metadata: str | None) -> SPConfig:
    acs = acs_url(slug)
    conf = {
        "entityid": sp_entity_id(slug),
        "xmlsec_binary": xmlsec_binary(),
        "allow_unknown_attributes": True,
        "accepted_time_diff": int(getattr(settings, "SSO_ACCEPTED_CLOCK_SKEW", ACCEPTED_CLOCK_SKEW)),
        "service": {
            "sp": {
                "endpoints": {"assertion_consumer_service": [(acs, BINDING_HTTP_POST)]},
                "allow_unsolicited": False,
                "authn_requests_signed": False,
                "want_assertions_signed": True,
                "want_response_signed": False,
                "name_id_format": NAMEID_FORMAT_UNSPECIFIED,
                "name_id_format_allow_create": True,
            }
        },
    }
    if idp_metadata:
        conf["metadata"] = {"inline": [idp_metadata]}
    config = SPConfig()
    config.load(conf)
    return config


def _client(slug: str, idp_metadata: str) -> Saml2Client:
    return Saml2Client(config=_sp_config(slug, idp_metadata))


def sp_metadata(slug: str) -> str:
    """Our SP's metadata, for the IdP's administrator."""
    return str(entity_descriptor(_sp_config(slug, None)))


def authn_request(slug: str, idp_metadata: str, idp_entity_id: str) -> tuple[str, str]:
    """(request id, URL of the IdP to send the browser to)."""
    client = _client(slug, idp_metadata)
    request_id, info = client.prepare_for_authenticate(entityid=idp_entity_id, binding=BINDING_HTTP_REDIRECT)
    location = dict(info["headers"])["Location"]
    return request_id, location


def _attributes(response) -> dict[str, list[str]]:
    """Every attribute of the assertion, by name and by friendly name (pysaml2's conversion added)."""
    values: dict[str, list[str]] = {}
    for statement in response.assertion.attribute_statement or []:
        for attribute in statement.attribute or []:
            texts = [v.text.strip() for v in attribute.attribute_value or [] if v.text and v.text.strip()]
            for key in (attribute.name, attribute.friendly_name):
                if key:
                    values.setdefault(key, texts)
    for key, texts in (response.ava or {}).items():
        values.setdefault(key, [str(t) for t in texts])
    return values


def verify_response(slug: str, idp_metadata: str, saml_response: str, request_id: str) -> Assertion:
    """Check a base64 ``SAMLResponse`` posted to our ACS against the outstanding ``request_id``."""
    if not saml_response:
        raise SamlRefused("no SAMLResponse")
    if not request_id:
        raise SamlRefused("no outstanding request in this session (unsolicited response)")
    client = _client(slug, idp_metadata)
    try:
        response = client.parse_authn_request_response(
            saml_response, BINDING_HTTP_POST, outstanding={request_id: "/"})
    except Exception as exc:  # noqa: BLE001 (pysaml2 raises many types; every one is a refusal)
        raise SamlRefused(f"{type(exc).__name__}: {exc}"[:300]) from None
    if response is None or response.assertion is None:
        raise SamlRefused("no valid response (destination, issuer or format)")
    if response.in_response_to != request_id:
        raise SamlRefused("InResponseTo does not match this session's request")
    if response.response.destination != acs_url(slug):
        raise SamlRefused(f"Destination {response.response.destination!r} is not our ACS")
    entity = sp_entity_id(slug)
    conditions = response.assertion.conditions
    audiences = [a.text.strip() for r in (conditions.audience_restriction if conditions else []) or []
                 for a in r.audience or [] if a.text]
    if entity not in audiences:
        raise SamlRefused(f"audience {audiences!r} is not our entity ID")
    if not response.assertion.signature:
        raise SamlRefused("assertion is not signed")
    expires = datetime.fromtimestamp(response.not_on_or_after, UTC) if response.not_on_or_after else None
    if conditions and conditions.not_on_or_after:
        expires = datetime.fromtimestamp(calendar.timegm(str_to_time(conditions.not_on_or_after)), UTC)
    if expires is None:
        raise SamlRefused("assertion has no NotOnOrAfter")
    name_id = response.assertion.subject.name_id if response.assertion.subject else None
    return Assertion(
        assertion_id=response.assertion.id,
        expires_at=expires,
        attributes=_attributes(response),
        name_id=(name_id.text or "").strip() if name_id is not None else "",
        name_id_format=(name_id.format or "") if name_id is not None else "",
    )


def _first(attributes: dict[str, list[str]], names) -> str:
    lowered = {k.lower(): v for k, v in attributes.items()}
    for name in names:
        values = attributes.get(name) or lowered.get(name.lower())
        if values:
            return values[0]
    return ""


def email_of(assertion: Assertion, attribute: str) -> str:
    email = _first(assertion.attributes, [attribute] if attribute else DEFAULT_EMAIL_ATTRIBUTES)
    if not email and not attribute and assertion.name_id_format == NAMEID_FORMAT_EMAILADDRESS:
        email = assertion.name_id
    return email.strip().lower()


def names_of(assertion: Assertion, attribute: str) -> tuple[str, str]:
    """(first name, last name) from the mapped attribute, else display name, else given name and surname."""
    full = _first(assertion.attributes, [attribute] if attribute else DEFAULT_NAME_ATTRIBUTES)
    if full:
        first, _sep, last = full.strip().partition(" ")
        return first[:150], last.strip()[:150]
    return (_first(assertion.attributes, GIVEN_NAME_ATTRIBUTES)[:150],
            _first(assertion.attributes, SURNAME_ATTRIBUTES)[:150])
