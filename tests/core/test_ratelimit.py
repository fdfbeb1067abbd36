"""Fixed-window rate limits counted in the real Redis."""

from __future__ import annotations

import uuid

from lumiodesk.ratelimit import hit, hit_all


def test_a_limit_refuses_past_its_count_and_opens_again_in_the_next_window():
    who = uuid.uuid4().hex
    results = [hit("test", who, limit=3, window=60, now=1_000_040.0) for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert results[-1].retry_after == 60 - 20  # 1_000_040 is 20 s into its 60-s window
    assert hit("test", who, limit=3, window=60, now=1_000_080.0).allowed


def test_identities_and_scopes_are_counted_apart():
    a, b = uuid.uuid4().hex, uuid.uuid4().hex
    assert hit("test", a, limit=1, window=60, now=5_000.0).allowed
    assert not hit("test", a, limit=1, window=60, now=5_000.0).allowed
    assert hit("test", b, limit=1, window=60, now=5_000.0).allowed
    assert hit("other", a, limit=1, window=60, now=5_000.0).allowed


def test_hit_all_refuses_when_any_limit_is_exceeded():
    visitor, ip = uuid.uuid4().hex, uuid.uuid4().hex
    first = hit_all(("v", visitor, 1, 60), ("ip", ip, 10, 60), now=9_000.0)
    assert first.allowed
    second = hit_all(("v", visitor, 1, 60), ("ip", ip, 10, 60), now=9_000.0)
    assert not second.allowed and second.limit == 1
