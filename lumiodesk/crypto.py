"""Secrets at rest (mailbox passwords, webhook secrets, sign-in links in the broker): Fernet.

The key is derived from ``settings.ENCRYPTION_KEY``, a secret of its own that is required everywhere and never a
published value (lumiodesk.config); it never falls back to SECRET_KEY. Values encrypted under an older key stay
readable while that key is listed in ``ENCRYPTION_KEY_FALLBACKS``; new values always use ENCRYPTION_KEY.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _key(material: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"lumiodesk:{material}".encode()).digest()))


def _fernet() -> MultiFernet:
    return MultiFernet([_key(settings.ENCRYPTION_KEY), *(_key(k) for k in settings.ENCRYPTION_KEY_FALLBACKS)])


def encrypt(value: str) -> str:
    if not value:
        return ""
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return ""
