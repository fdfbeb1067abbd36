"""An organization's SAML sign-in (``lumiodesk.sso``): its identity provider and its rules, and the assertions
already used (a replayed one is refused until it expires).

Registered in the ``lumiodesk`` app: ``lumiodesk/models.py`` imports this module.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

# Roles a just-in-time member may get: never Admin (an IdP must not be able to create Admins).
JIT_ROLES = [
    ("manager", _("Manager")),
    ("agent", _("Agent")),
    ("viewer", _("Lecteur")),
]


class SsoConfig(models.Model):
    """One organization's SAML identity provider (IdP) and how its sign-ins become members."""

    organization = models.OneToOneField("lumiodesk.Organization", on_delete=models.CASCADE, related_name="+")
    is_enabled = models.BooleanField(_("SSO activé"), default=False)
    metadata_url = models.URLField(_("URL des métadonnées de l'IdP"), max_length=500, blank=True)
    metadata_xml = models.TextField(_("métadonnées de l'IdP (XML)"), blank=True)
    idp_entity_id = models.CharField(_("identifiant (entity ID) de l'IdP"), max_length=500, blank=True)
    metadata_updated_at = models.DateTimeField(null=True, blank=True)
    email_attribute = models.CharField(_("attribut email"), max_length=200, blank=True)
    name_attribute = models.CharField(_("attribut nom"), max_length=200, blank=True)
    email_domains = models.CharField(_("domaines email"), max_length=500, blank=True)
    jit_enabled = models.BooleanField(_("création des membres à la première connexion"), default=True)
    default_role = models.CharField(_("rôle par défaut"), max_length=16, choices=JIT_ROLES, default="agent")
    sso_only = models.BooleanField(_("connexion par SSO uniquement"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("configuration SSO")
        verbose_name_plural = _("configurations SSO")

    def __str__(self) -> str:
        return f"SSO {self.organization_id} ({self.idp_entity_id or '-'})"

    @property
    def domains(self) -> list[str]:
        return [d for d in (part.strip().lower() for part in self.email_domains.split(",")) if d]


class UsedSamlAssertion(models.Model):
    """An assertion already accepted: the same ID is refused until ``expires_at`` (its NotOnOrAfter)."""

    organization = models.ForeignKey("lumiodesk.Organization", on_delete=models.CASCADE, related_name="+")
    assertion_id = models.CharField(max_length=256)
    expires_at = models.DateTimeField()

    class Meta:
        verbose_name = _("assertion SAML utilisée")
        verbose_name_plural = _("assertions SAML utilisées")
        constraints = [
            models.UniqueConstraint(fields=["organization", "assertion_id"], name="saml_assertion_used_once"),
        ]
        indexes = [models.Index(fields=["expires_at"], name="saml_assertion_expiry_idx")]

    def __str__(self) -> str:
        return self.assertion_id
