"""Device cookies (OWASP's scheme against lockout abuse).

After a successful login the browser gets a long-lived signed cookie naming the
username and a random device id. A login attempt that carries a valid one for
the username typed is counted and locked per device, so an attacker elsewhere
can lock out only untrusted clients. The cookie is stateless: its signature,
issue time and password epoch are all that is checked; locks live in the
``lockouts`` table.

The epoch is the moment the user's password last changed. A password change or
reset is what a person does when they fear someone else got in, so it voids
every device cookie issued before it: such a browser counts as untrusted until
it logs in again with the new password.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from pyramid.request import Request
from pyramid.response import Response
from webob.cookies import SignedSerializer

from ..models import User
from ..services.accounts import username_key
from ..services.device_trust import password_epoch, password_epoch_of
from .context import app_settings

DEVICE_COOKIE = "camauth_device"


@dataclass(frozen=True)
class DeviceClaim:
    username_key: str
    device_id: str
    password_epoch: int | None  # None in cookies issued before epochs: never trusted


def _serializer(request: Request) -> SignedSerializer:
    secret = app_settings(request.registry).secret
    return SignedSerializer(secret, salt="camauth.device", hashalg="sha256")


def read_device_claim(request: Request) -> DeviceClaim | None:
    raw = request.cookies.get(app_settings(request.registry).cookie_prefix + DEVICE_COOKIE)
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
    epoch = value.get("e")
    settings = app_settings(request.registry)
    now = request.registry["camauth.clock"]()
    if now.timestamp() - issued > timedelta(days=settings.device_cookie_days).total_seconds():
        return None
    return DeviceClaim(username, device_id, epoch if isinstance(epoch, int) else None)


def device_claim_for(request: Request, username: str) -> DeviceClaim | None:
    """The client's device cookie if it names ``username`` (its epoch not yet checked)."""
    claim = read_device_claim(request)
    if claim is None or claim.username_key != username_key(username):
        return None
    return claim


def trusted_device_at_login(request: Request, username: str) -> str | None:
    """The device id of the client's cookie for ``username``, if it was issued
    since that account's password last changed (looked up: nobody is logged in)."""
    claim = device_claim_for(request, username)
    if claim is None or claim.password_epoch is None:
        return None
    if claim.password_epoch != password_epoch_of(request.camauth, username):
        return None
    return claim.device_id


def trusted_device_for(request: Request, user: User) -> str | None:
    """The device id to count ``user``'s failures under, if the client's cookie is
    for them and was issued since their password last changed."""
    claim = device_claim_for(request, user.username)
    if claim is None or claim.password_epoch != password_epoch(user):
        return None
    return claim.device_id


def issue_device_cookie(request: Request, response: Response, user: User) -> None:
    """Give the browser a device cookie for ``user`` (kept if it has a valid one)."""
    if trusted_device_for(request, user) is not None:
        return
    settings = app_settings(request.registry)
    now = request.registry["camauth.clock"]()
    value = {
        "u": user.username_key,
        "d": secrets.token_hex(16),
        "t": int(now.timestamp()),
        "e": password_epoch(user),
    }
    response.set_cookie(
        settings.cookie_prefix + DEVICE_COOKIE,
        _serializer(request).dumps(value).decode("ascii"),
        max_age=int(timedelta(days=settings.device_cookie_days).total_seconds()),
        path="/",
        secure=settings.session_cookie_secure,
        httponly=True,
        samesite="Lax",
    )
