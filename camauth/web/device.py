"""Device cookies (OWASP's scheme against lockout abuse).

After a successful login the browser gets a long-lived signed cookie naming the
username and a random device id. A login attempt that carries a valid one for
the username typed is counted and locked per device, so an attacker elsewhere
can lock out only untrusted clients. The cookie is stateless: its signature and
issue time are all that is checked; locks live in the ``lockouts`` table.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from pyramid.request import Request
from pyramid.response import Response
from webob.cookies import SignedSerializer

from ..services.accounts import username_key
from .context import app_settings

DEVICE_COOKIE = "camauth_device"


@dataclass(frozen=True)
class DeviceClaim:
    username_key: str
    device_id: str


def _serializer(request: Request) -> SignedSerializer:
    secret = app_settings(request.registry).secret
    return SignedSerializer(secret, salt="camauth.device", hashalg="sha256")


def read_device_claim(request: Request) -> DeviceClaim | None:
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw or len(raw) > 1000:
        return None
    try:
        value = _serializer(request).loads(raw.encode("ascii"))
    except (ValueError, UnicodeError):
        return None  # forged, corrupt, or signed with another secret
    if not isinstance(value, dict):
        return None
    username, device_id, issued = value.get("u"), value.get("d"), value.get("t")
    if not (isinstance(username, str) and isinstance(device_id, str) and isinstance(issued, int)):
        return None
    settings = app_settings(request.registry)
    now = request.registry["camauth.clock"]()
    if now.timestamp() - issued > timedelta(days=settings.device_cookie_days).total_seconds():
        return None
    return DeviceClaim(username, device_id)


def trusted_device_for(request: Request, username: str) -> str | None:
    """The device id to count failures under, if the client's cookie is for ``username``."""
    claim = read_device_claim(request)
    if claim is None or claim.username_key != username_key(username):
        return None
    return claim.device_id


def issue_device_cookie(request: Request, response: Response, username: str) -> None:
    """Give the browser a device cookie for ``username`` (kept if it already has one)."""
    if trusted_device_for(request, username) is not None:
        return
    settings = app_settings(request.registry)
    now = request.registry["camauth.clock"]()
    value = {"u": username_key(username), "d": secrets.token_hex(16), "t": int(now.timestamp())}
    response.set_cookie(
        DEVICE_COOKIE,
        _serializer(request).dumps(value).decode("ascii"),
        max_age=int(timedelta(days=settings.device_cookie_days).total_seconds()),
        path="/",
        secure=settings.session_cookie_secure,
        httponly=True,
        samesite="Lax",
    )
