"""Where to send people: safe ``next`` values and 303 redirects."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from pyramid.httpexceptions import HTTPSeeOther
from pyramid.request import Request

MAX_NEXT = 2000


def safe_next(value: str | None) -> str | None:
    """``value`` if it is a local path on this site, else None.

    Refuses other hosts (``//evil``, ``https://evil``), schemes (``javascript:``),
    backslashes (browsers read ``/\\evil`` as ``//evil``) and control characters.
    """
    if not value or len(value) > MAX_NEXT or not value.startswith("/"):
        return None
    if value.startswith("//") or "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def home_path(request: Request) -> str:
    return request.registry.settings.get("camauth.home_path", "/")


def login_url(request: Request, next_path: str | None = None) -> str:
    url = request.route_path("camauth.login")
    return f"{url}?{urlencode({'next': next_path})}" if next_path else url


def see_other(location: str) -> HTTPSeeOther:
    """A redirect to *return* (a raised one would abort the transaction)."""
    return HTTPSeeOther(location=location)
