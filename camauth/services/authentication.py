"""The login decision: throttle → lockout → credentials → account status.

Two-factor and required actions come after this decision, in the web layer's
login flow; this module answers only "may these credentials start a session?".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from ..models import UNTRUSTED_SCOPE, User, UserStatus
from . import accounts, audit, lockout
from .audit import Event
from .context import Context


class Outcome(enum.Enum):
    OK = "ok"
    INVALID = "invalid"  # wrong username or password, or an account that may not log in
    LOCKED = "locked"
    THROTTLED = "throttled"
    PENDING = "pending"  # right password, account waiting for approval or email


@dataclass(frozen=True)
class LoginResult:
    outcome: Outcome
    user: User | None = None
    until: datetime | None = None  # for LOCKED and THROTTLED
    scope: str = UNTRUSTED_SCOPE


def authenticate(
    ctx: Context, username: str, password: str, *, trusted_device: str | None = None
) -> LoginResult:
    """Decide a login attempt. ``trusted_device`` is the device id of a valid device
    cookie issued for this same username, if the client sent one."""
    key = accounts.username_key(username)
    scope = trusted_device or UNTRUSTED_SCOPE
    if accounts.username_problem(username):
        # a name that can never exist: refused like any wrong login, but not
        # recorded (the pages refuse it earlier with a form error)
        ctx.passwords.burn_time(password)
        return LoginResult(Outcome.INVALID, scope=scope)

    throttled = lockout.ip_throttled_until(ctx, ctx.origin.ip)
    if throttled is not None:
        return LoginResult(Outcome.THROTTLED, until=throttled, scope=scope)
    until = lockout.locked_until(ctx, key, scope)
    if until is not None:
        return LoginResult(Outcome.LOCKED, until=until, scope=scope)

    user = accounts.find_user(ctx, key)
    checked = ctx.passwords.verify(user.password_hash if user else None, password)
    if user is None or not checked.ok or user.status == UserStatus.DISABLED:
        reason = "disabled" if user is not None and checked.ok else "password"
        failure = lockout.record_failure(ctx, key, scope=scope, user=user, reason=reason)
        if failure.locked_until is not None:
            return LoginResult(Outcome.LOCKED, until=failure.locked_until, scope=scope)
        return LoginResult(Outcome.INVALID, scope=scope)

    # The lock was checked before argon2 ran, without a lock: failures made in
    # parallel meanwhile may have locked the scope. Check again holding its row,
    # so that a right password can neither slip through nor clear that lock.
    held = lockout.hold_lock_row(ctx, key, scope)
    if held.until is not None:
        return LoginResult(Outcome.LOCKED, until=held.until, scope=scope)
    if checked.new_hash:
        user.password_hash = checked.new_hash
    if not user.is_active:
        return LoginResult(Outcome.PENDING, user=user, scope=scope)

    if held.exists:  # a scope that never failed has nothing to reset
        lockout.reset_after_success(ctx, key, scope)
    user.last_login_at = ctx.clock()
    audit.record(
        ctx.acting_as(user.id, user.username),
        Event.LOGIN_SUCCESS,
        target=user,
        details={"device": "trusted" if trusted_device else "untrusted"},
    )
    return LoginResult(Outcome.OK, user=user, scope=scope)
