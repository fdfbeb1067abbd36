"""Tokens never reach a log.

Some links carry a secret in their path: the portal sign-in link (``/portal/<org>/login/<token>/``), the
rating link (``/rate/<token>/``), the contact-form confirmation (``/contact/confirm/<token>/``), the mailbox
address verification (``/email/verify/<token>/``), attachment downloads (``/attachments/<token>/``), the
sign-up verification (``/signup/verify/<token>/``), team invitations (``/invitation/<token>/``) and the password
reset (``/password/reset/<uid>/confirm/<token>/``).
Their views move the token into the session at once and redirect to a URL without it, but the first
request line is still seen by whatever logs requests: Django (``django.request`` logs 4xx and 5xx paths,
``django.server`` every request under runserver) and gunicorn's access log. Both go through here:

- ``RedactTokens``, a logging filter put on every handler of ``LOGGING`` (settings), rewrites the message
  and its arguments;
- ``GunicornLogger``, gunicorn's ``logger_class`` (``gunicorn.conf.py``), redacts the access log's fields.

What is replaced: a path segment of 16 characters or more of a token's alphabet right after one of the
keywords above, by ``[redacted]``. One pass of a linear expression (no nested repetition).
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"
TOKEN_KEYWORDS = ("login", "rate", "confirm", "verify", "attachments", "invitation")
_TOKEN_SEGMENT = re.compile(r"(/(?:" + "|".join(TOKEN_KEYWORDS) + r")/)[A-Za-z0-9_\-:.%=~]{16,}")


def redact(text: str) -> str:
    if "/" not in text:
        return text
    return _TOKEN_SEGMENT.sub(r"\g<1>" + REDACTED, text)


def _redact_value(value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return redact(value.decode("latin-1")).encode("latin-1")
    return value


class RedactTokens(logging.Filter):
    """Rewrite a record's message and arguments (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        args = record.args
        if isinstance(args, dict):
            record.args = {key: _redact_value(value) for key, value in args.items()}
        elif isinstance(args, tuple):
            record.args = tuple(_redact_value(value) for value in args)
        return True


try:  # gunicorn is a production dependency, but this module must import without it (tests, runserver)
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # pragma: no cover
    _GunicornLogger = None


if _GunicornLogger is not None:

    class GunicornLogger(_GunicornLogger):
        """gunicorn's logger with the access log's fields (request line, path, referer, headers) redacted."""

        def atoms(self, resp, req, environ, request_time):
            return {key: _redact_value(value) for key, value in super().atoms(resp, req, environ, request_time).items()}
