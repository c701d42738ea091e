"""camauth's own cookies, read and written without WebOb's general machinery.

Both run on every request with a session (reading) or on every first visit
(writing the CSRF cookie), and WebOb's full cookie parser and writer cost a
noticeable part of such a request. camauth's cookie values are tokens it made
(URL-safe base64): a split finds them, and they need no quoting.
"""

from __future__ import annotations

import re

from pyramid.request import Request
from pyramid.response import Response


def read_cookie(request: Request, name: str) -> str | None:
    """One cookie's value, without parsing them all.

    WebOb's full parser is a noticeable part of an authenticated page view; camauth's
    own cookies are plain URL-safe tokens, so a split finds them. Of several
    same-named cookies the first counts (browsers send the most specific first).
    """
    header = request.environ.get("HTTP_COOKIE", "")
    if name not in header:
        return None
    for part in header.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip() == name:
            return value.strip().strip('"')
    return None


_TOKEN_SAFE = re.compile(r"[A-Za-z0-9_-]+")


def set_cookie(response: Response, name: str, value: str, secure: bool) -> None:
    """Set one of camauth's cookies (path /, HttpOnly, SameSite=Lax).

    Its values are tokens camauth made (URL-safe base64), which need no quoting:
    the header is written as WebOb would write it, without WebOb's general cookie
    machinery, which costs a large part of a small page such as /login."""
    if _TOKEN_SAFE.fullmatch(value):
        flags = "; secure" if secure else ""
        header = f"{name}={value}; Path=/{flags}; HttpOnly; SameSite=Lax"
        response.headerlist.append(("Set-Cookie", header))
    else:
        response.set_cookie(name, value, path="/", secure=secure, httponly=True, samesite="Lax")
