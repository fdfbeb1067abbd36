"""Reply templates kept by the organization (their placeholders: ``tickets/replies.py``)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from lumiodesk import audit
from lumiodesk.exceptions import InvalidInput
from lumiodesk.models import Organization
from lumiodesk.permissions import Actor, require

from ..models import ReplyTemplate


@transaction.atomic
def save_reply_template(
    *, organization: Organization, name: str, body: str, actor: Actor, template: ReplyTemplate | None = None
) -> ReplyTemplate:
    require(actor, "reply_templates.manage", organization)
    name, body = (name or "").strip(), (body or "").strip()
    if not name or not body:
        raise InvalidInput(_("Le nom et le texte du modèle sont obligatoires."))
    clash = ReplyTemplate.objects.filter(organization=organization, name__iexact=name)
    if template is not None:
        clash = clash.exclude(pk=template.pk)
    if clash.exists():
        raise InvalidInput(_("Un modèle porte déjà ce nom."))
    if template is None:
        template = ReplyTemplate(organization=organization, created_by=actor.user)
    template.name, template.body = name[:120], body
    template.save()
    audit.record(organization=organization, actor=actor.user, action="template.saved", target_type="template",
                 target_id=template.pk, name=name)
    return template


@transaction.atomic
def delete_reply_template(*, template: ReplyTemplate, actor: Actor) -> None:
    require(actor, "reply_templates.manage", template.organization)
    audit.record(organization=template.organization, actor=actor.user, action="template.deleted",
                 target_type="template", target_id=template.pk, name=template.name)
    template.delete()
