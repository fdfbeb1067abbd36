"""Requests per minute and organization (section 12: Business 600, Scale 2,400), counted in Redis.

A sliding window counter: the current minute's count plus the previous minute's, weighted by how much of it
still lies inside the last 60 seconds. One Lua script reads both counts, decides and counts the request, so
concurrent requests on several web processes cannot all slip under the limit; a refused request does not
count (a client that waits as told by ``Retry-After`` gets through).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import cache as once

import redis
from django.conf import settings
from django.core.cache import cache

from billing.catalogue import Limit
from billing.services import limit_of

WINDOW = 60  # seconds

# The counts live in the cache's Redis under the cache's key names (``cache.make_key``), read and written by the
# script below through a client of our own: Django's cache API has no way to run a script (its client is private).
_SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local limit = tonumber(ARGV[1])
local weight = tonumber(ARGV[2])
local used = math.floor(previous * weight) + current
if used >= limit then
  return {0, current, previous}
end
current = redis.call('INCR', KEYS[1])
if current == 1 then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
end
return {1, current, previous}
"""


@once
def _script(location: str) -> redis.commands.core.Script:
    """The script registered on a client of the cache's Redis (one connection pool per address): sent once,
    then run by its SHA (EVALSHA; redis-py sends it again if the server forgot it)."""
    return redis.Redis.from_url(location).register_script(_SCRIPT)


def _cache_location() -> str:
    """The Redis the cache writes to: its first server, as Django's RedisCache does for writes."""
    location = settings.CACHES["default"]["LOCATION"]
    return (location.split(",") if isinstance(location, str) else location)[0]


@dataclass(frozen=True)
class Quota:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until the current minute ends
    retry_after: int  # seconds to wait when refused (0 when allowed)

    def headers(self) -> dict[str, str]:
        headers = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining),
                   "X-RateLimit-Reset": str(self.reset)}
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def per_minute(organization) -> int:
    override = getattr(settings, "API_RATE_LIMIT_OVERRIDE", None)
    return int(override) if override else limit_of(organization, Limit.API_REQUESTS_PER_MINUTE)


def hit(organization, *, now: float | None = None) -> Quota:
    """Count one API request of ``organization``, unless it is over its plan's limit."""
    limit = per_minute(organization)
    now = time.time() if now is None else now
    index = int(now // WINDOW)
    elapsed = now - index * WINDOW
    weight = (WINDOW - elapsed) / WINDOW
    keys = [cache.make_key(f"api-rl:{organization.pk}:{i}") for i in (index, index - 1)]
    allowed, current, previous = _script(_cache_location())(keys=keys, args=[limit, repr(weight), WINDOW * 2 + 1])
    used = math.floor(previous * weight) + current
    reset = max(1, math.ceil(WINDOW - elapsed))
    retry_after = 0
    if not allowed:
        if current >= limit:  # wait for the next minute, then for this minute's share to shrink enough
            retry_after = (WINDOW - elapsed) + WINDOW * max(0.0, 1 - limit / current)
        else:  # the previous minute's share shrinks as time goes
            retry_after = (WINDOW - elapsed) - (limit - current) * WINDOW / previous
        retry_after = max(1, math.ceil(retry_after))
    return Quota(allowed=bool(allowed), limit=limit, remaining=max(0, limit - used), reset=reset,
                 retry_after=retry_after)
