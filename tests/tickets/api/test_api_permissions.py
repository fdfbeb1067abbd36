"""Every API URL × every key role × another organization's object, against the permission table: the API's
counterpart of tests/core/test_permissions.py (whose walk skips the API: its URLs authenticate by key)."""

from __future__ import annotations

import pytest
from api_helpers import bearer, new_key, on_plan
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from factories import SYSTEM, CompanyFactory

from kb import services as kb_services
from lumiodesk.models import Role
from lumiodesk.permissions import role_can

pytestmark = pytest.mark.django_db

ROLES = (Role.ADMIN, Role.MANAGER, Role.AGENT, Role.VIEWER)


def api_routes(patterns=None) -> list[tuple[str, object]]:
    found = []
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            found += api_routes(p.url_patterns)
        elif isinstance(p, URLPattern) and getattr(p.callback, "api_key", False):
            found.append((p.name, p.callback))
    return found


def test_every_api_url_answers_as_the_table_says(client, world):
    on_plan(world.org)
    on_plan(world.other_org)
    tokens = {role: new_key(world.org, world.admin, role) for role in ROLES}
    ours = kb_services.create_article(actor=SYSTEM, organization=world.org, title="Nôtre", body="x")
    theirs = kb_services.create_article(actor=SYSTEM, organization=world.other_org, title="Leur", body="x")
    args = {  # url name -> (our object's arguments, another organization's)
        "api_ticket": ({"number": world.ticket.number}, {"number": world.other_ticket.number}),
        "api_ticket_reply": ({"number": world.ticket.number}, {"number": world.other_ticket.number}),
        "api_ticket_note": ({"number": world.ticket.number}, {"number": world.other_ticket.number}),
        "api_customer": ({"pk": world.customer.pk}, {"pk": world.other_ticket.customer_id}),
        "api_company": ({"pk": CompanyFactory(organization=world.org).pk},
                        {"pk": CompanyFactory(organization=world.other_org).pk}),
        "api_article": ({"pk": ours.pk}, {"pk": theirs.pk}),
    }
    routes = api_routes()
    assert len(routes) >= 12
    wrong = []
    for name, view in routes:
        own, foreign = args.get(name, ({}, None))
        for method, capability in view.api_capabilities.items():
            for role in ROLES:
                send = getattr(client, method.lower())
                url = reverse(name, kwargs=own)
                got = send(url, {}, content_type="application/json", **bearer(tokens[role])).status_code
                allowed = role_can(role, capability)
                if (got == 403) == allowed or got >= 500:
                    wrong.append(f"{role:>8} {method} {url}: {got}, capability {capability}")
                if foreign and allowed:
                    url = reverse(name, kwargs=foreign)
                    got = send(url, {}, content_type="application/json", **bearer(tokens[role])).status_code
                    if got != 404:
                        wrong.append(f"{role:>8} {method} {url} (other organization): {got}, expected 404")
    assert not wrong, "\n".join(wrong)
