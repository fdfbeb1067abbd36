"""API keys: created by an Admin (Settings > API), shown once, stored hashed, revocable, audited.

A key is ``ld_`` followed by 32 random bytes (URL-safe base64); the database keeps its SHA-256 and its first
characters for display. ``authenticate`` finds an active key by its hash (one query) and notes its last use
(time and address) at most once a minute per address, so a busy integration does not write on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.catalogue import Feature
from billing.services import require_feature
from lumiodesk import audit
from lumiodesk.exceptions import InvalidInput, NotPermitted
from lumiodesk.models import Organization, Role
from lumiodesk.permissions import Actor, ApiKeyActor, require

from .models import ApiKey

TOKEN_PREFIX = "ld_"
DISPLAY_CHARS = 11  # "ld_" and 8 characters of the key
LAST_USE_EVERY = timedelta(seconds=60)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    token: str  # shown once, never stored


@transaction.atomic
def create_key(
    *, actor: Actor, organization: Organization, name: str, role: str, expires_at: datetime | None = None,
) -> NewKey:
    require(actor, "api.manage", organization)
    require_feature(organization, Feature.API)
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("Donnez un nom à la clé."))
    if len(name) > 100:
        raise InvalidInput(_("Le nom ne peut dépasser 100 caractères."))
    if role not in Role.values:
        raise InvalidInput(_("Rôle inconnu."))
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput(_("La date d'expiration doit être dans le futur."))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        organization=organization, name=name, role=role, prefix=token[:DISPLAY_CHARS], key_hash=hash_token(token),
        created_by=actor.user, expires_at=expires_at,
    )
    audit.record(organization=organization, actor=actor.user, action="api_key.created", target_type="api_key",
                 target_id=key.pk, name=name, role=role, prefix=key.prefix,
                 expires_at=expires_at.isoformat() if expires_at else None)
    return NewKey(key=key, token=token)


@transaction.atomic
def revoke_key(*, actor: Actor, key: ApiKey) -> ApiKey:
    require(actor, "api.manage", key.organization)
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        return key
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit.record(organization=key.organization, actor=actor.user, action="api_key.revoked", target_type="api_key",
                 target_id=key.pk, name=key.name, prefix=key.prefix)
    return key


def keys_of(organization: Organization) -> list[ApiKey]:
    return list(ApiKey.objects.filter(organization=organization).select_related("created_by").order_by("-created_at"))


def authenticate(token: str, *, ip_address: str | None, now: datetime | None = None) -> ApiKey:
    """The active key ``token`` names, with its organization; NotPermitted if there is none."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise NotPermitted(_("Clé d'API invalide."))
    key = (ApiKey.objects.select_related("organization", "created_by").filter(key_hash=hash_token(token)).first())
    now = now or timezone.now()
    if key is None:
        raise NotPermitted(_("Clé d'API invalide."))
    if key.revoked_at is not None:
        raise NotPermitted(_("Cette clé d'API a été révoquée."))
    if key.expires_at is not None and key.expires_at <= now:
        raise NotPermitted(_("Cette clé d'API a expiré."))
    if key.last_used_at is None or now - key.last_used_at >= LAST_USE_EVERY or key.last_used_ip != ip_address:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_ip=ip_address)
        key.last_used_at, key.last_used_ip = now, ip_address
    return key


def actor_of(key: ApiKey) -> ApiKeyActor:
    return ApiKeyActor(organization=key.organization, role=key.role, key_id=key.pk, user=key.created_by)
