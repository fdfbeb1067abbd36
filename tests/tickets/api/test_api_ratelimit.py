"""Requests per minute and organization, by plan (section 12), counted in the real Redis."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from api_helpers import bearer, new_key, on_plan
from factories import SYSTEM

from lumiodesk.models import Plan, Role
from tickets.api import keys, ratelimit

pytestmark = pytest.mark.django_db


def test_the_plans_figures_are_the_defaults(world, settings):
    settings.API_RATE_LIMIT_OVERRIDE = None
    on_plan(world.org, Plan.BUSINESS)
    assert ratelimit.per_minute(world.org) == 600
    on_plan(world.org, Plan.SCALE)
    assert ratelimit.per_minute(world.org) == 2_400


def test_a_key_driven_past_the_limit_gets_429_with_retry_after(client, world, settings):
    settings.API_RATE_LIMIT_OVERRIDE = 5
    on_plan(world.org)
    on_plan(world.other_org)
    token = new_key(world.org, world.admin)
    second_key = new_key(world.org, world.admin, Role.VIEWER)  # the limit is the organization's, not the key's
    remaining = []
    for i in range(5):
        response = client.get("/api/v1/tickets/", **bearer(token if i % 2 else second_key))
        assert response.status_code == 200
        assert response["X-RateLimit-Limit"] == "5"
        remaining.append(int(response["X-RateLimit-Remaining"]))
        assert 1 <= int(response["X-RateLimit-Reset"]) <= 60
    assert remaining == [4, 3, 2, 1, 0]
    refused = client.get("/api/v1/tickets/", **bearer(token))
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 120
    assert refused["X-RateLimit-Remaining"] == "0"
    assert client.get("/api/v1/tickets/", **bearer(second_key)).status_code == 429
    theirs = keys.create_key(actor=SYSTEM, organization=world.other_org, name="x", role=Role.AGENT).token
    assert client.get("/api/v1/tickets/", **bearer(theirs)).status_code == 200  # a count per organization


def test_the_window_slides(world, settings):
    """The previous minute's requests weigh by the share of it still inside the last 60 seconds."""
    settings.API_RATE_LIMIT_OVERRIDE = 10
    on_plan(world.org)
    start = 1_000_020.0  # 0 s into a minute (60 * 16667)
    for _ in range(10):
        assert ratelimit.hit(world.org, now=start + 50).allowed
    refused = ratelimit.hit(world.org, now=start + 55)
    assert not refused.allowed and refused.retry_after >= 5  # this minute is full until it ends
    # 30 s into the next minute, half of the previous minute still counts: 5 of 10.
    later = [ratelimit.hit(world.org, now=start + 90) for _ in range(6)]
    assert [q.allowed for q in later] == [True] * 5 + [False]
    assert 1 <= later[-1].retry_after <= 30


def test_concurrent_requests_never_slip_past_the_limit(world, settings):
    """One Lua script decides and counts: 8 threads x 10 requests against a limit of 37 let exactly 37 through."""
    settings.API_RATE_LIMIT_OVERRIDE = 37
    on_plan(world.org)
    now = 2_000_040.0  # 0 s into a minute, a minute after any other test's
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: ratelimit.hit(world.org, now=now), range(80)))
    assert sum(q.allowed for q in results) == 37
