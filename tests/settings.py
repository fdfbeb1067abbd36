"""Settings of the test suite: ``lumiodesk.settings`` plus what a fresh clone lacks (pyproject.toml points
pytest-django here; ``make test`` runs ``compilemessages`` with it too).

- Secrets: a fresh clone has no .env, and SECRET_KEY / ENCRYPTION_KEY are required everywhere. The suite makes
  random ones per run and puts them in ``os.environ``, so the processes a test starts (a Celery worker, the SMTP
  receiver) inherit the same keys. A key already in the environment is kept.
- Production mode (DEBUG off, as pytest-django runs every test anyway) over plain HTTP: the test client and the
  live server speak HTTP, so no HTTPS redirect and no Secure-only cookies. The environment wins over a
  developer's .env (``make run`` writes DEBUG=true there), so every machine runs the suite the same way.
"""

import os
import secrets

os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("ENCRYPTION_KEY", secrets.token_urlsafe(50))
os.environ.update(
    {"DEBUG": "false", "SECURE_SSL_REDIRECT": "false", "SESSION_COOKIE_SECURE": "false", "CSRF_COOKIE_SECURE": "false"}
)

from lumiodesk.settings import *  # noqa: E402, F403
