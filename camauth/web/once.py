"""One-time action tokens for forms whose effect must not happen twice.

A POST answered with a redirect is not repeated by a reload, but a browser's
back button and "resubmit", or a double click, still send it again. Forms with
such an effect carry a token issued when the page was shown; the first POST
spends it, and a second one with the same token is recognised as a repeat.

Spending reads the token from the session's row as committed, with the row
locked (``DatabaseSession.take_stored``): two copies of one form sent at the
same moment are one action and one repeat, not two actions. A few tokens per
purpose stay valid at once, so a form opened in two tabs works in each (two
deliberate actions), and opening it again does not turn the first into a
"repeat" that never happened.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from pyramid.request import Request

PREFIX = "_once."
KEPT = 5  # outstanding tokens per purpose: the newest forms shown


def _tokens(value: Any) -> list[str]:
    if isinstance(value, str):  # one token, as sessions stored it before lists
        return [value]
    if isinstance(value, list):
        return [token for token in value if isinstance(token, str)]
    return []


def issue(request: Request, purpose: str) -> str:
    """A fresh token for the form about to be shown."""
    token = secrets.token_urlsafe(16)
    outstanding = _tokens(request.session.get(PREFIX + purpose))
    request.session[PREFIX + purpose] = [*outstanding, token][-KEPT:]
    return token


def spend(request: Request, purpose: str, presented: str) -> bool:
    """True once for a token issued for ``purpose``; False for a repeat or a forgery."""
    key = PREFIX + purpose
    outstanding = _tokens(request.session.take_stored(key))
    matching = [
        t for t in outstanding if presented and hmac.compare_digest(t.encode(), presented.encode())
    ]
    remaining = [token for token in outstanding if token not in matching]
    if remaining:
        request.session[key] = remaining
    return bool(matching)
