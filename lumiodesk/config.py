"""Read and validate the environment once, at start-up.

django-environ parses the values; this module checks them and turns anything
malformed into one ``ImproperlyConfigured`` error that names the variable and
shows an example of a good value, instead of a stack trace later on.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import environ
from django.core.exceptions import ImproperlyConfigured

# Keys that were published (the development key this repository shipped until issue 15): refused everywhere,
# even with DEBUG on, as are Django's ``startproject`` keys. Anyone holding a published key can forge signed links
# (satisfaction ratings, sessions) and decrypt the secrets it protected.
PUBLISHED_SECRET_KEYS = frozenset({"dev-only-insecure-key-change-me-in-production-0123456789"})
MIN_SECRET_LENGTH = 32
_SECRET_EXAMPLE = "a random string of 50 characters: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"
_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
HSTS_ONE_YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class Security:
    """HTTPS and cookies: on by default when DEBUG is off (behind a TLS-terminating proxy, also set
    SECURE_PROXY_SSL_HEADER); each one can be turned off by its own variable."""

    ssl_redirect: bool
    hsts_seconds: int
    hsts_include_subdomains: bool
    hsts_preload: bool
    session_cookie_secure: bool
    csrf_cookie_secure: bool
    proxy_ssl_header: tuple[str, str] | None


@dataclass(frozen=True)
class Config:
    secret_key: str
    encryption_key: str
    encryption_key_fallbacks: list[str]
    debug: bool
    security: Security
    allowed_hosts: list[str]
    csrf_trusted_origins: list[str]
    database: dict
    redis_url: str
    email: dict
    default_from_email: str
    media_root: Path
    attachment_max_bytes: int
    inbound_email_domain: str
    smtp_inbound_host: str
    smtp_inbound_port: int
    inbound_max_bytes: int
    site_url: str
    trusted_proxy_count: int = 0
    webhook_allowed_networks: tuple[str, ...] = ()
    timer_idle_limit_minutes: int = 480


def _redact(text: str, value: str) -> str:
    """Hide the password of a URL (DATABASE_URL, EMAIL_URL, REDIS_URL) wherever ``text`` repeats it."""
    try:
        password = urlparse(value).password
    except ValueError:
        password = None
    return text.replace(f":{password}@", ":***@") if password else text


def _fail(name: str, value: str, example: str, why: str = "") -> ImproperlyConfigured:
    detail = f" ({_redact(why, value)})" if why else ""
    return ImproperlyConfigured(
        f"{name}={_redact(value, value)!r} is not valid{detail}. Example of a valid value: {example}"
    )


def _secret(name: str, value: str | None) -> str:
    """A secret that is set, long enough and was never published; its value is never echoed."""
    if not value:
        raise _fail(
            name, "", _SECRET_EXAMPLE,
            "required, even with DEBUG on: `make run` writes random local secrets to .env on first run",
        )
    if value in PUBLISHED_SECRET_KEYS or value.startswith("django-insecure"):
        raise _fail(name, "***", _SECRET_EXAMPLE, "this key was published: anyone could forge links with it")
    if len(value) < MIN_SECRET_LENGTH:
        raise _fail(name, "***", _SECRET_EXAMPLE, f"at least {MIN_SECRET_LENGTH} characters")
    return value


def _bool(env: environ.Env, name: str, default: bool) -> bool:
    raw = env.str(name, default="")
    if not raw.strip():
        return default
    if raw.strip().lower() not in _BOOLEANS:
        raise _fail(name, raw, "true or false")
    return _BOOLEANS[raw.strip().lower()]


def _security(env: environ.Env, debug: bool) -> Security:
    production = not debug
    raw_hsts = env.str("SECURE_HSTS_SECONDS", default="").strip()
    if not raw_hsts:
        hsts = HSTS_ONE_YEAR if production else 0
    elif raw_hsts.isdigit():
        hsts = int(raw_hsts)
    else:
        raise _fail("SECURE_HSTS_SECONDS", raw_hsts, f"{HSTS_ONE_YEAR} (one year) or 0 (off)")
    raw_header = env.str("SECURE_PROXY_SSL_HEADER", default="").strip()
    proxy_header = None
    if raw_header:
        name, _, value = raw_header.partition(",")
        name, value = name.strip().upper(), value.strip()
        if not name.startswith("HTTP_") or not value or " " in name or "," in value:
            raise _fail("SECURE_PROXY_SSL_HEADER", raw_header, "HTTP_X_FORWARDED_PROTO,https",
                        "set it only when the proxy in front always sets or strips this header")
        proxy_header = (name, value)
    return Security(
        ssl_redirect=_bool(env, "SECURE_SSL_REDIRECT", production),
        hsts_seconds=hsts,
        hsts_include_subdomains=_bool(env, "SECURE_HSTS_INCLUDE_SUBDOMAINS", production),
        hsts_preload=_bool(env, "SECURE_HSTS_PRELOAD", False),
        session_cookie_secure=_bool(env, "SESSION_COOKIE_SECURE", production),
        csrf_cookie_secure=_bool(env, "CSRF_COOKIE_SECURE", production),
        proxy_ssl_header=proxy_header,
    )


def read_config(base_dir: Path, *, require_secrets: bool = True) -> Config:
    """``require_secrets=False`` is for tools that never sign or encrypt anything (the services check that
    ``make test`` runs on a fresh clone): a missing key is then empty instead of an error."""
    env = environ.Env()
    env_file = base_dir / ".env"
    if env_file.exists():
        environ.Env.read_env(env_file)

    # Production unless said otherwise: `make run` writes DEBUG=true to its local .env.
    raw_debug = env.str("DEBUG", default="false")
    if raw_debug.lower() not in _BOOLEANS:
        raise _fail("DEBUG", raw_debug, "true or false")
    debug = _BOOLEANS[raw_debug.lower()]

    def secret(name: str) -> str:
        value = env.str(name, default="")
        return _secret(name, value) if value or require_secrets else ""

    secret_key = secret("SECRET_KEY")
    # Mailbox passwords and webhook secrets are encrypted with ENCRYPTION_KEY (lumiodesk.crypto), a secret of
    # its own so SECRET_KEY can rotate; ENCRYPTION_KEY_FALLBACKS (comma-separated) still decrypt older values.
    encryption_key = secret("ENCRYPTION_KEY")
    fallbacks = [_secret("ENCRYPTION_KEY_FALLBACKS", k.strip())
                 for k in env.str("ENCRYPTION_KEY_FALLBACKS", default="").split(",") if k.strip()]

    allowed_hosts = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
    if any(not h or " " in h for h in allowed_hosts):
        raise _fail("ALLOWED_HOSTS", ",".join(allowed_hosts), "localhost,127.0.0.1,help.example.com")
    csrf_origins = [o for o in env.list("CSRF_TRUSTED_ORIGINS", default=[]) if o.strip()]

    raw_db = env.str("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/lumiodesk")
    parsed = urlparse(raw_db)
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"} or not parsed.path.strip("/"):
        raise _fail(
            "DATABASE_URL", raw_db, "postgres://USER:PASSWORD@HOST:5432/DBNAME", "LumioDesk needs PostgreSQL"
        )
    try:
        database = environ.Env.db_url_config(raw_db)
    except Exception as exc:  # django-environ raises several types
        raise _fail("DATABASE_URL", raw_db, "postgres://USER:PASSWORD@HOST:5432/DBNAME", str(exc)) from exc
    database["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    database["CONN_HEALTH_CHECKS"] = True
    # Server-side binding: psycopg sends the parameters apart and prepares a statement it has run
    # five times, so the hot paths (email intake, lists) skip the planner. DB_SERVER_SIDE_BINDING=0
    # turns it off behind a transaction-mode pooler (PgBouncer without prepared statements).
    #
    # The prepared statements are planned for their parameters every time (plan_cache_mode=force_custom_plan):
    # PostgreSQL otherwise switches a statement to one generic plan after five runs when that plan's estimate
    # is no worse, and the estimate knows neither the organization nor the statuses asked for. The console's
    # status counters went from 1.7 ms to 17 ms that way at 100,000 tickets (an index-only scan of the whole
    # organization instead of its open tickets), on every list page after the connection's fifth.
    if env.bool("DB_SERVER_SIDE_BINDING", default=True):
        options = database.setdefault("OPTIONS", {})
        options.update({"server_side_binding": True, "prepare_threshold": 5})
        options["options"] = f"{options.get('options', '')} -c plan_cache_mode=force_custom_plan".strip()

    redis_url = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
    rp = urlparse(redis_url)
    if rp.scheme not in {"redis", "rediss"} or not rp.hostname:
        raise _fail("REDIS_URL", redis_url, "redis://127.0.0.1:6379/0")
    try:
        rp.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise _fail("REDIS_URL", redis_url, "redis://127.0.0.1:6379/0", str(exc)) from exc

    raw_email = env.str("EMAIL_URL", default="consolemail://")
    try:
        email = environ.Env.email_url_config(raw_email)
    except Exception as exc:
        raise _fail("EMAIL_URL", raw_email, "smtp://user:password@mail.example.com:587 or consolemail://") from exc
    if not email.get("EMAIL_BACKEND"):
        raise _fail("EMAIL_URL", raw_email, "smtp://user:password@mail.example.com:587 or consolemail://")

    try:
        max_bytes = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
    except ValueError as exc:
        raise _fail("ATTACHMENT_MAX_BYTES", env.str("ATTACHMENT_MAX_BYTES"), "10485760") from exc

    def _int(name: str, default: int) -> int:
        try:
            return env.int(name, default=default)
        except ValueError as exc:
            raise _fail(name, env.str(name), str(default)) from exc

    smtp_port = _int("SMTP_INBOUND_PORT", 2525)
    if not 0 < smtp_port < 65536:
        raise _fail("SMTP_INBOUND_PORT", str(smtp_port), "2525")
    inbound_domain = env.str("INBOUND_EMAIL_DOMAIN", default="inbound.lumiodesk.test").strip().lower()
    if not inbound_domain or "@" in inbound_domain or " " in inbound_domain:
        raise _fail("INBOUND_EMAIL_DOMAIN", inbound_domain, "inbound.example.com")

    site_url = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
    if urlparse(site_url).scheme not in {"http", "https"} or not urlparse(site_url).hostname:
        raise _fail("SITE_URL", site_url, "https://help.example.com")

    trusted_proxies = _int("TRUSTED_PROXY_COUNT", 0)
    if not 0 <= trusted_proxies <= 10:
        raise _fail("TRUSTED_PROXY_COUNT", str(trusted_proxies), "0 (no proxy) or 1 (one load balancer)")
    timer_idle = _int("TIMER_IDLE_LIMIT_MINUTES", 480)  # tickets.costs: a forgotten timer stops after this
    if not 5 <= timer_idle <= 24 * 60:
        raise _fail("TIMER_IDLE_LIMIT_MINUTES", str(timer_idle), "480 (8 hours)")
    allowed_networks = []
    for item in env.list("WEBHOOK_ALLOWED_NETWORKS", default=[]):
        try:
            allowed_networks.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError as exc:
            raise _fail("WEBHOOK_ALLOWED_NETWORKS", item, "10.20.0.0/16,192.168.1.5/32", str(exc)) from exc

    return Config(
        secret_key=secret_key,
        encryption_key=encryption_key,
        encryption_key_fallbacks=fallbacks,
        debug=debug,
        security=_security(env, debug),
        allowed_hosts=allowed_hosts,
        csrf_trusted_origins=csrf_origins,
        database=database,
        redis_url=redis_url,
        email=email,
        default_from_email=env.str("DEFAULT_FROM_EMAIL", default="LumioDesk <support@lumiodesk.test>"),
        media_root=Path(env.str("MEDIA_ROOT", default=str(base_dir / "media"))),
        attachment_max_bytes=max_bytes,
        inbound_email_domain=inbound_domain,
        smtp_inbound_host=env.str("SMTP_INBOUND_HOST", default="127.0.0.1"),
        smtp_inbound_port=smtp_port,
        inbound_max_bytes=_int("INBOUND_MAX_BYTES", 25 * 1024 * 1024),
        site_url=site_url,
        trusted_proxy_count=trusted_proxies,
        webhook_allowed_networks=tuple(allowed_networks),
        timer_idle_limit_minutes=timer_idle,
    )
