"""Which members are in the console right now, and who said they are away ("Absent").

Contract:
- **Online in the console**: every console page asks the heartbeat (``tickets.assignment.views.heartbeat``,
  ``hx-trigger="load, every 60s"`` in ``base.html``), which calls ``beat``: one Redis SET of one key per
  member and organization, expiring after ``PRESENCE_TTL`` seconds (two beats: a hidden tab that Chrome
  throttles to a beat a minute still counts). Nothing is written to PostgreSQL on a beat. A closed console
  (or a lost network) is forgotten within the TTL; signing out forgets it at once (``forget_user``,
  ``user_logged_out``).
- **Absent** is the member's own choice (``Membership.is_absent``, ``set_absent``): it stays until they
  clear it, across sign-outs, and excludes them from assignment by availability whatever their presence.
- ``online_user_ids`` answers for many members with one Redis MGET.

The organization-wide chat presence (``tickets.chat.presence``: "is anyone here for the widget?") is a
separate key and is not changed by this module.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction

from . import audit
from .models import Membership
from .permissions import MemberActor

HEARTBEAT_SECONDS = 60
PRESENCE_TTL = 120


def _key(organization_id: int, user_id: int) -> str:
    return f"presence:member:{organization_id}:{user_id}"


def beat(organization_id: int, user_id: int) -> None:
    """This member has a console page open in this organization."""
    cache.set(_key(organization_id, user_id), 1, timeout=PRESENCE_TTL)


def is_online(organization_id: int, user_id: int) -> bool:
    return cache.get(_key(organization_id, user_id)) is not None


def online_user_ids(organization_id: int, user_ids: Iterable[int]) -> set[int]:
    """Which of these members are online in this organization's console: one Redis MGET."""
    keys = {_key(organization_id, uid): uid for uid in user_ids}
    if not keys:
        return set()
    return {keys[k] for k in cache.get_many(list(keys))}


def forget(organization_id: int, user_id: int) -> None:
    cache.delete(_key(organization_id, user_id))


def forget_user(sender, request, user, **kwargs) -> None:
    """``user_logged_out`` receiver (``LumiodeskConfig.ready``): signed out is offline, in every organization."""
    if user is None:
        return
    org_ids = Membership.objects.filter(user=user).values_list("organization_id", flat=True)
    cache.delete_many([_key(org_id, user.pk) for org_id in org_ids])


@transaction.atomic
def set_absent(*, actor: MemberActor, absent: bool) -> Membership:
    """The member marks themselves Absent (or back). Only their own membership: no capability beyond being one."""
    membership = Membership.objects.select_for_update().get(pk=actor.membership.pk, is_active=True)
    if membership.is_absent == absent:
        return membership
    membership.is_absent = absent
    membership.save(update_fields=["is_absent"])
    audit.record(
        organization=membership.organization,
        actor=actor.user,
        action="member.absent",
        target_type="user",
        target_id=membership.user_id,
        before={"absent": not absent},
        after={"absent": absent},
    )
    actor.membership.is_absent = absent
    return membership
