"""Secrets shown once (a generated password, new recovery codes) that must survive
a redirect and a reload, but never lie in the session table in plain text.

They are sealed (Fernet: AES with an HMAC) under a key derived from the
session's own token. The table holds only that token's SHA-256 digest, so
nothing in the database opens them: only the browser whose cookie carries the
token does, and only until the entry expires (``put_expiring``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from pyramid.request import Request

SEAL = "sealed"


def _fernet(token: str) -> Fernet:
    key = hmac.new(token.encode(), b"camauth.sealed-display", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(request: Request, key: str, value: Any, until: datetime) -> bool:
    """Keep ``value`` (JSON) for this browser until ``until``; False if the session
    has no token to seal it with (nobody logged in)."""
    token = request.session.token_in_use()
    if token is None:
        return False
    sealed = _fernet(token).encrypt(json.dumps(value).encode()).decode("ascii")
    request.session.put_expiring(key, {SEAL: sealed}, until)
    return True


def unseal(request: Request, key: str) -> Any:
    """The value sealed under ``key``, or None (absent, expired, another session's)."""
    entry = request.session.get_expiring(key)
    token = request.session.token_in_use()
    if entry is None or token is None:
        return None
    try:
        return json.loads(_fernet(token).decrypt(str(entry[SEAL]).encode("ascii")))
    except (InvalidToken, KeyError, TypeError, ValueError, UnicodeError):
        request.session.pop(key, None)  # unreadable: of no use to anyone
        return None
