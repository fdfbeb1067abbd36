"""Forms of SSO: the sign-in form that knows "SSO only" organizations, the Settings > SSO form, the chooser."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from ..ratelimit import client_ip
from . import services
from .models import JIT_ROLES


class SsoAwareAuthenticationForm(AuthenticationForm):
    """The console's sign-in: a right password is still refused for a non-Admin member of an "SSO only"
    organization, with a message that points to SSO (``sso_only_organization`` for the template)."""

    sso_only_organization = None

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        organization = services.sso_only_organization(user)
        if organization is not None:
            self.sso_only_organization = organization
            if self.request is not None:
                services.record_refused_password(organization, user, client_ip(self.request))
            raise forms.ValidationError(
                _("%(org)s impose la connexion par SSO : utilisez « Se connecter avec SSO ».")
                % {"org": organization.name}, code="sso_only")


class SsoSettingsForm(forms.Form):
    is_enabled = forms.BooleanField(label=_("Activer la connexion SSO"), required=False)
    metadata_url = forms.URLField(label=_("URL des métadonnées de l'IdP"), required=False, max_length=500,
                                  assume_scheme="https", widget=forms.TextInput(
                                      attrs={"inputmode": "url", "placeholder": "https://idp.example.com/metadata"}))
    refresh_metadata = forms.BooleanField(label=_("Télécharger à nouveau les métadonnées depuis l'URL"),
                                          required=False)
    metadata_xml = forms.CharField(label=_("ou métadonnées XML collées"), required=False, max_length=1_000_000,
                                   widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}))
    email_attribute = forms.CharField(label=_("Attribut email"), required=False, max_length=200)
    name_attribute = forms.CharField(label=_("Attribut nom"), required=False, max_length=200)
    email_domains = forms.CharField(label=_("Domaines email autorisés"), required=False, max_length=500)
    jit_enabled = forms.BooleanField(label=_("Créer les membres à leur première connexion"), required=False)
    default_role = forms.ChoiceField(label=_("Rôle des membres créés"), choices=JIT_ROLES)
    sso_only = forms.BooleanField(label=_("Connexion par SSO uniquement"), required=False)


class SsoChooserForm(forms.Form):
    identifier = forms.CharField(label=_("Identifiant de l'organisation ou adresse email"), max_length=254)
