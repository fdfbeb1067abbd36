"""A new organization gets its SLA defaults (connected in ``SlaConfig.ready``).

The core (``lumiodesk``) sits below ``sla`` and cannot call it: ``post_save`` of ``Organization`` is the
hook (a Django model signal, not our ticket pipeline, which is ``tickets.pipeline``).
"""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from lumiodesk.models import Organization

from .services import create_defaults


@receiver(post_save, sender=Organization, dispatch_uid="sla.organization_defaults")
def organization_defaults(sender, *, instance: Organization, created: bool, raw: bool = False, **kwargs) -> None:
    """A new organization gets Monday–Friday 9:00–18:00 and the section 13 targets, as editable rows."""
    if created and not raw:
        create_defaults(instance.pk)
