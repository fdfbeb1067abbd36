"""Shared views of the ticket list (saved filters)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from lumiodesk import audit
from lumiodesk.exceptions import InvalidInput
from lumiodesk.models import Organization
from lumiodesk.permissions import Actor, require

from ..models import SavedView

VIEW_FILTER_KEYS = ("status", "priority", "assignee", "team", "tag", "customer", "q", "sort", "sla", "channel", "stale",
                    "spam")


@transaction.atomic
def save_view(*, organization: Organization, name: str, filters: dict, actor: Actor) -> SavedView:
    require(actor, "views.manage", organization)
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("Donnez un nom à la vue."))
    clean = {k: v for k, v in filters.items() if k in VIEW_FILTER_KEYS and v not in ("", None)}
    if SavedView.objects.filter(organization=organization, name__iexact=name).exists():
        raise InvalidInput(_("Une vue porte déjà ce nom."))
    position = SavedView.objects.filter(organization=organization).count()
    view = SavedView.objects.create(
        organization=organization, name=name[:80], filters=clean, created_by=actor.user, position=position
    )
    audit.record(organization=organization, actor=actor.user, action="view.created", target_type="view",
                 target_id=view.pk, name=name)
    return view


@transaction.atomic
def delete_view(*, view: SavedView, actor: Actor) -> None:
    require(actor, "views.manage", view.organization)
    audit.record(organization=view.organization, actor=actor.user, action="view.deleted", target_type="view",
                 target_id=view.pk, name=view.name)
    view.delete()
