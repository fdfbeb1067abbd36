"""What each action does, through the same services as a person would use (``tickets.services``,
``kb.services``, ``lumiodesk.notifications``), as the system (``SYSTEM``, a ``SystemActor``).

An action that changes the ticket calls a service and says so (``Result.reload``, from ``WRITES``): the engine
then reads the row back; no action patches the engine's copy of the ticket.

Each action runs in a savepoint and reports an outcome for the journal: *done*, *skipped* with the
reason (the tag is already there, the lifecycle forbids that status, the agent left the team, the
article is no longer published, the webhook endpoint is disabled...) or *failed* with the error,
rolled back alone. There is no refund action (section 15): see ``automations.rules``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kb.models import Article, ArticleLink
from kb.selectors import visible_articles
from kb.services import link_article
from lumiodesk import notifications
from lumiodesk.exceptions import DomainError
from lumiodesk.models import user_display_name
from lumiodesk.permissions import SystemActor
from tickets import services as tickets
from tickets.email.models import Mailbox
from tickets.models import MessageKind, Ticket

from . import webhooks
from .models import Outcome, WebhookEndpoint
from .notification_kinds import AutomationNotificationKind
from .rules import Act, Names, NotifyTo, describe_action

SYSTEM = SystemActor("automation rule")

log = logging.getLogger(__name__)
User = get_user_model()


@dataclass
class Result:
    action: dict
    label: str
    outcome: str
    detail: str = ""
    reload: bool = False  # a service wrote the ticket row: the engine reads it back

    def as_journal(self) -> dict:
        return {"type": self.action.get("type"), "label": self.label, "outcome": self.outcome, "detail": self.detail}


def names_lookup(organization_id: int):
    """Fetch one display name for a journal label (the engine runs few actions; a page loads them in bulk)."""
    def lookup(kind: str, pk: int) -> str | None:
        if kind == "users":
            user = User.objects.filter(pk=pk).only("first_name", "last_name", "email").first()
            return user_display_name(user) if user else None
        model, column = {
            "articles": (Article, "title"), "mailboxes": (Mailbox, "address"), "endpoints": (WebhookEndpoint, "url"),
        }.get(kind, (None, None))
        if model is None:
            return None
        return model.objects.filter(organization_id=organization_id, pk=pk).values_list(column, flat=True).first()

    return lookup


def run(action: dict, *, ticket: Ticket, rule, facts, key: str) -> Result:
    """``rule``: the running rule (``engine.CompiledRule``: its ``pk`` and ``name``)."""
    label = describe_action(action, Names(lookup=names_lookup(ticket.organization_id)))
    handler = HANDLERS.get(action.get("type"))
    if handler is None:
        return Result(action, label, Outcome.SKIPPED, _("action inconnue"))
    try:
        with transaction.atomic():
            outcome, detail = handler(action, ticket=ticket, rule=rule, facts=facts, key=key)
    except DomainError as exc:
        return Result(action, label, Outcome.SKIPPED, exc.message)
    except Exception as exc:  # noqa: BLE001 - journaled; the savepoint rolled this action back alone
        log.exception("automation action %s of rule %s failed on ticket %s", action.get("type"), rule.pk, ticket.pk)
        return Result(action, label, Outcome.FAILED, f"{type(exc).__name__}: {exc}"[:300])
    return Result(action, label, outcome, detail, reload=outcome == Outcome.DONE and action.get("type") in WRITES)


# --- the actions -------------------------------------------------------------------------------------------


def _add_tag(a, *, ticket, facts, **_kw):
    tag = a["tag"]
    if tag in facts.tags:
        return Outcome.SKIPPED, _("le ticket a déjà ce tag")
    tickets.set_tags(ticket=ticket, names=sorted(facts.tags | {tag}), actor=SYSTEM)
    facts.tags.add(tag)
    return Outcome.DONE, ""


def _remove_tag(a, *, ticket, facts, **_kw):
    tag = a["tag"]
    if tag not in facts.tags:
        return Outcome.SKIPPED, _("le ticket n'a pas ce tag")
    tickets.set_tags(ticket=ticket, names=sorted(facts.tags - {tag}), actor=SYSTEM)
    facts.tags.discard(tag)
    return Outcome.DONE, ""


def _set_priority(a, *, ticket, **_kw):
    if ticket.priority == a["priority"]:
        return Outcome.SKIPPED, _("le ticket a déjà cette priorité")
    tickets.set_priority(ticket=ticket, priority=a["priority"], actor=SYSTEM)
    return Outcome.DONE, ""


def _set_status(a, *, ticket, **_kw):
    if ticket.status == a["status"]:
        return Outcome.SKIPPED, _("le ticket a déjà ce statut")
    tickets.change_status(ticket=ticket, status=a["status"], actor=SYSTEM, reason="automation")
    return Outcome.DONE, ""


def _team(ticket: Ticket) -> list[int]:
    return notifications.agents_of(ticket.organization_id)


def _assign(a, *, ticket, **_kw):
    if ticket.assignee_id == a["user"]:
        return Outcome.SKIPPED, _("le ticket est déjà assigné à cet agent")
    user = User.objects.filter(pk=a["user"], is_active=True).first()
    if user is None or user.pk not in _team(ticket):
        return Outcome.SKIPPED, _("cet agent ne fait plus partie de l'équipe")
    tickets.assign(ticket=ticket, assignee=user, actor=SYSTEM)
    return Outcome.DONE, ""


def _notify(a, *, ticket, rule, key, **_kw):
    to = a["to"]
    if to == NotifyTo.MANAGERS:
        recipients = notifications.agents_of(ticket.organization_id, capability="notifications.team")
        if not recipients:
            return Outcome.SKIPPED, _("aucun Admin ni Manager actif")
    elif to == NotifyTo.ASSIGNEE:
        if ticket.assignee_id is None:
            return Outcome.SKIPPED, _("le ticket n'est pas assigné")
        recipients = [ticket.assignee_id] if ticket.assignee_id in _team(ticket) else []
        if not recipients:
            return Outcome.SKIPPED, _("le responsable ne fait plus partie de l'équipe")
    else:
        recipients = [a["user"]] if a.get("user") in _team(ticket) else []
        if not recipients:
            return Outcome.SKIPPED, _("cette personne ne fait plus partie de l'équipe")
    what = {"rule": rule.name, "n": ticket.number, "subject": ticket.subject}
    title = _("Règle « %(rule)s » : #%(n)s %(subject)s") % what
    body = a.get("message") or _("La règle d'automatisation « %(rule)s » s'est appliquée à ce ticket.") % what
    url = reverse("tickets:detail", args=[ticket.number])
    # One notification per person, rule, action and event (a time rule: per episode).
    dedup_key = f"automation:{ticket.pk}:{key}"
    drafts = [notifications.Draft(recipient_id=r, title=title, body=body, url=url, dedup_key=dedup_key)
              for r in recipients]
    created = notifications.notify(organization_id=ticket.organization_id, kind=AutomationNotificationKind.AUTOMATION,
                                   drafts=drafts)
    if not created:
        return Outcome.DONE, _("personne n'a été notifié (préférences de notification)")
    return Outcome.DONE, ngettext("%(n)s personne notifiée", "%(n)s personnes notifiées", len(created)) % {
        "n": len(created)}


def _suggest_article(a, *, ticket, rule, **_kw):
    article = (
        visible_articles(ticket.organization).filter(pk=a["article"])
        .only("id", "title", "slug", "organization_id").first()
    )
    if article is None:
        return Outcome.SKIPPED, _("l'article n'est plus publié ou n'est plus public")
    if ArticleLink.objects.filter(ticket_id=ticket.pk, article_id=article.pk).exists():
        return Outcome.SKIPPED, _("l'article est déjà lié au ticket")
    url = settings.SITE_URL + reverse("kb_public:article", args=[ticket.organization.slug, article.slug])
    intro = _("Article à proposer au client (règle « %(rule)s ») :") % {"rule": rule.name}
    tickets.add_message(
        ticket=ticket, kind=MessageKind.NOTE, actor=SYSTEM, body=f"{intro} {article.title}\n{url}",
        body_html=f'<p>{escape(intro)} <a href="{escape(url)}">{escape(article.title)}</a></p>',
    )
    link_article(actor=SYSTEM, ticket=ticket, article=article)
    return Outcome.DONE, ""


def _add_note(a, *, ticket, **_kw):
    tickets.add_message(ticket=ticket, kind=MessageKind.NOTE, actor=SYSTEM, body=a["text"])
    return Outcome.DONE, ""


def _webhook(a, *, ticket, rule, **_kw):
    return webhooks.call_from_rule(a["endpoint"], ticket=ticket, rule=rule)


# Actions that write the ticket row through a service (the engine reads it back after them).
WRITES = {Act.ADD_TAG, Act.REMOVE_TAG, Act.SET_PRIORITY, Act.SET_STATUS, Act.ASSIGN, Act.SUGGEST_ARTICLE, Act.ADD_NOTE}

HANDLERS = {
    Act.ADD_TAG: _add_tag,
    Act.REMOVE_TAG: _remove_tag,
    Act.SET_PRIORITY: _set_priority,
    Act.SET_STATUS: _set_status,
    Act.ASSIGN: _assign,
    Act.NOTIFY: _notify,
    Act.SUGGEST_ARTICLE: _suggest_article,
    Act.ADD_NOTE: _add_note,
    Act.WEBHOOK: _webhook,
}
