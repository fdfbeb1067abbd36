from __future__ import annotations

from typing import Any

from .models import AuditLog, Organization


def record(
    *, organization: Organization, actor, action: str, target_type: str, target_id: int | None, **data: Any
) -> AuditLog:
    """Write one audit row; call it inside the service's transaction."""
    return AuditLog.objects.create(
        organization=organization,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        target_type=target_type,
        target_id=target_id,
        data=data,
    )
