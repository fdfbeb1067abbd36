"""The rule form: the rule's own fields, then one small form per condition and per action.

Each row shows only the inputs its kind needs (``visible``). Adding, removing a row or changing a row's
kind posts the whole form back (``add_row``, ``drop``, ``refresh``; not ``add``/``remove``, which
would shadow the DOM methods of the <form> element) and gets it re-rendered, not saved: with
HTMX only the form is swapped; without JavaScript the same buttons reload the page. Rows become the JSON
of ``automations.rules``, which ``automations.services`` validates again before saving.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tickets.models import Channel, Priority, Status

from .models import EVENT_TRIGGERS, AutomationRule, Match, Trigger, WebhookEvent
from .rules import (
    ACTION_LABELS,
    COMPANY_KEYS,
    CONDITION_LABELS,
    NOTIFY_LABELS,
    OP_LABELS,
    OPS,
    UNIT_LABELS,
    Act,
    Cond,
    NotifyTo,
    References,
    RuleError,
    clean_action,
    clean_condition,
)
from .selectors import FormChoices

MAX_ROWS = 20
_CHOICE_FIELDS = {Cond.CHANNEL, Cond.STATUS, Cond.PRIORITY, Cond.MAILBOX, Cond.ASSIGNEE, Cond.AUTOMATIC}


def _pick(label: str) -> list[tuple[str, str]]:
    return [("", label)]


class ConditionRow(forms.Form):
    field = forms.ChoiceField(label=_("Champ"), choices=[(k.value, v) for k, v in CONDITION_LABELS.items()])
    op = forms.ChoiceField(label=_("Opérateur"), required=False)
    key = forms.CharField(label=_("Champ du client"), required=False, max_length=50,
                          widget=forms.TextInput(attrs={"list": "customer-keys", "placeholder": "plan"}))
    company_key = forms.ChoiceField(label=_("Champ de l'entreprise"), required=False,
                                    choices=[(k, v) for k, v in COMPANY_KEYS.items()])
    value = forms.CharField(label=_("Valeur"), required=False, max_length=200)
    choice = forms.ChoiceField(label=_("Valeur"), required=False)
    status = forms.ChoiceField(label=_("Statut"), required=False, choices=Status.choices)
    amount = forms.IntegerField(label=_("Durée"), required=False, min_value=1,
                                widget=forms.NumberInput(attrs={"class": "narrow"}))
    unit = forms.ChoiceField(label=_("Unité"), required=False, choices=[(k, v) for k, v in UNIT_LABELS.items()])

    def __init__(self, *args, choices: FormChoices, refs: References, **kwargs):
        super().__init__(*args, **kwargs)
        self.refs = refs
        self.kind = self._current("field", Cond.SUBJECT)
        if self.kind not in OPS:
            self.kind = Cond.SUBJECT
        self.fields["op"].choices = [(op, OP_LABELS[op]) for op in OPS[self.kind]]
        self.fields["choice"].choices = {
            Cond.CHANNEL: Channel.choices,
            Cond.STATUS: Status.choices,
            Cond.PRIORITY: Priority.choices,
            Cond.MAILBOX: _pick(_("Choisir une boîte…")) + [(str(pk), name) for pk, name in choices.mailboxes],
            Cond.ASSIGNEE: [("none", _("Personne (non assigné)"))] + [(str(pk), n) for pk, n in choices.team],
            Cond.AUTOMATIC: [("automatic", _("un email automatique"))],
        }.get(self.kind, [])
        if self.kind == Cond.TAG:
            self.fields["value"].label = _("Tag")
        placeholders = {Cond.SUBJECT: _("facture"), Cond.TEXT: _("mot de passe"), Cond.TAG: _("nom du tag"),
                        Cond.CUSTOMER: _("Enterprise"), Cond.COMPANY: _("valeur")}
        self.fields["value"].widget.attrs["placeholder"] = placeholders.get(self.kind, "")
        self.fields["amount"].widget.attrs["placeholder"] = "2"
        self.json: dict | None = None

    def _current(self, name: str, default: str) -> str:
        if self.is_bound:
            return self.data.get(self.add_prefix(name)) or default
        return self.initial.get(name) or default

    @property
    def visible(self) -> list:
        names = {
            Cond.SUBJECT: ["op", "value"], Cond.TEXT: ["op", "value"], Cond.TAG: ["op", "value"],
            Cond.CUSTOMER: ["key", "op", "value"], Cond.COMPANY: ["company_key", "op", "value"],
            Cond.STATUS_FOR: ["status", "amount", "unit"],
        }.get(self.kind, ["op", "choice"])
        return [self[n] for n in names]

    def clean(self):
        data = super().clean()
        kind = self.kind
        raw: dict = {"field": kind, "op": data.get("op")}
        if kind in _CHOICE_FIELDS:
            raw["value"] = data.get("choice")
        elif kind == Cond.CUSTOMER:
            raw.update(key=data.get("key"), value=data.get("value"))
        elif kind == Cond.COMPANY:
            raw.update(key=data.get("company_key"), value=data.get("value"))
        elif kind == Cond.STATUS_FOR:
            raw.update(status=data.get("status"), amount=data.get("amount"), unit=data.get("unit"))
        else:
            raw["value"] = data.get("value")
        try:
            self.json = clean_condition(raw, self.refs)
        except RuleError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data

    @staticmethod
    def initial_from(c: dict) -> dict:
        kind = c.get("field")
        out = {"field": kind, "op": c.get("op")}
        if kind in _CHOICE_FIELDS:
            value = c.get("value")
            out["choice"] = "none" if value is None and kind == Cond.ASSIGNEE else str(value)
        elif kind == Cond.CUSTOMER:
            out.update(key=c.get("key"), value=c.get("value"))
        elif kind == Cond.COMPANY:
            out.update(company_key=c.get("key"), value=c.get("value"))
        elif kind == Cond.STATUS_FOR:
            out.update(status=c.get("status"), amount=c.get("amount"), unit=c.get("unit"))
        else:
            out["value"] = c.get("value")
        return out


class ActionRow(forms.Form):
    type = forms.ChoiceField(label=_("Action"), choices=[(k.value, v) for k, v in ACTION_LABELS.items()])
    tag = forms.CharField(label=_("Tag"), required=False, max_length=50)
    priority = forms.ChoiceField(label=_("Priorité"), required=False, choices=Priority.choices)
    status = forms.ChoiceField(label=_("Statut"), required=False,
                               choices=[c for c in Status.choices if c[0] != Status.NEW])
    to = forms.ChoiceField(label=_("Qui"), required=False, choices=[(k.value, v) for k, v in NOTIFY_LABELS.items()])
    user = forms.ChoiceField(label=_("Agent"), required=False)
    message = forms.CharField(label=_("Message (facultatif)"), required=False, max_length=500)
    article = forms.ChoiceField(label=_("Article"), required=False)
    text = forms.CharField(label=_("Texte de la note"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))
    endpoint = forms.ChoiceField(label=_("Endpoint"), required=False)

    def __init__(self, *args, choices: FormChoices, refs: References, **kwargs):
        super().__init__(*args, **kwargs)
        self.refs = refs
        self.kind = self._current("type", Act.ADD_TAG)
        if self.kind not in ACTION_LABELS:
            self.kind = Act.ADD_TAG
        self.notify_to = self._current("to", NotifyTo.MANAGERS)
        if not choices.webhooks_allowed:
            self.fields["type"].choices = [c for c in self.fields["type"].choices if c[0] != Act.WEBHOOK
                                           or self.kind == Act.WEBHOOK]
        self.fields["user"].choices = _pick(_("Choisir un agent…")) + [(str(pk), n) for pk, n in choices.team]
        self.fields["article"].choices = _pick(_("Choisir un article publié…")) + [
            (str(pk), title) for pk, title in choices.articles]
        self.fields["endpoint"].choices = _pick(_("Choisir un endpoint…")) + [
            (str(pk), url) for pk, url in choices.endpoints]
        self.fields["tag"].widget.attrs["placeholder"] = _("nom du tag, par exemple facturation")
        self.fields["message"].widget.attrs["placeholder"] = _("Message de la notification (facultatif)")
        self.fields["text"].widget.attrs["placeholder"] = _("Texte de la note interne")
        self.json: dict | None = None

    def _current(self, name: str, default: str) -> str:
        if self.is_bound:
            return self.data.get(self.add_prefix(name)) or default
        return self.initial.get(name) or default

    @property
    def visible(self) -> list:
        names = {
            Act.ADD_TAG: ["tag"], Act.REMOVE_TAG: ["tag"], Act.SET_PRIORITY: ["priority"],
            Act.SET_STATUS: ["status"], Act.ASSIGN: ["user"],
            Act.NOTIFY: ["to", "user", "message"] if self.notify_to == NotifyTo.USER else ["to", "message"],
            Act.SUGGEST_ARTICLE: ["article"], Act.ADD_NOTE: ["text"], Act.WEBHOOK: ["endpoint"],
        }[self.kind]
        return [self[n] for n in names]

    def clean(self):
        data = super().clean()
        raw = {"type": self.kind, **{k: data.get(k) for k in
                                     ("tag", "priority", "status", "to", "user", "message", "article", "text",
                                      "endpoint")}}
        try:
            self.json = clean_action(raw, self.refs)
        except RuleError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data

    @staticmethod
    def initial_from(a: dict) -> dict:
        return {k: (str(v) if isinstance(v, int) else v) for k, v in a.items()}


class RuleForm(forms.Form):
    name = forms.CharField(label=_("Nom de la règle"), max_length=120)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    events = forms.MultipleChoiceField(
        label=_("Évaluer la règle"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(t, Trigger(t).label) for t in EVENT_TRIGGERS],
    )
    match = forms.ChoiceField(label=_("Le ticket doit remplir"), choices=Match.choices, initial=Match.ALL)
    stop_after = forms.BooleanField(
        label=_("Stopper après cette règle"), required=False,
        help_text=_("Si cette règle s'applique, les règles suivantes ne sont pas évaluées."),
    )


class RuleEditor:
    """The rule form and its rows, from a rule, from defaults, or from a POST (with add/remove/refresh)."""

    def __init__(self, *, choices: FormChoices, refs: References, rule: AutomationRule | None = None, data=None,
                 url: str = ""):
        self.choices, self.refs, self.url = choices, refs, url
        self.intent = "save"
        if data is None:
            if rule is not None:
                initial = {"name": rule.name, "is_active": rule.is_active, "events": rule.events,
                           "match": rule.match, "stop_after": rule.stop_after}
                conditions = [ConditionRow.initial_from(c) for c in rule.conditions]
                actions = [ActionRow.initial_from(a) for a in rule.actions]
            else:
                initial = {"is_active": True, "events": [Trigger.CREATED], "match": Match.ALL}
                conditions = [{"field": Cond.SUBJECT, "op": "contains"}]
                actions = [{"type": Act.ADD_TAG}]
            self.form = RuleForm(initial=initial)
            self.conditions = [self._condition(initial=c, index=i) for i, c in enumerate(conditions)]
            self.actions = [self._action(initial=a, index=i) for i, a in enumerate(actions)]
            return
        self.form = RuleForm(data)
        data = data.copy()
        n_cond = _count(data.get("c-count"))
        n_act = _count(data.get("a-count"))
        drop = data.get("drop", "")
        keep_c = [i for i in range(n_cond) if drop != f"c{i}"]
        keep_a = [i for i in range(n_act) if drop != f"a{i}"]
        if drop:
            self.intent = "edit"
            data = _renumber(data, "c", keep_c)
            data = _renumber(data, "a", keep_a)
        n_cond, n_act = len(keep_c), len(keep_a)
        add = data.get("add_row")
        if add == "condition" and n_cond < MAX_ROWS:
            data[f"c{n_cond}-field"] = Cond.SUBJECT
            n_cond += 1
        elif add == "action" and n_act < MAX_ROWS:
            data[f"a{n_act}-type"] = Act.ADD_TAG
            n_act += 1
        if add or data.get("refresh"):
            self.intent = "edit"
        self.conditions = [self._condition(data=data, index=i) for i in range(n_cond)]
        self.actions = [self._action(data=data, index=i) for i in range(n_act)]
        if self.intent == "edit":
            # Re-rendered, not saved: show no errors yet.
            for row in [self.form, *self.conditions, *self.actions]:
                row._errors = {}

    def _refreshing(self, row, *names: str):
        """Changing a row's kind re-renders the form with that kind's inputs (HTMX; else the refresh button)."""
        attrs = {"hx-post": self.url, "hx-trigger": "change", "hx-target": "#rule-form", "hx-swap": "outerHTML",
                 "hx-vals": '{"refresh": "1"}', "class": "js-refresh"}
        for name in names:
            row.fields[name].widget.attrs.update(attrs)
        return row

    def _condition(self, *, index: int, data=None, initial=None) -> ConditionRow:
        row = ConditionRow(data, initial=initial, prefix=f"c{index}", choices=self.choices, refs=self.refs)
        return self._refreshing(row, "field")

    def _action(self, *, index: int, data=None, initial=None) -> ActionRow:
        row = ActionRow(data, initial=initial, prefix=f"a{index}", choices=self.choices, refs=self.refs)
        return self._refreshing(row, "type", "to")

    @property
    def wants_save(self) -> bool:
        return self.intent == "save"

    def is_valid(self) -> bool:
        results = [self.form.is_valid()] + [r.is_valid() for r in self.conditions] + [r.is_valid() for r in
                                                                                     self.actions]
        return all(results)

    def cleaned(self) -> dict:
        data = self.form.cleaned_data
        return {
            "name": data["name"], "is_active": data["is_active"], "events": data["events"], "match": data["match"],
            "stop_after": data["stop_after"], "conditions": [r.json for r in self.conditions],
            "actions": [r.json for r in self.actions],
        }

    @property
    def has_time_condition(self) -> bool:
        return any(r.kind == Cond.STATUS_FOR for r in self.conditions)


def _count(raw) -> int:
    try:
        return max(0, min(int(raw), MAX_ROWS))
    except (TypeError, ValueError):
        return 0


def _renumber(data, letter: str, keep: list[int]):
    """Rows ``keep`` of ``c0..cN`` (or ``a0..aN``) become ``c0..c{len-1}``."""
    prefixes = {f"{letter}{old}-": f"{letter}{new}-" for new, old in enumerate(keep)}
    out = data.copy()
    for key in list(out.keys()):
        if key[:1] == letter and "-" in key and key.split("-", 1)[0][1:].isdigit():
            del out[key]
    for key, values in data.lists():
        head = key.split("-", 1)[0] + "-" if "-" in key else ""
        if head in prefixes:
            out.setlist(prefixes[head] + key.split("-", 1)[1], values)
    return out


class EndpointForm(forms.Form):
    url = forms.CharField(label=_("URL de réception"), max_length=500,
                          widget=forms.URLInput(attrs={"placeholder": "https://exemple.com/hooks/lumiodesk"}))
    description = forms.CharField(label=_("Description"), required=False, max_length=200)
    events = forms.MultipleChoiceField(label=_("Événements"), required=False, widget=forms.CheckboxSelectMultiple,
                                       choices=WebhookEvent.choices)

