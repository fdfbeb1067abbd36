"""The portal's sign-in links: how long they last and how their token is stored (hashed).

Below both ``services`` (which makes the links) and ``emails`` (which sends them).
"""

from __future__ import annotations

import hashlib

SIGN_IN_LINK_MINUTES = 30


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
