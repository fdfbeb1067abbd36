from django import forms
from django.utils.translation import gettext_lazy as _

from .models import InboundStatus


class MailboxCreateForm(forms.Form):
    name = forms.CharField(label=_("Nom"), max_length=100, required=False)
    address = forms.EmailField(label=_("Adresse support"), help_text=_("Par exemple support@votre-entreprise.fr"))


class MailboxForm(forms.Form):
    name = forms.CharField(label=_("Nom"), max_length=100)
    imap_host = forms.CharField(label=_("Serveur IMAP"), required=False)
    imap_port = forms.IntegerField(label=_("Port IMAP"), min_value=1, max_value=65535, initial=993)
    imap_ssl = forms.BooleanField(label=_("IMAP chiffré (SSL/TLS)"), required=False, initial=True)
    imap_user = forms.CharField(label=_("Utilisateur IMAP"), required=False)
    imap_password = forms.CharField(
        label=_("Mot de passe IMAP"), required=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("Laissez vide pour garder le mot de passe enregistré. Utilisez un mot de passe d'application."),
    )
    imap_folder = forms.CharField(label=_("Dossier IMAP"), initial="INBOX")
    smtp_host = forms.CharField(label=_("Serveur SMTP"), required=False)
    smtp_port = forms.IntegerField(label=_("Port SMTP"), min_value=1, max_value=65535, initial=587)
    smtp_starttls = forms.BooleanField(label=_("STARTTLS"), required=False, initial=True)
    smtp_user = forms.CharField(label=_("Utilisateur SMTP"), required=False)
    smtp_password = forms.CharField(
        label=_("Mot de passe SMTP"), required=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("Laissez vide pour garder le mot de passe enregistré."),
    )


class InboundFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", _("Tous"))] + list(InboundStatus.choices), required=False)


class QuarantineImportForm(forms.Form):
    """Retry a quarantined email; the customer's address when the message gives none."""

    email = forms.EmailField(label=_("Email du client"), required=False, max_length=320)
