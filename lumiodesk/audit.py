"""The audit log: who did what, from where, with the state before and after.

Contract:
- ``record`` writes one row; services call it inside their transaction, so a rolled-back change leaves no row.
- Rows written during a REST API request carry the key that acted (``api_key``: its prefix), bound by the API
  (``bind_data``).
- The client's address: ``CurrentOrganizationMiddleware`` binds ``lumiodesk.ratelimit.client_ip`` for the
  request (``bind_ip``, a context variable); ``record`` stores it unless given ``ip_address`` explicitly.
  Rows written by tasks and commands carry none.
- ``ACTION_LABELS`` names the actions the audit screen shows in words; an action without a label shows its
  code. Apps add theirs with ``register_labels`` at start-up (apps above the core).
- ``purge_expired`` keeps each organization's rows for its plan's ``audit_retention_days``
  (``lumiodesk.plans``), deleting in batches (Celery beat, daily).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from typing import Any

from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import plans, rows
from .models import AuditLog, Organization

_request_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("audit_request_ip", default=None)
_request_data: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("audit_request_data",
                                                                                      default=None)

PURGE_BATCH = 5000


@contextmanager
def bind_ip(ip_address: str | None) -> Iterator[None]:
    """Audit rows written inside the block carry ``ip_address`` (the middleware wraps each request)."""
    token = _request_ip.set(ip_address if ip_address and ip_address != "unknown" else None)
    try:
        yield
    finally:
        _request_ip.reset(token)


def current_ip() -> str | None:
    return _request_ip.get()


def bind_data(**data: Any) -> contextvars.Token:
    """Audit rows written until ``unbind_data(token)`` also carry ``data`` (the REST API names the key that
    acted: ``api_key``). For a caller that cannot hold a ``with`` block around the work."""
    return _request_data.set({**(_request_data.get() or {}), **data})


def unbind_data(token: contextvars.Token) -> None:
    _request_data.reset(token)


def record(
    *, organization: Organization, actor, action: str, target_type: str, target_id: int | None,
    ip_address: str | None = None, **data: Any
) -> AuditLog:
    """Write one audit row; call it inside the service's transaction (a fixed statement: every change asks)."""
    return rows.insert(AuditLog(
        organization=organization,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        target_type=target_type,
        target_id=target_id,
        ip_address=ip_address or current_ip(),
        data={**(_request_data.get() or {}), **data},
    ))


ACTION_LABELS: dict[str, Any] = {
    "signin.succeeded": _("Connexion"),
    "signin.failed": _("Échec de connexion"),
    "signin.locked_out": _("Compte bloqué (trop d'échecs)"),
    "signin.unlocked": _("Compte débloqué"),
    "two_factor.enabled": _("Double authentification activée"),
    "two_factor.disabled": _("Double authentification désactivée"),
    "two_factor.recovery_regenerated": _("Codes de secours régénérés"),
    "two_factor.recovery_used": _("Code de secours utilisé"),
    "two_factor.failed": _("Code de double authentification erroné"),
    "two_factor.verified": _("Code de double authentification validé"),
    "two_factor.policy_changed": _("Politique de double authentification modifiée"),
    "organization.created": _("Organisation créée"),
    "organization.updated": _("Réglages de l'organisation modifiés"),
    "account.verified": _("Adresse email vérifiée"),
    "password.reset": _("Mot de passe réinitialisé"),
    "invitation.sent": _("Invitation envoyée"),
    "invitation.resent": _("Invitation renvoyée"),
    "invitation.revoked": _("Invitation révoquée"),
    "invitation.accepted": _("Invitation acceptée"),
    "member.role_changed": _("Rôle modifié"),
    "member.deactivated": _("Membre désactivé"),
    "member.reactivated": _("Membre réactivé"),
    "member.absent": _("Absence signalée ou levée"),
    "team.created": _("Équipe créée"),
    "team.updated": _("Équipe renommée ou modifiée"),
    "team.deleted": _("Équipe supprimée"),
    "team.members_changed": _("Membres d'une équipe modifiés"),
    "ticket.created": _("Ticket créé"),
    "ticket.deleted": _("Ticket supprimé définitivement"),
    "ticket.assigned": _("Ticket assigné"),
    "ticket.status": _("Statut du ticket modifié"),
    "ticket.priority": _("Priorité du ticket modifiée"),
    "ticket.tags": _("Tags du ticket modifiés"),
    "ticket.followup": _("Relance automatique"),
    "ticket.sender_confirmed": _("Expéditeur confirmé"),
    "customer.notification_preference": _("Préférence de notification client"),
    "portal.signed_in": _("Connexion au portail client"),
    "chat.started": _("Conversation chat démarrée"),
    "mailbox.verification_sent": _("Lien de vérification de boîte envoyé"),
    "kb.article.created": _("Article créé"),
    "kb.article.updated": _("Article modifié"),
    "kb.article.status": _("Statut d'article modifié"),
    "kb.article.linked": _("Article lié à un ticket"),
    "kb.article.unlinked": _("Article retiré d'un ticket"),
    "kb.collection.saved": _("Collection enregistrée"),
    "sla.hours": _("Horaires d'ouverture modifiés"),
    "sla.policies": _("Objectifs SLA modifiés"),
    "sla.settings": _("Réglages SLA modifiés"),
    "sla.holiday_added": _("Jour férié ajouté"),
    "sla.holiday_deleted": _("Jour férié supprimé"),
    "sla.holidays_imported": _("Jours fériés importés"),
    "sla.report": _("Rapport SLA généré"),
    "automation.rule.created": _("Règle créée"),
    "automation.rule.updated": _("Règle modifiée"),
    "automation.rule.deleted": _("Règle supprimée"),
    "automation.rule.activated": _("Règle activée ou désactivée"),
    "automation.rule.reordered": _("Règles réordonnées"),
    "webhook.created": _("Webhook créé"),
    "webhook.updated": _("Webhook modifié"),
    "webhook.deleted": _("Webhook supprimé"),
    "webhook.enabled": _("Webhook réactivé"),
    "webhook.disabled": _("Webhook désactivé"),
    "webhook.secret_rotated": _("Secret de webhook renouvelé"),
    "mailbox.created": _("Boîte email créée"),
    "mailbox.updated": _("Boîte email modifiée"),
    "mailbox.verified": _("Adresse de boîte vérifiée"),
    "chat.widget_created": _("Widget chat créé"),
    "chat.widget_updated": _("Widget chat modifié"),
    "view.created": _("Vue partagée créée"),
    "view.deleted": _("Vue partagée supprimée"),
    "template.saved": _("Modèle de réponse enregistré"),
    "template.deleted": _("Modèle de réponse supprimé"),
    "sso.updated": _("Connexion SSO configurée"),
    "signin.sso": _("Connexion par SSO"),
    "signin.sso_failed": _("Connexion SSO refusée"),
    "signin.password_refused_sso_only": _("Mot de passe refusé (SSO obligatoire)"),
}


def register_labels(labels: dict[str, Any]) -> None:
    ACTION_LABELS.update(labels)


def label_of(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def purge_expired(*, now=None, batch: int = PURGE_BATCH) -> int:
    """Delete the rows older than each organization's retention, ``batch`` rows per DELETE; returns how many."""
    now = now or timezone.now()
    removed = 0
    for organization in Organization.objects.order_by("pk"):
        cutoff = now - timedelta(days=plans.limit_of(organization, "audit_retention_days"))
        while True:
            ids = list(
                AuditLog.objects.filter(organization=organization, created_at__lt=cutoff)
                .order_by("created_at").values_list("pk", flat=True)[:batch]
            )
            if not ids:
                break
            removed += AuditLog.objects.filter(pk__in=ids).delete()[0]
    return removed


def entries(organization: Organization, *, action: str = "", actor_id: int | None = None, start=None, end=None,
            q: str = "", tz=None):
    """The audit screen's rows, newest first (index ``audit_org_created_idx``); ``start``/``end`` are dates in
    ``tz`` (the organization's), both included. ``q`` searches the action, the target type and the details."""
    qs = AuditLog.objects.filter(organization=organization).select_related("actor")
    if action:
        qs = qs.filter(action=action)
    if actor_id:
        qs = qs.filter(actor_id=actor_id)
    if start:
        qs = qs.filter(created_at__gte=datetime.combine(start, time.min, tzinfo=tz))
    if end:
        qs = qs.filter(created_at__lt=datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz))
    q = q.strip()
    if q:
        match = (Q(action__icontains=q) | Q(target_type__icontains=q) | Q(data_text__icontains=q)
                 | Q(actor__email__icontains=q))
        if _looks_like_ip(q):
            match |= Q(ip_address__startswith=q)
        qs = qs.alias(data_text=Cast("data", TextField())).filter(match)
    return qs.order_by("-created_at", "-id")


def _looks_like_ip(value: str) -> bool:
    return all(c in "0123456789abcdefABCDEF.:" for c in value)
