from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from lumiodesk.models import BusinessHours, Weekday
from tickets.models import Priority

from .models import Granularity, SlaPolicy, TargetUnit
from .services import DayHours, PolicyInput


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", **kwargs)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class BusinessHoursForm(forms.Form):
    """The seven days: open or not, opening and closing (00:00 closing = midnight)."""

    def __init__(self, *args, hours: list[BusinessHours], **kwargs):
        super().__init__(*args, **kwargs)
        self.days = []
        for h in hours:
            d = h.weekday
            self.fields[f"open_{d}"] = forms.BooleanField(required=False, initial=h.is_open,
                                                          label=Weekday(d).label)
            self.fields[f"opens_{d}"] = forms.TimeField(required=False, initial=h.opens, widget=TimeInput(),
                                                        label=_("Ouverture"))
            self.fields[f"closes_{d}"] = forms.TimeField(required=False, initial=h.closes, widget=TimeInput(),
                                                         label=_("Fermeture"))
            self.days.append((Weekday(d).label, self[f"open_{d}"], self[f"opens_{d}"], self[f"closes_{d}"]))

    def cleaned_days(self) -> list[DayHours]:
        c = self.cleaned_data
        return [DayHours(d, bool(c.get(f"open_{d}")), c.get(f"opens_{d}"), c.get(f"closes_{d}")) for d in range(7)]


class HolidayForm(forms.Form):
    date = forms.DateField(label=_("Date"), widget=DateInput())
    name = forms.CharField(label=_("Nom"), max_length=120, required=False)


class HolidayImportForm(forms.Form):
    file = forms.FileField(label=_("Fichier iCalendar (.ics)"))


class PoliciesForm(forms.Form):
    """Targets per priority and the pause setting."""

    pause_when_waiting_customer = forms.BooleanField(
        required=False, label=_("Suspendre le délai de résolution pendant l'attente client"),
    )

    def __init__(self, *args, policies: list[SlaPolicy], pause: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pause_when_waiting_customer"].initial = pause
        self.rows = []
        for p in policies:
            k = p.priority
            self.fields[f"fr_amount_{k}"] = forms.IntegerField(min_value=1, max_value=100000,
                                                               initial=p.first_response_amount,
                                                               label=_("Première réponse"))
            self.fields[f"fr_unit_{k}"] = forms.ChoiceField(choices=TargetUnit.choices, initial=p.first_response_unit,
                                                            label=_("Unité"))
            self.fields[f"res_amount_{k}"] = forms.IntegerField(min_value=1, max_value=100000,
                                                                initial=p.resolution_amount, label=_("Résolution"))
            self.fields[f"res_unit_{k}"] = forms.ChoiceField(choices=TargetUnit.choices, initial=p.resolution_unit,
                                                             label=_("Unité"))
            self.rows.append((Priority(k), self[f"fr_amount_{k}"], self[f"fr_unit_{k}"], self[f"res_amount_{k}"],
                              self[f"res_unit_{k}"]))

    def cleaned_policies(self) -> list[PolicyInput]:
        c = self.cleaned_data
        return [
            PolicyInput(p, c[f"fr_amount_{p}"], c[f"fr_unit_{p}"], c[f"res_amount_{p}"], c[f"res_unit_{p}"])
            for p in Priority.values
        ]


class PreviewForm(forms.Form):
    priority = forms.ChoiceField(label=_("Priorité"), choices=Priority.choices, initial=Priority.NORMAL)
    created = forms.DateTimeField(
        label=_("Ticket créé le"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
    )


class ReportForm(forms.Form):
    start = forms.DateField(label=_("Du"), widget=DateInput())
    end = forms.DateField(label=_("Au"), widget=DateInput())
    granularity = forms.ChoiceField(label=_("Par"), choices=Granularity.choices, initial=Granularity.WEEK)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise forms.ValidationError(_("La fin de la période doit suivre son début."))
        return data
