"""The half-finished login: password right, second factor still to come.

Kept in the (still anonymous) session, never in a cookie of its own: the
browser holds only the session token. Until the code is accepted the session
has no user, so every page but the second step and logout treats the visitor
as logged out. The state lasts ``mfa.pending_minutes`` (5) from the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pyramid.request import Request

from ..models import User
from ..services.authentication import FirstStep
from .context import app_settings

PENDING_KEY = "_pending_login"


@dataclass(frozen=True)
class PendingLogin:
    first: FirstStep  # who, in which lockout scope, when, and the password stamp
    next: str  # where the login was headed

    def expired(self, now: datetime, minutes: int) -> bool:
        return now >= self.first.at + timedelta(minutes=minutes)


def start(request: Request, user: User, scope: str, next_path: str) -> None:
    first = FirstStep.of(user, scope, request.registry["camauth.clock"]())
    request.session[PENDING_KEY] = {
        "user_id": first.user_id,
        "scope": first.scope,
        "next": next_path,
        "since": first.at.isoformat(),
        "password_stamp": first.password_stamp,
    }


def _parse(raw: Any) -> PendingLogin | None:
    # one kept by an earlier version (no "password_stamp") is no longer valid: start again
    try:
        first = FirstStep(
            user_id=int(raw["user_id"]),
            scope=str(raw["scope"]),
            at=datetime.fromisoformat(raw["since"]),
            password_stamp=str(raw["password_stamp"]),
        )
        return PendingLogin(first, next=str(raw["next"]))
    except (TypeError, KeyError, ValueError):
        return None


class Expired(Exception):
    """The half-finished login is older than ``mfa.pending_minutes``."""


def current(request: Request) -> PendingLogin | None:
    """The live pending login, or None. Raises Expired (and forgets it) when too old."""
    raw = request.session.get(PENDING_KEY)
    if raw is None:
        return None
    pending = _parse(raw)
    if pending is None:
        clear(request)
        return None
    now = request.registry["camauth.clock"]()
    if pending.expired(now, app_settings(request.registry).mfa_pending_minutes):
        clear(request)
        raise Expired
    return pending


def clear(request: Request) -> None:
    request.session.pop(PENDING_KEY, None)


def current_or_none(request: Request) -> PendingLogin | None:
    """The live pending login, or None (also when it has just expired)."""
    try:
        return current(request)
    except Expired:
        return None
