from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from lumiodesk.models import user_display_name

from .models import MessageKind, Priority, Status


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


class TicketCreateForm(forms.Form):
    customer_email = forms.EmailField(label=_("Email du client"))
    customer_name = forms.CharField(label=_("Nom du client"), max_length=200, required=False)
    subject = forms.CharField(label=_("Sujet"), max_length=255)
    body = forms.CharField(label=_("Description"), widget=forms.Textarea(attrs={"rows": 6}))
    priority = forms.ChoiceField(label=_("Priorité"), choices=Priority.choices, initial=Priority.NORMAL)
    assignee = forms.TypedChoiceField(label=_("Responsable"), coerce=int, required=False, empty_value=None)
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Séparés par des virgules"))
    attachments = MultipleFileField(label=_("Pièces jointes"))

    def __init__(self, *args, team=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", _("Non assigné"))] + [
            (u.pk, user_display_name(u)) for u in team
        ]


class ReplyForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[(MessageKind.REPLY, _("Réponse publique")), (MessageKind.NOTE, _("Note interne"))],
        initial=MessageKind.REPLY,
    )
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 6}), required=False)
    then_status = forms.ChoiceField(
        label=_("Puis passer en"), choices=[("", _("Statut inchangé"))] + list(Status.choices), required=False
    )
    attachments = MultipleFileField(label=_("Pièces jointes"))


class StatusForm(forms.Form):
    status = forms.CharField()


class PriorityForm(forms.Form):
    priority = forms.CharField()


class AssignForm(forms.Form):
    assignee = forms.CharField(required=False)


class TagsForm(forms.Form):
    tags = forms.CharField(required=False)

    def names(self) -> list[str]:
        return [t for t in self.cleaned_data.get("tags", "").split(",") if t.strip()]


class SavedViewForm(forms.Form):
    name = forms.CharField(label=_("Nom de la vue"), max_length=80)


class ReplyTemplateForm(forms.Form):
    name = forms.CharField(label=_("Nom"), max_length=120)
    body = forms.CharField(label=_("Texte"), widget=forms.Textarea(attrs={"rows": 10}))
