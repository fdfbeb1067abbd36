"""Link tokens never reach a log (issue 15, item 7): Django's request logging, runserver, gunicorn's access log.

Before: ``GET /portal/acme/login/<token>/`` was written whole by gunicorn's access log (docker-compose turns
it on) and ``django.request`` logged refused tokens ("Gone: /portal/acme/rate/<token>/").
Now: every handler redacts them, gunicorn logs through ``GunicornLogger``, and the views move the token
into the session and redirect to a URL without it on first use (tested with each link's own tests)."""

from __future__ import annotations

import io
import logging
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver

from lumiodesk.log_redaction import REDACTED, RedactTokens, redact

BASE_DIR = Path(settings.BASE_DIR)
TOKEN = "Xq3vN8pLr2Tz-Ka9_Wm4Bc7Ds1Fh6Gj0Yu5Ie2Oo8Pa"  # the shape of secrets.token_urlsafe(32)
SIGNED = "WzEsMiwzXQ:1tXyZa:" + "Ab3_" * 11  # the shape of a django.core.signing token (fixed: xdist ids)


@pytest.mark.parametrize(
    "path",
    [
        f"/portal/acme/login/{TOKEN}/",
        f"/portal/acme/rate/{SIGNED}/?score=4",
        f"/help/acme/contact/confirm/{SIGNED}/",
        f"/email/verify/{TOKEN}/",
        f"/portal/acme/tickets/3/attachments/{TOKEN[:32]}/",
        f'"GET /portal/acme/login/{TOKEN}/ HTTP/1.1" 302 0',
    ],
)
def test_token_segments_are_redacted(path):
    out = redact(path)
    assert TOKEN[:16] not in out and SIGNED[:16] not in out
    assert REDACTED in out


@pytest.mark.parametrize(
    "path",
    [
        "/portal/acme/login/sent/",
        "/portal/acme/login/confirm/",
        "/portal/acme/rate/ticket/12/?score=4",
        "/help/acme/contact/confirm/12/",
        "/help/acme/a/comment-configurer-votre-compte-email-pas-a-pas/",
        "/tickets/?q=login",
    ],
)
def test_other_paths_are_left_alone(path):
    assert redact(path) == path


def test_redaction_is_linear_on_hostile_input():
    started = time.process_time()
    redact("/login/" + "a" * 1_000_000 + " " + "/rate/" * 100_000)
    assert time.process_time() - started < 1


def _routes(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


def test_every_route_with_a_token_is_covered():
    """A new link carrying a token in its path must be added to ``TOKEN_KEYWORDS``: this test says so."""
    with_token = [r for r in _routes(get_resolver().url_patterns) if "<str:token>" in r]
    assert len(with_token) >= 5, with_token
    for route in with_token:
        path = "/" + route.replace("<str:token>", TOKEN).replace("<slug:org>", "acme").replace("<int:number>", "3")
        assert TOKEN not in redact(path), route


def _configured_stream_handlers(logger_name: str) -> list[logging.StreamHandler]:
    """The StreamHandlers of ``LOGGING`` a record of this logger reaches (not pytest's capture handlers)."""
    found, logger = [], logging.getLogger(logger_name)
    while logger:
        found += [h for h in logger.handlers if type(h) is logging.StreamHandler]
        logger = logger.parent if logger.propagate else None
    return found


def test_django_request_log_redacts_refused_tokens(client, world):
    handlers = _configured_stream_handlers("django.request")
    assert handlers and all(any(isinstance(f, RedactTokens) for f in h.filters) for h in handlers)
    buffer = io.StringIO()
    old = [h.setStream(buffer) for h in handlers]
    try:
        assert client.get(f"/portal/acme/rate/{SIGNED}/").status_code == 410
        assert client.get(f"/portal/nope/login/{TOKEN}/").status_code == 404
    finally:
        for h, stream in zip(handlers, old, strict=True):
            h.setStream(stream)
    written = buffer.getvalue()
    assert "Gone: /portal/acme/rate/" in written and "Not Found: /portal/nope/login/" in written
    assert TOKEN not in written and SIGNED not in written and REDACTED in written


def test_runserver_log_redacts_tokens():
    [handler] = [h for h in logging.getLogger("django.server").handlers if type(h) is logging.StreamHandler]
    assert any(isinstance(f, RedactTokens) for f in handler.filters)
    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"%s" %s %s',
                               (f"GET /portal/acme/login/{TOKEN}/ HTTP/1.1", "302", "0"), None)
    assert handler.filter(record)
    assert TOKEN not in handler.format(record) and REDACTED in handler.format(record)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.mark.slow  # starts gunicorn in a process of its own
@pytest.mark.django_db
def test_gunicorn_access_log_never_has_a_token(tmp_path):
    """The real server, started as docker-compose does (``gunicorn lumiodesk.wsgi`` from the project
    directory, access log on), reading ``gunicorn.conf.py`` by itself."""
    port = _free_port()
    access_log = tmp_path / "access.log"
    env = {**os.environ, "DATABASE_URL": _database_url(), "DJANGO_SETTINGS_MODULE": "lumiodesk.settings",
           "PYTHONUNBUFFERED": "1", "DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1,localhost",
           "SECRET_KEY": secrets.token_urlsafe(50)}
    error_log = tmp_path / "error.log"
    with error_log.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "lumiodesk.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "--access-logfile", str(access_log)],
            cwd=BASE_DIR, env=env, stdout=err, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/portal/nope/login/{TOKEN}/", timeout=5)
            except urllib.error.HTTPError:
                break  # answered (404: no such organization)
            except OSError:
                assert process.poll() is None, error_log.read_text()
                assert time.monotonic() < deadline, error_log.read_text()
                time.sleep(0.2)
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/portal/nope/rate/{SIGNED}/?score=5", timeout=5)
        deadline = time.monotonic() + 10
        while access_log.read_text().count("\n") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=20)
    logged = access_log.read_text()
    assert "/portal/nope/login/" in logged and "/portal/nope/rate/" in logged
    assert TOKEN not in logged and SIGNED not in logged and REDACTED in logged
    assert TOKEN not in error_log.read_text() and SIGNED not in error_log.read_text()
