"""Forms of the core's screens: sign-up, sign-in, invitations, Settings > Team / Organization, the audit log."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from .models import Organization, Role, UnverifiedEmail
from .sso.forms import SsoAwareAuthenticationForm
from .teams import DESCRIPTION_MAX, NAME_MAX


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(tz, tz.replace("_", " ")) for tz in sorted(zoneinfo.available_timezones()) if "/" in tz or tz == "UTC"]


class SignUpForm(forms.Form):
    company = forms.CharField(label=_("Nom de l'entreprise"), max_length=200)
    first_name = forms.CharField(label=_("Votre prénom"), max_length=150)
    last_name = forms.CharField(label=_("Votre nom"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email professionnel"), max_length=254)
    password = forms.CharField(label=_("Mot de passe"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                               help_text=_("Au moins 8 caractères, pas uniquement des chiffres, pas trop courant."))
    time_zone = forms.ChoiceField(label=_("Fuseau horaire"), initial="Europe/Paris",
                                  help_text=_("Utilisé pour les horaires d'ouverture, les SLA et les rapports."))
    language = forms.ChoiceField(label=_("Langue principale"), choices=settings.LANGUAGES, initial="fr")
    # Honeypot: hidden from people (CSS and aria-hidden), filled by robots. A filled one creates nothing.
    website = forms.CharField(required=False, label=_("Site web"),
                              widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = time_zone_choices()
        self.fields["company"].widget.attrs.update({"autocomplete": "organization", "autofocus": True})
        self.fields["email"].widget.attrs.update({"autocomplete": "email"})

    @property
    def is_robot(self) -> bool:
        return bool(self.data.get("website"))


class SignInForm(SsoAwareAuthenticationForm):
    """Django's sign-in, refusing an account whose email is not verified yet (sign-up), and a password for a
    non-Admin member of an "SSO only" organization (``SsoAwareAuthenticationForm``)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "unverified": _("Votre adresse email n'est pas encore vérifiée : ouvrez le lien que nous vous avons "
                        "envoyé, ou demandez-en un nouveau ci-dessous."),
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if UnverifiedEmail.objects.filter(user=user).exists():
            raise forms.ValidationError(self.error_messages["unverified"], code="unverified")


class NewAccountForm(forms.Form):
    first_name = forms.CharField(label=_("Prénom"), max_length=150)
    last_name = forms.CharField(label=_("Nom"), max_length=150, required=False)
    password = forms.CharField(label=_("Mot de passe"), strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("Email"), max_length=254)
    role = forms.ChoiceField(label=_("Rôle"), choices=Role.choices, initial=Role.AGENT)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Rôle"), choices=Role.choices)


class OrganizationForm(forms.ModelForm):
    time_zone = forms.ChoiceField(label=_("Fuseau horaire"),
                                  help_text=_("Les rapports SLA déjà générés gardent le fuseau de leur génération."))
    logo_file = forms.FileField(label=_("Logo"), required=False,
                                help_text=_("PNG, JPEG, GIF ou WebP, 512 Ko au plus."),
                                widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}))
    remove_logo = forms.BooleanField(label=_("Retirer le logo"), required=False)

    class Meta:
        model = Organization
        fields = ["name", "time_zone", "language", "auto_close_resolved_days", "first_followup_days",
                  "second_followup_days", "close_waiting_days", "automatic_mail_out_of_sla"]
        labels = {"automatic_mail_out_of_sla": _("Tickets d'emails automatiques hors SLA")}
        help_texts = {"automatic_mail_out_of_sla": _(
            "Alertes de supervision, expéditeurs no-reply, listes de diffusion : ces tickets sont marqués "
            "« Automatique », sans accusé de réception ni notification, et sans délai SLA si la case est cochée.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = time_zone_choices()
        for name in ("auto_close_resolved_days", "first_followup_days", "second_followup_days", "close_waiting_days"):
            self.fields[name].widget.attrs.update({"min": 1, "max": 365})

    def _post_clean(self):
        """No model validation here: ``update_organization`` checks the values (the delays' order in words) and
        the form never writes to ``request.organization``."""


class AuditFilterForm(forms.Form):
    q = forms.CharField(label=_("Rechercher"), required=False, max_length=100)
    action = forms.ChoiceField(label=_("Action"), required=False)
    actor = forms.TypedChoiceField(label=_("Auteur"), required=False, coerce=int, empty_value=None)
    start = forms.DateField(label=_("Du"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("Au"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, actions=(), actors=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("Toutes les actions")), *actions]
        self.fields["actor"].choices = [("", _("Tous les auteurs")), *actors]


class TeamForm(forms.Form):
    """Settings > Équipes: a team's name and description (``lumiodesk.teams`` checks them)."""

    name = forms.CharField(label=_("Nom de l'équipe"), max_length=NAME_MAX,
                           widget=forms.TextInput(attrs={"placeholder": _("Niveau 1, Facturation…")}))
    description = forms.CharField(label=_("Description"), max_length=DESCRIPTION_MAX, required=False,
                                  help_text=_("Facultatif : ce que l'équipe traite."))
