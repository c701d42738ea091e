"""One-time action tokens for forms whose effect must not happen twice.

A POST answered with a redirect is not repeated by a reload, but a browser's
back button and "resubmit", or a double click, still send it again. Forms with
such an effect carry a token issued when the page was shown; the first POST
spends it, and a second one with the same token is recognised as a repeat.
"""

from __future__ import annotations

import hmac
import secrets

from pyramid.request import Request

PREFIX = "_once."


def issue(request: Request, purpose: str) -> str:
    """A fresh token for the form about to be shown (it replaces any earlier one)."""
    token = secrets.token_urlsafe(16)
    request.session[PREFIX + purpose] = token
    return token


def spend(request: Request, purpose: str, presented: str) -> bool:
    """True once for the token issued for ``purpose``; False for a repeat or a forgery."""
    expected = request.session.pop(PREFIX + purpose, None)
    if not isinstance(expected, str) or not presented:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())
