"""Development mode and random local secrets for `make run` (and the other local `make` targets).

Writes to the git-ignored ``.env`` of the project, on first run, ``DEBUG=true`` and a random ``SECRET_KEY`` and
``ENCRYPTION_KEY``; adds whichever of them is missing and never changes a line that is there, so the secrets
persist across restarts (sessions stay valid, encrypted mailbox passwords and webhook secrets stay readable).
Runs before Django: the settings need these values.

Usage: python -m devtools.dev_env [PATH]   (default: .env beside manage.py)
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from pathlib import Path

_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


def _defaults() -> dict[str, str]:
    return {
        "DEBUG": "true",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ENCRYPTION_KEY": secrets.token_urlsafe(50),
    }


def ensure_dev_env(path: Path) -> list[str]:
    """Append the missing variables to ``path`` (created 0600); return their names."""
    existing = path.read_text() if path.exists() else ""
    present = {m.group(1) for m in map(_ASSIGNMENT.match, existing.splitlines()) if m}
    missing = {name: value for name, value in _defaults().items() if name not in present}
    if not missing:
        return []
    lines = [] if not existing or existing.endswith("\n") else [""]
    lines.append("# Written by `make run` for local development (devtools/dev_env.py); never commit this file.")
    lines += [f"{name}={value}" for name, value in missing.items()]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as out:
        out.write("\n".join(lines) + "\n")
    return list(missing)


def main(argv: list[str]) -> None:
    path = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent / ".env"
    written = ensure_dev_env(path)
    if written:
        print(f"[dev-env] {path}: wrote {', '.join(written)} (local development only)", flush=True)


if __name__ == "__main__":
    main(sys.argv)
