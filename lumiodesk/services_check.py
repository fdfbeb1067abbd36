"""Make sure PostgreSQL and Redis are reachable before `make run` / `make test`.

Starts the local servers when they are installed but stopped; otherwise stops
with a message that says what to install, or to use `docker compose up`.
Creates the database named in DATABASE_URL if it does not exist.

Usage: python -m lumiodesk.services_check [--start]
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import psycopg
from django.core.exceptions import ImproperlyConfigured

from lumiodesk.config import read_config

LOCAL = {"127.0.0.1", "localhost", "::1", None, ""}


def _say(msg: str) -> None:
    print(f"[services] {msg}", flush=True)


def _port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _wait(host: str, port: int, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _port_open(host, port):
            return True
        time.sleep(0.5)
    return False


def _start_postgres() -> bool:
    if shutil.which("pg_ctlcluster") is None:
        return False
    versions = sorted(Path(p).name for p in glob.glob("/etc/postgresql/*"))
    for version in versions:
        _say(f"starting local PostgreSQL {version} ...")
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    return bool(versions)


def _start_redis(port: int) -> bool:
    if shutil.which("redis-server") is None:
        return False
    _say("starting local Redis ...")
    workdir = "/var/lib/redis" if os.access("/var/lib/redis", os.W_OK) else "/tmp"
    subprocess.run(
        ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", str(port),
         "--save", "", "--appendonly", "no", "--dir", workdir],
        check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    return True


def ensure_postgres(database: dict, start: bool) -> None:
    host = database.get("HOST") or "127.0.0.1"
    port = int(database.get("PORT") or 5432)
    if not _port_open(host, port):
        if start and host in LOCAL and _start_postgres() and _wait(host, port):
            _say("PostgreSQL started.")
        else:
            sys.exit(
                f"PostgreSQL is not reachable at {host}:{port}.\n"
                "  Install it (Debian/Ubuntu: apt-get install postgresql) and start it,\n"
                "  or run `make dev-env && docker compose up -d postgres redis` (compose reads the secrets from .env;\n"
                "  then DATABASE_URL=postgres://lumiodesk:lumiodesk@127.0.0.1:5432/lumiodesk),\n"
                "  or set DATABASE_URL to a reachable server."
            )

    params = {"host": host, "port": port, "user": database.get("USER") or "postgres"}
    if database.get("PASSWORD"):
        params["password"] = database["PASSWORD"]
    name = database["NAME"]
    try:
        with psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **params) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
                _say(f"created database {name}.")
    except psycopg.Error as exc:
        sys.exit(f"Cannot use PostgreSQL at {host}:{port} as {params['user']}: {exc}")


def ensure_redis(url: str, start: bool) -> None:
    parsed = urlparse(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    if _port_open(host, port):
        return
    if start and host in LOCAL and _start_redis(port) and _wait(host, port, 10):
        _say("Redis started.")
        return
    sys.exit(
        f"Redis is not reachable at {host}:{port}.\n"
        "  Install it (Debian/Ubuntu: apt-get install redis-server) and start it,\n"
        "  or run `make dev-env && docker compose up -d postgres redis` (compose reads the secrets from .env),\n"
        "  or set REDIS_URL to a reachable server."
    )


def main(argv: list[str]) -> None:
    try:
        config = read_config(Path(__file__).resolve().parent.parent, require_secrets=False)
    except ImproperlyConfigured as exc:
        sys.exit(f"Configuration error: {exc}")
    start = "--start" in argv
    ensure_postgres(config.database, start)
    ensure_redis(config.redis_url, start)
    _say(f"PostgreSQL ({config.database['NAME']}) and Redis are reachable.")


if __name__ == "__main__":
    main(sys.argv[1:])
