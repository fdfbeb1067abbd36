"""Allowed domains of a widget: parsing what an admin types, matching a browser's Origin, and the
``frame-ancestors`` sources of the widget's frame. Pure functions, no I/O.

A rule is a host, optionally with a leading ``*.`` (any sub-domain, not the bare domain) and a port
(no port = any port): ``example.com``, ``*.example.com``, ``localhost``, ``127.0.0.1:8000``.
Both http and https are accepted for a host (the scheme is not part of the rule).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^(\*\.)?{_LABEL}(?:\.{_LABEL})*$")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
MAX_DOMAINS = 50


class InvalidDomain(ValueError):
    pass


@dataclass(frozen=True)
class AllowedOrigin:
    host: str  # "example.com" or "*.example.com"
    port: int | None  # None: any port

    def __str__(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"


def parse_allowed_origin(raw: str) -> AllowedOrigin:
    """One rule from what an admin typed; a pasted URL (``https://www.example.com/page``) is reduced to
    its host and port. Raises ``InvalidDomain`` with the offending text."""
    text = (raw or "").strip().lower()
    if not text:
        raise InvalidDomain(raw)
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidDomain(raw)
        text = parts.netloc
    text = text.rstrip("/")
    if "/" in text or "@" in text:
        raise InvalidDomain(raw)
    host, port = text, None
    if ":" in text:
        host, _sep, port_text = text.rpartition(":")
        if port_text == "*":
            port = None
        elif port_text.isdigit() and 0 < int(port_text) < 65536:
            port = int(port_text)
        else:
            raise InvalidDomain(raw)
    if _IPV4.match(host):
        if any(int(p) > 255 for p in host.split(".")):
            raise InvalidDomain(raw)
    elif not _HOST.match(host) or len(host) > 253:
        raise InvalidDomain(raw)
    return AllowedOrigin(host, port)


def parse_rules(lines: list[str]) -> list[str]:
    """Normalized, de-duplicated rules, in the admin's order; raises on the first invalid one."""
    out: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        rule = str(parse_allowed_origin(line))
        if rule not in out:
            out.append(rule)
    return out


def _rules(stored: list[str]) -> list[AllowedOrigin]:
    rules = []
    for raw in stored or ():
        try:
            rules.append(parse_allowed_origin(raw))
        except InvalidDomain:
            continue
    return rules


def origin_allowed(origin: str, stored: list[str]) -> bool:
    """Whether a browser origin (``https://shop.example.com:8443``) is allowed by the stored rules."""
    if not origin or origin == "null":
        return False
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        return False
    host = parts.hostname.lower()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    for rule in _rules(stored):
        if rule.port is not None and rule.port != port:
            continue
        if rule.host.startswith("*."):
            if host.endswith(rule.host[1:]) and host != rule.host[2:]:
                return True
        elif host == rule.host:
            return True
    return False


def frame_ancestors(stored: list[str]) -> str:
    """The CSP ``frame-ancestors`` sources for these rules (``'none'`` when there are none)."""
    sources = []
    for rule in _rules(stored):
        port = "*" if rule.port is None else str(rule.port)
        for scheme in ("https", "http"):
            sources.append(f"{scheme}://{rule.host}:{port}")
            if rule.port is None:
                sources.append(f"{scheme}://{rule.host}")  # default port: "host:*" does not cover it everywhere
    return " ".join(sources) or "'none'"
