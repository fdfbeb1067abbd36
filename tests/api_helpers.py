"""The REST API's tests: a plan that includes it, a key of a given role, the request headers."""

from __future__ import annotations

from factories import SYSTEM, acting

from billing import subscriptions
from lumiodesk.models import Plan, Role
from tickets.api import keys


def on_plan(organization, plan: str = Plan.BUSINESS) -> None:
    subscriptions.choose_plan(actor=SYSTEM, organization=organization, plan=plan, keep_extra_agents=True)
    organization.refresh_from_db()


def new_key(organization, creator, role: str = Role.ADMIN, **fields) -> str:
    """A key's token, created by ``creator`` (an Admin of ``organization``)."""
    return keys.create_key(actor=acting(creator, organization), organization=organization, name=f"{role} key",
                           role=role, **fields).token


def bearer(token: str, **headers) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}", **headers}
