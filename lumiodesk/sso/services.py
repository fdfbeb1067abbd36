"""SAML SSO per organization: its configuration (Admins, plans with the "sso" feature), the sign-in it gives, and
the password it takes away.

Rules:
- Only plans with the ``sso`` feature (``lumiodesk.plans``, filled by billing) may configure or use SSO; on a
  plan without it the configuration is kept but does nothing (no SSO sign-in, passwords work again).
- IdP metadata comes pasted (XML) or from a URL fetched through ``lumiodesk.outbound`` (the SSRF guard),
  ``METADATA_MAX_BYTES`` at most within ``METADATA_TIMEOUT`` seconds.
- A verified assertion (``lumiodesk.sso.saml``) signs in the member whose email it carries. Just-in-time: an
  email unknown to LumioDesk becomes a new account and a member with the default role (never Admin). An
  existing account that is not a member of this organization is refused (no IdP can attach someone else's
  account to its organization, nor make them "SSO only"); an inactive member is refused; a staff account of the
  platform never signs in through an organization's IdP.
- Each assertion is used once: its ID is kept until its NotOnOrAfter; a replay is refused.
- A session opened by SSO sees only that organization (``lumiodesk.access.SSO_SCOPE_KEY``): an organization's
  IdP vouches for its own members, not for what the same account may do elsewhere.
- "SSO only": members of the organization other than its Admins may not sign in with a password (while the plan
  includes SSO and SSO is enabled). Admins always keep their password: the break-glass access when the IdP fails.
- Everything is audited: configuration changes, SSO sign-ins (``signin.sso``), refused responses
  (``signin.sso_failed``) and refused passwords (``signin.password_refused_sso_only``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import audit, outbound, plans
from ..exceptions import FeatureNotAvailable, InvalidInput, NotPermitted
from ..models import Membership, Organization, Role
from ..permissions import MemberActor, require
from . import saml
from .models import SsoConfig, UsedSamlAssertion

logger = logging.getLogger(__name__)

METADATA_MAX_BYTES = 1_000_000
METADATA_TIMEOUT = 10.0
FEATURE = "sso"
EDITABLE = ("is_enabled", "metadata_url", "email_attribute", "name_attribute", "email_domains", "jit_enabled",
            "default_role", "sso_only")


def config_of(organization: Organization) -> SsoConfig:
    """The organization's configuration (an unsaved default one when there is none)."""
    return SsoConfig.objects.filter(organization=organization).first() or SsoConfig(organization=organization)


def get_config(*, actor: MemberActor) -> SsoConfig:
    require(actor, "sso.manage")
    return config_of(actor.organization)


def is_active(config: SsoConfig) -> bool:
    """SSO signs people in for this organization: enabled, with metadata, on a plan that includes it."""
    return bool(config.pk and config.is_enabled and config.metadata_xml
                and plans.has_feature(config.organization, FEATURE))


def fetch_metadata(url: str) -> str:
    """The IdP metadata at ``url``, through the outbound guard; InvalidInput with a message for the form."""
    try:
        document = outbound.get(url, timeout=METADATA_TIMEOUT, max_bytes=METADATA_MAX_BYTES,
                                headers={"Accept": "application/samlmetadata+xml, application/xml, text/xml"})
    except outbound.RefusedDestination:
        raise InvalidInput(
            _("Cette adresse est refusée : les métadonnées doivent venir d'un serveur public.")) from None
    except outbound.TooLarge:
        raise InvalidInput(_("Les métadonnées dépassent 1 Mo.")) from None
    except outbound.ConnectionFailed as exc:
        logger.info("sso metadata fetch failed: %s", exc)
        raise InvalidInput(_("Impossible de télécharger les métadonnées à cette adresse.")) from None
    if document.status != 200:
        raise InvalidInput(_("Le serveur des métadonnées a répondu %(status)s.") % {"status": document.status})
    try:
        return document.body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(_("Les métadonnées ne sont pas du texte UTF-8.")) from None


def _clean_domains(raw: str) -> str:
    domains = []
    for part in raw.replace(";", ",").replace(" ", ",").split(","):
        domain = part.strip().lower().lstrip("@")
        if not domain:
            continue
        try:
            validate_email(f"x@{domain}")
        except ValidationError:
            raise InvalidInput(_("Domaine email invalide : %(domain)s") % {"domain": domain}) from None
        domains.append(domain)
    return ", ".join(dict.fromkeys(domains))


def save_config(
    *, actor: MemberActor, is_enabled: bool, metadata_url: str = "", metadata_xml: str = "",
    email_attribute: str = "", name_attribute: str = "", email_domains: str = "", jit_enabled: bool = True,
    default_role: str = Role.AGENT, sso_only: bool = False, refresh_metadata: bool = False,
) -> SsoConfig:
    """Save the organization's SSO. Pasted XML wins over the URL; a new URL (or ``refresh_metadata``) is fetched
    now."""
    require(actor, "sso.manage")
    organization = actor.organization
    plans.require_feature(organization, FEATURE)
    if default_role not in {Role.MANAGER, Role.AGENT, Role.VIEWER}:
        raise InvalidInput(_("Le rôle par défaut doit être Manager, Agent ou Lecteur."))
    metadata_url, metadata_xml = metadata_url.strip(), metadata_xml.strip()
    config = config_of(organization)
    if metadata_xml:
        new_xml = metadata_xml
    elif metadata_url and (refresh_metadata or metadata_url != config.metadata_url or not config.metadata_xml):
        new_xml = fetch_metadata(metadata_url)
    else:
        new_xml = config.metadata_xml if metadata_url or not config.metadata_url else ""
    if is_enabled and not new_xml:
        raise InvalidInput(_("Indiquez les métadonnées de votre IdP (URL ou XML) avant d'activer le SSO."))
    info = saml.parse_idp_metadata(new_xml) if new_xml else None
    with transaction.atomic():
        config = SsoConfig.objects.select_for_update().filter(organization=organization).first() or config
        before = {field: getattr(config, field) for field in EDITABLE} | {"idp_entity_id": config.idp_entity_id}
        config.is_enabled = is_enabled
        config.metadata_url = metadata_url
        if new_xml != config.metadata_xml:
            config.metadata_updated_at = timezone.now()
        config.metadata_xml = new_xml
        config.idp_entity_id = info.entity_id if info else ""
        config.email_attribute = email_attribute.strip()[:200]
        config.name_attribute = name_attribute.strip()[:200]
        config.email_domains = _clean_domains(email_domains)
        config.jit_enabled = jit_enabled
        config.default_role = default_role
        config.sso_only = sso_only
        config.save()
        after = {field: getattr(config, field) for field in EDITABLE} | {"idp_entity_id": config.idp_entity_id}
        changed = {k: {"before": before[k], "after": after[k]} for k in after if before[k] != after[k]}
        audit.record(organization=organization, actor=actor.user, action="sso.updated", target_type="sso_config",
                     target_id=config.pk, changes=changed, metadata_changed=bool(config.metadata_updated_at
                                                                                and new_xml != ""))
    return config


# --- signing in ---------------------------------------------------------------------------------------------


class SsoUnavailable(NotPermitted):
    """SSO cannot be used for this organization (plan, not configured): a 403 with the message."""


def active_config(organization: Organization) -> SsoConfig:
    """The organization's SSO if it may sign people in now; SsoUnavailable (403) with the reason otherwise."""
    if not plans.has_feature(organization, FEATURE):
        try:
            plans.require_feature(organization, FEATURE)
        except FeatureNotAvailable as exc:  # its message names the plans that have SSO
            raise SsoUnavailable(exc.message) from None
    config = config_of(organization)
    if not is_active(config):
        raise SsoUnavailable(_("La connexion SSO n'est pas configurée pour cette organisation."))
    return config


def begin(organization: Organization) -> tuple[str, str]:
    """(request id to keep in the session, IdP URL to redirect to)."""
    config = active_config(organization)
    return saml.authn_request(organization.slug, config.metadata_xml, config.idp_entity_id)


class SsoSignInRefused(Exception):
    """The SSO sign-in is refused; ``message`` is for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SsoSignIn:
    membership: Membership
    created_account: bool
    created_membership: bool


def _refuse(organization: Organization, reason: str, message: str, *, user_id: int | None = None,
            ip_address: str | None = None) -> SsoSignInRefused:
    audit.record(organization=organization, actor=None, action="signin.sso_failed", target_type="user",
                 target_id=user_id, reason=reason, ip_address=ip_address)
    logger.info("sso sign-in refused for %s: %s", organization.slug, reason)
    return SsoSignInRefused(message)


def complete(organization: Organization, *, saml_response: str, request_id: str,
             ip_address: str | None = None) -> SsoSignIn:
    """Verify the IdP's response and give the member it names (JIT-created when allowed). The caller signs the
    user in. SsoUnavailable if SSO is off; SsoSignInRefused (audited) for a refused response or person."""
    config = active_config(organization)
    generic = _("La connexion SSO a échoué : la réponse de votre fournisseur d'identité a été refusée. "
                "Réessayez depuis la page de connexion.")
    try:
        assertion = saml.verify_response(organization.slug, config.metadata_xml, saml_response, request_id)
    except saml.SamlRefused as exc:
        raise _refuse(organization, exc.reason, generic, ip_address=ip_address) from None
    email = saml.email_of(assertion, config.email_attribute)
    try:
        validate_email(email)
    except ValidationError:
        raise _refuse(organization, "no usable email attribute", _(
            "Votre fournisseur d'identité n'a pas transmis d'adresse email : demandez à votre administrateur de "
            "vérifier la correspondance des attributs."), ip_address=ip_address) from None
    if config.domains and email.rsplit("@", 1)[1] not in config.domains:
        raise _refuse(organization, f"email domain not allowed: {email}", _(
            "L'adresse %(email)s n'appartient pas aux domaines autorisés pour cette organisation.")
            % {"email": email}, ip_address=ip_address)
    first_name, last_name = saml.names_of(assertion, config.name_attribute)
    User = get_user_model()
    refusal = None
    with transaction.atomic():
        UsedSamlAssertion.objects.filter(expires_at__lt=timezone.now()).delete()
        try:
            with transaction.atomic():
                UsedSamlAssertion.objects.create(organization=organization, assertion_id=assertion.assertion_id[:256],
                                                 expires_at=assertion.expires_at)
        except IntegrityError:
            refusal = ("replayed assertion " + assertion.assertion_id, generic, None)
        user = None if refusal else User.objects.filter(email__iexact=email).order_by("id").first()
        membership = None
        created_account = created_membership = False
        if refusal:
            pass
        elif user is None:
            if not config.jit_enabled:
                refusal = (f"unknown email {email}, JIT off", _(
                    "Aucun compte LumioDesk n'existe pour %(email)s : demandez une invitation à un administrateur "
                    "de votre organisation.") % {"email": email}, None)
            else:
                user = User(username=email, email=email, first_name=first_name, last_name=last_name)
                user.set_unusable_password()
                user.save()
                created_account = True
        if user is not None and refusal is None:
            if user.is_staff or user.is_superuser:
                refusal = ("platform staff account", generic, user.pk)
            else:
                membership = (Membership.objects.select_for_update().filter(organization=organization, user=user)
                              .select_related("organization", "user").first())
                if membership is None and created_account:
                    membership = Membership.objects.create(organization=organization, user=user,
                                                           role=config.default_role)
                    created_membership = True
                elif membership is None:
                    refusal = (f"existing account {email} is not a member", _(
                        "Le compte %(email)s existe déjà mais n'est pas membre de cette organisation : demandez une "
                        "invitation à un administrateur.") % {"email": email}, user.pk)
                elif not membership.is_active:
                    refusal = (f"inactive member {email}", _(
                        "Votre accès à cette organisation est désactivé : contactez un administrateur."), user.pk)
        if refusal is None:
            if not created_account and (first_name or last_name) and (user.first_name, user.last_name) == ("", ""):
                user.first_name, user.last_name = first_name, last_name
                user.save(update_fields=["first_name", "last_name"])
            audit.record(organization=organization, actor=user, action="signin.sso", target_type="user",
                         target_id=user.pk, ip_address=ip_address, idp=config.idp_entity_id,
                         created_account=created_account, created_membership=created_membership,
                         role=membership.role)
            return SsoSignIn(membership, created_account, created_membership)
        transaction.set_rollback(True)
    reason, message, user_id = refusal
    raise _refuse(organization, reason, message, user_id=user_id, ip_address=ip_address)


def organization_for(identifier: str) -> Organization | None:
    """The organization a sign-in form's entry names: its identifier (slug), or an email address / domain listed
    by exactly one organization's active SSO."""
    identifier = identifier.strip().lower()
    if not identifier:
        return None
    if "@" not in identifier and "." not in identifier:
        return Organization.objects.filter(slug=identifier).first()
    domain = identifier.rsplit("@", 1)[-1]
    candidates = [c for c in SsoConfig.objects.filter(is_enabled=True, email_domains__icontains=domain)
                  .select_related("organization")[:5] if domain in c.domains]
    return candidates[0].organization if len(candidates) == 1 else None


# --- passwords of "SSO only" organizations ---------------------------------------------------------------------


def sso_only_organization(user) -> Organization | None:
    """The SSO-only organization that forbids this account's password (it is a non-Admin member there), if any."""
    outside_admin = (Membership.objects.filter(user=user, is_active=True).exclude(role=Role.ADMIN)
                     .values("organization_id"))
    rows = (SsoConfig.objects.filter(is_enabled=True, sso_only=True, organization_id__in=outside_admin)
            .select_related("organization"))
    for config in rows:
        if is_active(config):
            return config.organization
    return None


def record_refused_password(organization: Organization, user, ip_address: str | None) -> None:
    audit.record(organization=organization, actor=None, action="signin.password_refused_sso_only",
                 target_type="user", target_id=user.pk, ip_address=ip_address)
