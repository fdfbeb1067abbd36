"""Issue 15, item 3: production-safe defaults.

Before: DEBUG defaulted to true and then accepted the development SECRET_KEY published in this repository;
docker-compose.yml shipped both and published every port on all interfaces. With the public key a satisfaction
link could be forged, the 404 page listed the URLconf, and the key encrypting mailbox passwords and webhook
secrets derived from it. Now: DEBUG off unless set, SECRET_KEY and ENCRYPTION_KEY required everywhere and never a
published value, HTTPS settings on in production, and ``check --deploy`` clean with the docker-compose environment.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet, InvalidToken
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from devtools.dev_env import ensure_dev_env
from lumiodesk import crypto
from lumiodesk.config import PUBLISHED_SECRET_KEYS, read_config
from tickets.portal import satisfaction

BASE_DIR = Path(__file__).resolve().parents[2]
OLD_DEV_KEY = "dev-only-insecure-key-change-me-in-production-0123456789"  # published until issue 15
CONFIG_VARIABLES = (
    "DEBUG", "SECRET_KEY", "ENCRYPTION_KEY", "ENCRYPTION_KEY_FALLBACKS", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
    "SECURE_PROXY_SSL_HEADER",
)


@pytest.fixture
def env(monkeypatch):
    """Only the two required secrets set; everything ``read_config`` or a .env sets is undone afterwards."""
    for name in CONFIG_VARIABLES:
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    monkeypatch.setenv("SECRET_KEY", secrets.token_urlsafe(50))
    monkeypatch.setenv("ENCRYPTION_KEY", secrets.token_urlsafe(50))
    return monkeypatch


# --- configuration ------------------------------------------------------------------------------------------


def test_debug_is_off_and_https_on_unless_set(tmp_path, env):
    config = read_config(tmp_path)
    assert config.debug is False
    s = config.security
    assert (s.ssl_redirect, s.hsts_seconds, s.hsts_include_subdomains, s.session_cookie_secure,
            s.csrf_cookie_secure) == (True, 31536000, True, True, True)
    assert s.hsts_preload is False and s.proxy_ssl_header is None


def test_development_mode_is_explicit_and_relaxes_https(tmp_path, env):
    env.setenv("DEBUG", "true")
    s = read_config(tmp_path).security
    assert (s.ssl_redirect, s.hsts_seconds, s.session_cookie_secure, s.csrf_cookie_secure) == (False, 0, False, False)


def test_https_settings_come_from_the_environment(tmp_path, env):
    env.setenv("SECURE_SSL_REDIRECT", "off")
    env.setenv("SECURE_HSTS_SECONDS", "3600")
    env.setenv("SECURE_HSTS_INCLUDE_SUBDOMAINS", "false")
    env.setenv("SECURE_HSTS_PRELOAD", "true")
    env.setenv("SESSION_COOKIE_SECURE", "0")
    env.setenv("CSRF_COOKIE_SECURE", "no")
    env.setenv("SECURE_PROXY_SSL_HEADER", "HTTP_X_FORWARDED_PROTO,https")
    s = read_config(tmp_path).security
    assert (s.ssl_redirect, s.hsts_seconds, s.hsts_include_subdomains, s.hsts_preload, s.session_cookie_secure,
            s.csrf_cookie_secure) == (False, 3600, False, True, False, False)
    assert s.proxy_ssl_header == ("HTTP_X_FORWARDED_PROTO", "https")


@pytest.mark.parametrize("name, value", [
    ("SECURE_SSL_REDIRECT", "perhaps"), ("SECURE_HSTS_SECONDS", "a year"), ("SECURE_HSTS_SECONDS", "-1"),
    ("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto"), ("SECURE_PROXY_SSL_HEADER", "HTTP_X_FORWARDED_PROTO,"),
])
def test_a_malformed_https_variable_is_named(tmp_path, env, name, value):
    env.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=f"^{name}="):
        read_config(tmp_path)


@pytest.mark.parametrize("debug", ["true", "false"])
@pytest.mark.parametrize("name", ["SECRET_KEY", "ENCRYPTION_KEY", "ENCRYPTION_KEY_FALLBACKS"])
@pytest.mark.parametrize("published", [OLD_DEV_KEY, "django-insecure-" + "x" * 50])
def test_a_published_key_is_refused_even_with_debug_on(tmp_path, env, debug, name, published):
    env.setenv("DEBUG", debug)
    env.setenv(name, published)
    with pytest.raises(ImproperlyConfigured, match=f"^{name}=") as exc:
        read_config(tmp_path)
    assert "published" in str(exc.value) and published not in str(exc.value)


@pytest.mark.parametrize("debug", ["true", "false"])
@pytest.mark.parametrize("name", ["SECRET_KEY", "ENCRYPTION_KEY"])
def test_secrets_are_required_even_with_debug_on(tmp_path, env, debug, name):
    env.setenv("DEBUG", debug)
    env.delenv(name)
    with pytest.raises(ImproperlyConfigured, match=f"^{name}=") as exc:
        read_config(tmp_path)
    assert "make run" in str(exc.value)


def test_the_old_development_key_is_in_the_refused_list():
    assert OLD_DEV_KEY in PUBLISHED_SECRET_KEYS


def test_the_services_check_does_not_need_the_secrets(tmp_path, env):
    """``make test`` checks PostgreSQL and Redis before the suite makes its own secrets (fresh clone, CI)."""
    env.delenv("SECRET_KEY")
    env.delenv("ENCRYPTION_KEY")
    config = read_config(tmp_path, require_secrets=False)
    assert config.secret_key == config.encryption_key == ""


# --- local development: `make run` writes its own secrets once -----------------------------------------------


def test_dev_env_writes_development_mode_and_random_secrets_once(tmp_path, env):
    path = tmp_path / ".env"
    assert sorted(ensure_dev_env(path)) == ["DEBUG", "ENCRYPTION_KEY", "SECRET_KEY"]
    first = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_dev_env(path) == [] and path.read_text() == first  # a restart keeps the same secrets
    values = dict(line.split("=", 1) for line in first.splitlines() if "=" in line and not line.startswith("#"))
    assert values["DEBUG"] == "true" and values["SECRET_KEY"] != values["ENCRYPTION_KEY"]
    other = tmp_path / "other.env"
    ensure_dev_env(other)
    assert other.read_text() != first  # random, not a published value
    env.delenv("SECRET_KEY")
    env.delenv("ENCRYPTION_KEY")
    config = read_config(tmp_path)
    assert config.debug is True and config.secret_key == values["SECRET_KEY"]


def test_dev_env_never_overwrites_an_existing_value(tmp_path):
    path = tmp_path / ".env"
    path.write_text("DEBUG=false\nexport SECRET_KEY=mine-" + "k" * 40)  # no final newline
    assert ensure_dev_env(path) == ["ENCRYPTION_KEY"]
    text = path.read_text()
    assert text.startswith("DEBUG=false\nexport SECRET_KEY=mine-" + "k" * 40 + "\n")
    assert text.count("SECRET_KEY=") == 1 and "DEBUG=true" not in text


# --- what the published key could do --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_rating_link_signed_with_the_old_development_key_is_refused(client, world):
    """Before: settings.SECRET_KEY was the published key, so this forged link rated the ticket (1 star)."""
    ticket = world.ticket
    forged = signing.dumps([ticket.organization_id, ticket.pk, ticket.customer_id], key=OLD_DEV_KEY,
                           salt=satisfaction._SALT)
    assert satisfaction.ticket_for_rating_token(world.org, forged) is None
    response = client.get(reverse("portal:rate_link", args=[world.org.slug, forged]) + "?score=1")
    assert response.status_code == 410  # the link's page refuses it: nothing to rate from there
    assert not ticket.__class__.objects.filter(pk=ticket.pk, satisfaction__isnull=False).exists()
    genuine = satisfaction.rating_token(ticket)  # the control: a link the product signed still works
    assert satisfaction.ticket_for_rating_token(world.org, genuine) == ticket


def _fernet(material: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"lumiodesk:{material}".encode()).digest()))


def test_stored_secrets_are_not_encrypted_with_a_key_derived_from_secret_key_or_a_published_one(settings):
    sealed = crypto.encrypt("imap-password")
    assert crypto.decrypt(sealed) == "imap-password"
    for material in (OLD_DEV_KEY, settings.SECRET_KEY):
        with pytest.raises(InvalidToken):
            _fernet(material).decrypt(sealed.encode())


def test_encryption_key_rotation_keeps_older_values_readable(settings):
    old_key = settings.ENCRYPTION_KEY
    sealed = crypto.encrypt("webhook-secret")
    settings.ENCRYPTION_KEY = secrets.token_urlsafe(50)
    assert crypto.decrypt(sealed) == ""  # a wrong key reads nothing (never a crash)
    settings.ENCRYPTION_KEY_FALLBACKS = [old_key]
    assert crypto.decrypt(sealed) == "webhook-secret"
    new = crypto.encrypt("webhook-secret")
    with pytest.raises(InvalidToken):
        _fernet(old_key).decrypt(new.encode())  # new values use the new key


# --- docker-compose.yml: the production environment it gives ------------------------------------------------

_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>[A-Z_][A-Z0-9_]*)(?:(?P<op>:[-?])(?P<arg>[^}]*))?\}")


def _interpolate(value: str, environment: dict[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}``, ``${NAME:?error}`` and ``$$``, from ``environment`` alone."""

    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        if environment.get(name):
            return environment[name]
        if op == ":?":
            raise KeyError(f"{name} is required: {arg}")
        return arg or ""

    return _VARIABLE.sub(replace, value)


def _compose() -> dict:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def _compose_web_environment(stand_ins: dict[str, str]) -> dict[str, str]:
    web = _compose()["services"]["web"]
    return {name: _interpolate(str(value), stand_ins) for name, value in web["environment"].items()}


def _stand_ins() -> dict[str, str]:
    return {"SECRET_KEY": secrets.token_urlsafe(50), "ENCRYPTION_KEY": secrets.token_urlsafe(50)}


def _run_with(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """A fresh process with the compose environment only (not this test run's relaxed HTTPS settings)."""
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
             "DJANGO_SETTINGS_MODULE": "lumiodesk.settings", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, *args], cwd=BASE_DIR, env={**clean, **environment},
                          capture_output=True, text=True, timeout=120)


def test_docker_compose_ships_no_secret_nor_debug_and_publishes_on_loopback():
    compose = _compose()
    environment = compose["x-app"]["environment"]
    assert str(environment["DEBUG"]).lower() == "false"
    for name in ("SECRET_KEY", "ENCRYPTION_KEY"):
        assert environment[name].startswith("${" + name + ":?"), environment[name]  # required, no default
        with pytest.raises(KeyError, match=name):
            _compose_web_environment({k: v for k, v in _stand_ins().items() if k != name})
    text = (BASE_DIR / "docker-compose.yml").read_text()
    assert all(key not in text for key in PUBLISHED_SECRET_KEYS)
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert _interpolate(port, {}).startswith("127.0.0.1:"), (name, port)


@pytest.mark.slow  # manage.py check --deploy in a process of its own
def test_check_deploy_is_clean_with_the_docker_compose_environment():
    """Before: 5 warnings with the compose defaults (W004 HSTS, W008 SSL redirect, W012 session cookie,
    W016 CSRF cookie, W018 DEBUG)."""
    result = _run_with(_compose_web_environment(_stand_ins()), "manage.py", "check", "--deploy",
                       "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output


_PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST="localhost")
missing, plain, secure = (client.get("/no-such-page/", secure=True), client.get("/login/"),
                          client.get("/login/", secure=True))
print(json.dumps({"debug": settings.DEBUG, "status": missing.status_code, "body": missing.content.decode(),
                  "plain_status": plain.status_code, "plain_location": plain.get("Location", ""),
                  "hsts": secure.get("Strict-Transport-Security", "")}))
"""


@pytest.mark.slow  # a fresh process with the compose environment
def test_production_404_does_not_list_the_urlconf_and_plain_http_is_redirected():
    """Before: DEBUG on by default, the 404 page listed every URL pattern ("Using the URLconf defined in ...")."""
    result = _run_with(_compose_web_environment(_stand_ins()), "-c", _PROBE)
    assert result.returncode == 0, result.stderr
    page = json.loads(result.stdout.strip().splitlines()[-1])
    assert page["debug"] is False and page["status"] == 404
    assert "URLconf" not in page["body"] and "admin/" not in page["body"]
    assert page["plain_status"] == 301 and page["plain_location"].startswith("https://")
    assert page["hsts"].startswith("max-age=31536000")


@pytest.mark.django_db
def test_the_health_check_is_not_redirected_to_https(client, settings):
    """The container's health check probes http://127.0.0.1:8000/health/ (docker-compose.yml)."""
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/health/").status_code == 200
    assert client.get("/login/").status_code == 301


def test_the_local_dotenv_never_reaches_the_docker_image():
    """``make run`` writes DEBUG=true and the local secrets to .env; ``COPY . .`` must not bake them in."""
    ignored = (BASE_DIR / ".dockerignore").read_text().split()
    assert ".env" in ignored
