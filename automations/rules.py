"""The vocabulary of rules: the conditions and actions that exist, their parameters, validation and labels.

A condition is a JSON object ``{"field": ..., "op": ..., ...}``; an action ``{"type": ..., ...}``:

======================  =====================================================================================
condition               parameters
======================  =====================================================================================
``subject``             ``op`` contains / not_contains, ``value`` text (accents and case ignored)
``text``                subject or message: the message of the event (the first one on creation, the
                        customer's reply), else the customer's latest message; same ops as ``subject``
``channel``             ``op`` is / is_not, ``value`` a channel code
``mailbox``             ``op`` is / is_not, ``value`` a mailbox id of the organization
``status``              ``op`` is / is_not, ``value`` a status code
``priority``            ``op`` is / is_not, ``value`` a priority code
``tag``                 ``op`` has / has_not, ``value`` a tag name
``assignee``            ``op`` is / is_not, ``value`` an agent's user id, or null for "unassigned"
``customer``            ``key`` email, name or any customer attribute (``plan``), ``op`` equals /
                        not_equals / contains / not_contains, ``value`` text (case ignored)
``company``             ``key`` name or domain, same ops as ``customer``
``status_for``          ``status``, ``amount``, ``unit`` (minutes, hours, days) of business time: the ticket
                        has been in that status this long. A rule with it is a *time rule*, run by the scan.
======================  =====================================================================================

======================  =====================================================================================
action                  parameters
======================  =====================================================================================
``add_tag``             ``tag``
``remove_tag``          ``tag``
``set_priority``        ``priority``
``set_status``          ``status`` (the lifecycle's transitions apply)
``assign``              ``user``: an agent's user id
``notify``              ``to``: managers, assignee or user (then ``user``); optional ``message``
``suggest_article``     ``article``: a published, public article; an internal note links it
``add_note``            ``text``: an internal note
``webhook``             ``endpoint``: a webhook endpoint of the organization (Business and Scale)
======================  =====================================================================================

There is no refund action, and there must never be one: refunds are approved by a person (a Manager
under 100 EUR, an Admin from 100 EUR) and are never triggered by a rule (section 15).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sla.business_time import Unit
from tickets.models import Channel, Priority, Status

from .models import EVENT_TRIGGERS, Match, Trigger


class Cond(StrEnum):
    SUBJECT = "subject"
    TEXT = "text"
    CHANNEL = "channel"
    MAILBOX = "mailbox"
    STATUS = "status"
    PRIORITY = "priority"
    TAG = "tag"
    ASSIGNEE = "assignee"
    CUSTOMER = "customer"
    COMPANY = "company"
    STATUS_FOR = "status_for"
    AUTOMATIC = "automatic"  # the ticket came from automatic mail (issue 22)


class Act(StrEnum):
    ADD_TAG = "add_tag"
    REMOVE_TAG = "remove_tag"
    SET_PRIORITY = "set_priority"
    SET_STATUS = "set_status"
    ASSIGN = "assign"
    NOTIFY = "notify"
    SUGGEST_ARTICLE = "suggest_article"
    ADD_NOTE = "add_note"
    WEBHOOK = "webhook"


CONDITION_LABELS = {
    Cond.SUBJECT: gettext_lazy("Sujet"),
    Cond.TEXT: gettext_lazy("Sujet ou message"),
    Cond.CHANNEL: gettext_lazy("Canal"),
    Cond.MAILBOX: gettext_lazy("Boîte email"),
    Cond.STATUS: gettext_lazy("Statut"),
    Cond.PRIORITY: gettext_lazy("Priorité"),
    Cond.TAG: gettext_lazy("Tag"),
    Cond.ASSIGNEE: gettext_lazy("Responsable"),
    Cond.CUSTOMER: gettext_lazy("Champ du client"),
    Cond.COMPANY: gettext_lazy("Champ de l'entreprise"),
    Cond.STATUS_FOR: gettext_lazy("Temps dans un statut"),
    Cond.AUTOMATIC: gettext_lazy("Origine"),
}
ACTION_LABELS = {
    Act.ADD_TAG: gettext_lazy("Ajouter un tag"),
    Act.REMOVE_TAG: gettext_lazy("Retirer un tag"),
    Act.SET_PRIORITY: gettext_lazy("Changer la priorité"),
    Act.SET_STATUS: gettext_lazy("Changer le statut"),
    Act.ASSIGN: gettext_lazy("Assigner à un agent"),
    Act.NOTIFY: gettext_lazy("Notifier"),
    Act.SUGGEST_ARTICLE: gettext_lazy("Proposer un article"),
    Act.ADD_NOTE: gettext_lazy("Ajouter une note interne"),
    Act.WEBHOOK: gettext_lazy("Appeler un webhook"),
}

TEXT_OPS = ("contains", "not_contains")
IS_OPS = ("is", "is_not")
TAG_OPS = ("has", "has_not")
FIELD_OPS = ("equals", "not_equals", "contains", "not_contains")
OPS: dict[str, tuple[str, ...]] = {
    Cond.SUBJECT: TEXT_OPS,
    Cond.TEXT: TEXT_OPS,
    Cond.CHANNEL: IS_OPS,
    Cond.MAILBOX: IS_OPS,
    Cond.STATUS: IS_OPS,
    Cond.PRIORITY: IS_OPS,
    Cond.TAG: TAG_OPS,
    Cond.ASSIGNEE: IS_OPS,
    Cond.CUSTOMER: FIELD_OPS,
    Cond.COMPANY: FIELD_OPS,
    Cond.STATUS_FOR: ("at_least",),
    Cond.AUTOMATIC: IS_OPS,
}
OP_LABELS = {
    "contains": gettext_lazy("contient"),
    "not_contains": gettext_lazy("ne contient pas"),
    "is": gettext_lazy("est"),
    "is_not": gettext_lazy("n'est pas"),
    "has": gettext_lazy("a le tag"),
    "has_not": gettext_lazy("n'a pas le tag"),
    "equals": gettext_lazy("est égal à"),
    "not_equals": gettext_lazy("est différent de"),
    "at_least": gettext_lazy("depuis au moins"),
}
CUSTOMER_BUILTIN_KEYS = {"email": gettext_lazy("email"), "name": gettext_lazy("nom")}
COMPANY_KEYS = {"name": gettext_lazy("nom"), "domain": gettext_lazy("domaine")}
UNIT_LABELS = {
    Unit.MINUTES: gettext_lazy("minutes ouvrées"),
    Unit.HOURS: gettext_lazy("heures ouvrées"),
    Unit.DAYS: gettext_lazy("jours ouvrés"),
}
MIN_MINUTES = 5  # a time rule waits at least this long (the scan runs every minute)
MAX_AMOUNT = {Unit.MINUTES: 60 * 24 * 30, Unit.HOURS: 24 * 90, Unit.DAYS: 365}


class NotifyTo(StrEnum):
    MANAGERS = "managers"
    ASSIGNEE = "assignee"
    USER = "user"


NOTIFY_LABELS = {
    NotifyTo.MANAGERS: gettext_lazy("les managers (Admins et Managers)"),
    NotifyTo.ASSIGNEE: gettext_lazy("le responsable du ticket"),
    NotifyTo.USER: gettext_lazy("une personne de l'équipe"),
}
MAX_CONDITIONS = 20
MAX_ACTIONS = 10
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,50}$")


def fold(text: str) -> str:
    """Lower case, accents removed, spaces collapsed: "Mot de  PASSE" and "mot de passe" compare equal."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text or "") if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


class RuleError(ValueError):
    """A condition or an action that cannot be saved; ``str()`` is shown to the user."""


@dataclass
class References:
    """What a rule may point at in its organization (loaded once to validate a rule)."""

    team: set[int] = field(default_factory=set)
    mailboxes: set[int] = field(default_factory=set)
    articles: set[int] = field(default_factory=set)  # published and public (kb.selectors.visible_articles)
    endpoints: set[int] = field(default_factory=set)
    webhooks_allowed: bool = False


# --- validation -------------------------------------------------------------------------------------------


def _text(raw: dict, key: str, *, max_length: int = 200, required: bool = True) -> str:
    value = " ".join(str(raw.get(key) or "").split())
    if required and not value:
        raise RuleError(_("indiquez une valeur."))
    if len(value) > max_length:
        raise RuleError(_("%(n)s caractères au plus.") % {"n": max_length})
    return value


def _choice(raw: dict, key: str, choices) -> str:
    value = str(raw.get(key) or "")
    if value not in choices.values:
        raise RuleError(_("valeur inconnue : %(v)s") % {"v": value or "—"})
    return value


def _ref(raw: dict, key: str, allowed: set[int], what: str) -> int:
    try:
        value = int(raw.get(key))
    except (TypeError, ValueError):
        raise RuleError(_("choisissez %(what)s.") % {"what": what}) from None
    if value not in allowed:
        raise RuleError(_("%(what)s introuvable dans cette organisation.") % {"what": what})
    return value


def clean_condition(raw: Any, refs: References) -> dict:
    if not isinstance(raw, dict):
        raise RuleError(_("condition illisible."))
    try:
        kind = Cond(raw.get("field"))
    except ValueError:
        raise RuleError(_("champ inconnu : %(f)s") % {"f": raw.get("field") or "—"}) from None
    if kind == Cond.STATUS_FOR:
        status = _choice(raw, "status", Status)
        unit = str(raw.get("unit") or "")
        if unit not in UNIT_LABELS:
            raise RuleError(_("unité inconnue : %(u)s") % {"u": unit or "—"})
        try:
            amount = int(raw.get("amount"))
        except (TypeError, ValueError):
            raise RuleError(_("indiquez une durée.")) from None
        least = MIN_MINUTES if unit == Unit.MINUTES else 1
        if not least <= amount <= MAX_AMOUNT[unit]:
            raise RuleError(_("durée hors limites : de %(min)s à %(max)s %(unit)s.")
                            % {"min": least, "max": MAX_AMOUNT[unit], "unit": UNIT_LABELS[unit]})
        return {"field": kind.value, "op": "at_least", "status": status, "amount": amount, "unit": unit}
    op = str(raw.get("op") or "")
    if op not in OPS[kind]:
        raise RuleError(_("opérateur inconnu : %(o)s") % {"o": op or "—"})
    out: dict[str, Any] = {"field": kind.value, "op": op}
    if kind in (Cond.SUBJECT, Cond.TEXT):
        out["value"] = _text(raw, "value")
    elif kind == Cond.CHANNEL:
        out["value"] = _choice(raw, "value", Channel)
    elif kind == Cond.STATUS:
        out["value"] = _choice(raw, "value", Status)
    elif kind == Cond.PRIORITY:
        out["value"] = _choice(raw, "value", Priority)
    elif kind == Cond.MAILBOX:
        out["value"] = _ref(raw, "value", refs.mailboxes, _("une boîte email"))
    elif kind == Cond.TAG:
        out["value"] = _text(raw, "value", max_length=50).lower()
    elif kind == Cond.AUTOMATIC:
        out["value"] = "automatic"  # one value: "is automatic" / "is not automatic"
    elif kind == Cond.ASSIGNEE:
        value = raw.get("value")
        out["value"] = None if value in (None, "", "none") else _ref(raw, "value", refs.team, _("un agent"))
    elif kind in (Cond.CUSTOMER, Cond.COMPANY):
        key = str(raw.get("key") or "").strip()
        if kind == Cond.COMPANY and key not in COMPANY_KEYS:
            raise RuleError(_("champ de l'entreprise inconnu : %(k)s") % {"k": key or "—"})
        if kind == Cond.CUSTOMER and not _KEY.match(key):
            raise RuleError(_("nom de champ du client invalide (lettres, chiffres, « _ », « - », « . »)."))
        out["key"] = key
        out["value"] = _text(raw, "value")
    return out


def clean_action(raw: Any, refs: References) -> dict:
    if not isinstance(raw, dict):
        raise RuleError(_("action illisible."))
    try:
        kind = Act(raw.get("type"))
    except ValueError:
        # Refunds included: no rule can ever issue one (section 15).
        raise RuleError(_("action inconnue : %(t)s") % {"t": raw.get("type") or "—"}) from None
    out: dict[str, Any] = {"type": kind.value}
    if kind in (Act.ADD_TAG, Act.REMOVE_TAG):
        out["tag"] = _text(raw, "tag", max_length=50).lower()
    elif kind == Act.SET_PRIORITY:
        out["priority"] = _choice(raw, "priority", Priority)
    elif kind == Act.SET_STATUS:
        out["status"] = _choice(raw, "status", Status)
        if out["status"] == Status.NEW:
            raise RuleError(_("un ticket ne peut pas revenir au statut Nouveau."))
    elif kind == Act.ASSIGN:
        out["user"] = _ref(raw, "user", refs.team, _("un agent"))
    elif kind == Act.NOTIFY:
        to = str(raw.get("to") or "")
        if to not in NOTIFY_LABELS:
            raise RuleError(_("destinataire inconnu : %(t)s") % {"t": to or "—"})
        out["to"] = to
        if to == NotifyTo.USER:
            out["user"] = _ref(raw, "user", refs.team, _("une personne de l'équipe"))
        message = _text(raw, "message", max_length=500, required=False)
        if message:
            out["message"] = message
    elif kind == Act.SUGGEST_ARTICLE:
        out["article"] = _ref(raw, "article", refs.articles, _("un article publié et public"))
    elif kind == Act.ADD_NOTE:
        text = str(raw.get("text") or "").strip()
        if not text:
            raise RuleError(_("écrivez le texte de la note."))
        if len(text) > 2000:
            raise RuleError(_("%(n)s caractères au plus.") % {"n": 2000})
        out["text"] = text
    elif kind == Act.WEBHOOK:
        if not refs.webhooks_allowed:
            raise RuleError(_("les webhooks sont réservés aux forfaits Business et Scale."))
        out["endpoint"] = _ref(raw, "endpoint", refs.endpoints, _("un endpoint webhook"))
    return out


@dataclass(frozen=True)
class CleanRule:
    events: list[str]
    match: str
    conditions: list[dict]
    actions: list[dict]
    time: tuple[str, int, str] | None  # (status, amount, unit) of the time condition


def clean_rule(*, events: Iterable[str], match: str, conditions: list, actions: list, refs: References) -> CleanRule:
    """The rule as stored, or ``RuleError`` naming the first problem ("Condition 2 : ...")."""
    if match not in Match.values:
        raise RuleError(_("Choisissez si toutes les conditions ou au moins une doivent être remplies."))
    if len(conditions) > MAX_CONDITIONS or len(actions) > MAX_ACTIONS:
        raise RuleError(_("Une règle a au plus %(c)s conditions et %(a)s actions.")
                        % {"c": MAX_CONDITIONS, "a": MAX_ACTIONS})
    clean_conditions = []
    for i, raw in enumerate(conditions, 1):
        try:
            clean_conditions.append(clean_condition(raw, refs))
        except RuleError as exc:
            raise RuleError(_("Condition %(n)s : %(e)s") % {"n": i, "e": exc}) from None
    if not actions:
        raise RuleError(_("Ajoutez au moins une action."))
    clean_actions = []
    for i, raw in enumerate(actions, 1):
        try:
            clean_actions.append(clean_action(raw, refs))
        except RuleError as exc:
            raise RuleError(_("Action %(n)s : %(e)s") % {"n": i, "e": exc}) from None
    timed = [c for c in clean_conditions if c["field"] == Cond.STATUS_FOR]
    if len(timed) > 1:
        raise RuleError(_("Une règle a au plus une condition de temps dans un statut."))
    if timed and match == Match.ANY and len(clean_conditions) > 1:
        raise RuleError(_("Une condition de temps doit être remplie avec les autres : choisissez « toutes "
                          "les conditions »."))
    if timed:
        # A time rule is run by the scan, once per stay of a ticket in the status: not on events.
        t = timed[0]
        return CleanRule([], match, clean_conditions, clean_actions, (t["status"], t["amount"], t["unit"]))
    wanted = [e for e in EVENT_TRIGGERS if e in set(events)]
    if not wanted:
        raise RuleError(_("Choisissez quand évaluer la règle (création, mise à jour, réponse du client)."))
    return CleanRule(wanted, match, clean_conditions, clean_actions, None)


# --- labels -----------------------------------------------------------------------------------------------


@dataclass
class Names:
    """Display names of what rules point at; ``lookup`` fetches what is missing (the engine), a page
    fills the dicts up front in a fixed number of queries (``automations.selectors.names_for``)."""

    users: dict[int, str] = field(default_factory=dict)
    mailboxes: dict[int, str] = field(default_factory=dict)
    articles: dict[int, str] = field(default_factory=dict)
    endpoints: dict[int, str] = field(default_factory=dict)
    lookup: Callable[[str, int], str | None] | None = None

    def get(self, kind: str, pk) -> str:
        table: dict[int, str] = getattr(self, kind)
        if pk in table:
            return table[pk]
        found = self.lookup(kind, pk) if self.lookup and pk is not None else None
        table[pk] = found or _("(supprimé)")
        return table[pk]


def _q(value) -> str:
    return f"« {value} »"


def describe_condition(c: dict, names: Names) -> str:
    kind = c.get("field")
    if kind == Cond.STATUS_FOR:
        return _("Statut %(s)s depuis au moins %(n)s %(unit)s") % {
            "s": _q(Status(c["status"]).label), "n": c["amount"], "unit": UNIT_LABELS.get(c["unit"], c["unit"])}
    label = CONDITION_LABELS.get(kind, kind)
    op = OP_LABELS.get(c.get("op"), c.get("op"))
    value = c.get("value")
    if kind == Cond.AUTOMATIC:
        return _("Ticket automatique") if c.get("op") == "is" else _("Ticket écrit par une personne")
    if kind == Cond.CHANNEL:
        value = Channel(value).label
    elif kind == Cond.STATUS:
        value = Status(value).label
    elif kind == Cond.PRIORITY:
        value = Priority(value).label
    elif kind == Cond.MAILBOX:
        value = names.get("mailboxes", value)
    elif kind == Cond.ASSIGNEE:
        value = names.get("users", value) if value is not None else _("personne (non assigné)")
    elif kind == Cond.TAG:
        if c.get("op") == "has":
            return _("A le tag %(t)s") % {"t": _q(value)}
        return _("N'a pas le tag %(t)s") % {"t": _q(value)}
    elif kind == Cond.CUSTOMER:
        key = c.get("key")
        label = _("Client : %(k)s") % {"k": CUSTOMER_BUILTIN_KEYS.get(key, key)}
    elif kind == Cond.COMPANY:
        label = _("Entreprise : %(k)s") % {"k": COMPANY_KEYS.get(c.get("key"), c.get("key"))}
    return f"{label} {op} {_q(value)}"


def describe_action(a: dict, names: Names) -> str:
    kind = a.get("type")
    if kind == Act.ADD_TAG:
        return _("Ajouter le tag %(t)s") % {"t": _q(a["tag"])}
    if kind == Act.REMOVE_TAG:
        return _("Retirer le tag %(t)s") % {"t": _q(a["tag"])}
    if kind == Act.SET_PRIORITY:
        return _("Mettre la priorité à %(p)s") % {"p": _q(Priority(a["priority"]).label)}
    if kind == Act.SET_STATUS:
        return _("Passer en %(s)s") % {"s": _q(Status(a["status"]).label)}
    if kind == Act.ASSIGN:
        return _("Assigner à %(u)s") % {"u": names.get("users", a["user"])}
    if kind == Act.NOTIFY:
        if a["to"] == NotifyTo.USER:
            who = names.get("users", a.get("user"))
        else:
            who = NOTIFY_LABELS[NotifyTo(a["to"])]
        return _("Notifier %(who)s") % {"who": who}
    if kind == Act.SUGGEST_ARTICLE:
        return _("Proposer l'article %(a)s") % {"a": _q(names.get("articles", a["article"]))}
    if kind == Act.ADD_NOTE:
        text = a["text"] if len(a["text"]) <= 60 else a["text"][:59] + "…"
        return _("Ajouter la note interne %(t)s") % {"t": _q(text)}
    if kind == Act.WEBHOOK:
        return _("Appeler le webhook %(u)s") % {"u": names.get("endpoints", a["endpoint"])}
    return str(kind)


def describe_trigger(events: Iterable[str], time_rule: bool) -> str:
    if time_rule:
        return str(Trigger.TIME.label)
    return ", ".join(str(Trigger(e).label) for e in EVENT_TRIGGERS if e in set(events))
