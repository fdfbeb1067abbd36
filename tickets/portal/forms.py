from __future__ import annotations

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from crm.models import CustomerContactChoice
from lumiodesk.exceptions import InvalidInput

from ..attachments import MAX_FILES_PER_MESSAGE, check_uploads
from ..forms import MultipleFileField
from .satisfaction import MAX_COMMENT_CHARS, SCORES
from .services import MAX_MESSAGE_CHARS


class AttachmentsCheckMixin:
    """Attachment rules (type, size, count) checked with the form, so the error shows next to the field."""

    def clean_attachments(self):
        files = self.cleaned_data.get("attachments") or []
        try:
            check_uploads(list(files))
        except InvalidInput as exc:
            raise forms.ValidationError(exc.message) from exc
        for f in files:
            f.seek(0)
        return files


class ContactForm(AttachmentsCheckMixin, forms.Form):
    name = forms.CharField(label=_("Votre nom"), max_length=200,
                           widget=forms.TextInput(attrs={"autocomplete": "name"}))
    email = forms.EmailField(label=_("Votre email"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email"}),
                             help_text=_("Nous vous répondrons à cette adresse."))
    subject = forms.CharField(label=_("Sujet"), max_length=255)
    message = forms.CharField(label=_("Message"), max_length=MAX_MESSAGE_CHARS,
                              widget=forms.Textarea(attrs={"rows": 7}))
    attachments = MultipleFileField(label=_("Pièces jointes"))
    # The honeypot: hidden from people (CSS and aria-hidden), filled in by bots.
    website = forms.CharField(required=False, label=_("Ne pas remplir ce champ"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attachments"].help_text = _(
            "Captures d'écran, PDF, documents… %(n)s fichiers au plus, %(size)s chacun au maximum."
        ) % {"n": MAX_FILES_PER_MESSAGE, "size": filesizeformat(settings.ATTACHMENT_MAX_BYTES)}

    def is_spam(self) -> bool:
        return bool((self.data.get("website") or "").strip())


class SignInRequestForm(forms.Form):
    email = forms.EmailField(label=_("Votre adresse email"), max_length=254,
                             widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))


class ReplyForm(AttachmentsCheckMixin, forms.Form):
    body = forms.CharField(label=_("Votre réponse"), max_length=MAX_MESSAGE_CHARS, required=False,
                           widget=forms.Textarea(attrs={"rows": 5}))
    attachments = MultipleFileField(label=_("Pièces jointes"))

    def clean(self):
        data = super().clean()
        if not (data.get("body") or "").strip() and not data.get("attachments") and not self.errors:
            raise forms.ValidationError(_("Écrivez un message ou joignez un fichier."))
        return data


class RatingForm(forms.Form):
    score = forms.TypedChoiceField(label=_("Votre note"), choices=[(s, s) for s in SCORES], coerce=int,
                                   error_messages={"required": _("Choisissez une note de 1 à 5 étoiles."),
                                                   "invalid_choice": _("Choisissez une note de 1 à 5 étoiles.")})
    comment = forms.CharField(label=_("Un commentaire ? (facultatif)"), required=False, max_length=MAX_COMMENT_CHARS,
                              widget=forms.Textarea(attrs={"rows": 3}))


class PreferenceForm(forms.Form):
    notification_preference = forms.ChoiceField(
        label=_("Comment souhaitez-vous être prévenu(e) ?"), choices=CustomerContactChoice.choices,
        widget=forms.RadioSelect,
    )
