"""Helpers for the tests that run a real Celery worker (the ``celery_worker_process`` fixture in conftest.py,
marker ``worker``): wait for what the worker does, read the emails it sent."""

from __future__ import annotations

import email
import email.policy
import time
from pathlib import Path

import pytest
from django.db import connection

TIMEOUT = 45  # seconds; the worker needs a few to start Django


def database_url() -> str:
    """This test run's database, for the worker process (configured by environment variables only)."""
    s = connection.settings_dict
    auth = s["USER"] or "postgres"
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def wait_for(predicate, process, what: str, timeout: float = TIMEOUT) -> None:
    """Poll ``predicate`` until it holds; fail with the worker's log if it does not in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if process.poll() is not None:
            break
        time.sleep(0.25)
    log = process.log_path.read_text(errors="replace")[-6000:]
    pytest.fail(f"timed out waiting for {what} (worker exit code {process.poll()}).\nWorker log:\n{log}")


def sent_mails(mail_dir: Path) -> list[dict[str, str]]:
    """The emails the file backend wrote: subject, recipient and text body, decoded."""
    mails = []
    for path in sorted(mail_dir.glob("*.log")):
        for raw in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if not raw.strip():
                continue
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            text = msg.get_body(preferencelist=("plain",))
            mails.append(
                {"subject": str(msg["Subject"]), "to": str(msg["To"]), "body": text.get_content() if text else ""}
            )
    return mails
