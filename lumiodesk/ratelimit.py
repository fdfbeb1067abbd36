"""Rate limits on public endpoints (widget, contact form, portal sign-in links).

Fixed windows counted in Redis through Django's cache (``CACHES["default"]`` is Redis in every
environment, tests included): ``cache.add`` creates the counter with its time-to-live, ``cache.incr``
is atomic in Redis, so concurrent requests on several web processes share one count.

    result = hit("widget:ip", request_ip, limit=20, window=3600)
    if not result.allowed:
        return JsonResponse({...}, status=429, headers={"Retry-After": str(result.retry_after)})

Several limits are checked with ``hit_all``: the request passes only when every one of them does, and
a refused request still counts (a client that keeps hammering stays refused).
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    count: int
    limit: int
    retry_after: int  # seconds until the current window ends


def _key(scope: str, identity: str, window: int, now: float) -> tuple[str, int]:
    window_index = int(now // window)
    digest = hashlib.sha256(identity.encode("utf-8", "replace")).hexdigest()[:24]
    return f"rl:{scope}:{window}:{window_index}:{digest}", int(window - (now % window)) or 1


def hit(scope: str, identity: str, *, limit: int, window: int, now: float | None = None) -> RateLimitResult:
    """Count one request of ``identity`` (an IP, a visitor id, an email) against ``limit`` per ``window`` s."""
    now = time.time() if now is None else now
    key, retry_after = _key(scope, identity, window, now)
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 1)
        count = 1
    return RateLimitResult(allowed=count <= limit, count=count, limit=limit, retry_after=retry_after)


def hit_all(*limits: tuple[str, str, int, int], now: float | None = None) -> RateLimitResult:
    """Count the request against each ``(scope, identity, limit, window)``; the first refusal is returned."""
    refused: RateLimitResult | None = None
    last: RateLimitResult | None = None
    for scope, identity, limit, window in limits:
        last = hit(scope, identity, limit=limit, window=window, now=now)
        if not last.allowed and refused is None:
            refused = last
    if refused is not None:
        return refused
    assert last is not None, "hit_all needs at least one limit"
    return last


def client_ip(request) -> str:
    """The client's address: the one helper every rate limit, audit row and sign-in record uses.

    ``TRUSTED_PROXY_COUNT`` (default 0) is how many proxies of our own stand in front of the application.
    With 0, ``REMOTE_ADDR`` is the client and ``X-Forwarded-For`` is ignored (anyone can write it). With N,
    the client is the N-th address from the right of ``X-Forwarded-For``: each of our proxies appends the
    address it received the request from, so what lies to the left of that was written by the client and
    is never trusted. A chain shorter than N (a request that bypassed a proxy) or an entry that is not an
    address falls back to ``REMOTE_ADDR``.
    """
    return client_address(request) or "unknown"  # one bucket for every client without a readable address


def client_address(request) -> str | None:
    """As ``client_ip``, but None when no address can be read (a server on a unix socket gives none): for what
    stores the address in an address column (the sign-in records of django-axes, the audit log)."""
    remote = _address(request.META.get("REMOTE_ADDR", "")) or None
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if proxies <= 0:
        return remote
    chain = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    chain = [part for part in chain if part]
    if len(chain) < proxies:
        return remote
    return _address(chain[-proxies]) or remote


def _address(value: str) -> str:
    """``value`` as a normalized IP address ("" if it is not one); a port some proxies add is dropped."""
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [2001:db8::1]:443
        value = value[1:value.index("]")]
    elif value.count(":") == 1:  # 203.0.113.7:443
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return ""
