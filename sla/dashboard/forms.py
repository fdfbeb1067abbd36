from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from lumiodesk.models import user_display_name
from tickets.models import Channel, Priority

from ..forms import DateInput


class DashboardForm(forms.Form):
    """The dashboard's filters (GET): a period, an agent, a channel, a priority, a tag."""

    start = forms.DateField(label=_("Du"), widget=DateInput(), required=False)  # default: the last 30 days
    end = forms.DateField(label=_("Au"), widget=DateInput(), required=False)
    agent = forms.TypedChoiceField(label=_("Agent"), required=False, coerce=int, empty_value=None)
    channel = forms.ChoiceField(label=_("Canal"), required=False)
    priority = forms.ChoiceField(label=_("Priorité"), required=False)
    tag = forms.ChoiceField(label=_("Tag"), required=False)
    company = forms.TypedChoiceField(label=_("Entreprise"), required=False, coerce=int, empty_value=None)
    team = forms.TypedChoiceField(label=_("Équipe"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, team, tags, companies, teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].choices = [("", _("Tous les agents"))] + [
            (u.pk, user_display_name(u)) for u in team]
        self.fields["channel"].choices = [("", _("Tous les canaux")), *Channel.choices]
        self.fields["priority"].choices = [("", _("Toutes priorités")), *Priority.choices]
        self.fields["tag"].choices = [("", _("Tous les tags"))] + [(t.name, t.name) for t in tags]
        self.fields["company"].choices = [("", _("Toutes les entreprises"))] + [(c.pk, c.name) for c in companies]
        self.fields["team"].choices = [("", _("Toutes les équipes"))] + [(t.pk, t.name) for t in teams]

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise forms.ValidationError(_("La fin de la période doit suivre son début."))
        return data
