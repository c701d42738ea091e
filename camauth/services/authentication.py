"""The login decision: throttle → lockout → credentials → account status → second
factor; and re-authentication of someone already logged in.

Required actions come after this decision, in the web layer; this module
answers only "may these credentials start a session?".

A right password for a user with two-factor is not yet a login: it resets no
failure count and is not audited as a success, so knowing the password does
not let anyone guess codes past the lockout. Wrong codes count as failures of
the same username and scope as wrong passwords.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, literal_column, null, select
from sqlalchemy.exc import InvalidRequestError

from ..models import UNTRUSTED_SCOPE, User, UserStatus
from . import accounts, audit, lockout, login_claim, mfa, recovery_codes, serial
from .audit import Event
from .context import Context
from .totp import Match


class Outcome(enum.Enum):
    OK = "ok"
    INVALID = "invalid"  # wrong username or password, or an account that may not log in
    LOCKED = "locked"
    THROTTLED = "throttled"
    PENDING = "pending"  # right password, account waiting for approval or email
    SECOND_FACTOR = "second_factor"  # right password; a code must follow
    WRONG_CODE = "wrong_code"  # the second step's code (or recovery code) was not right


@dataclass(frozen=True)
class LoginResult:
    outcome: Outcome
    user: User | None = None
    until: datetime | None = None  # for LOCKED and THROTTLED
    scope: str = UNTRUSTED_SCOPE
    message: str = ""  # for WRONG_CODE: what was wrong with it
    recovery_codes_left: int | None = None  # after logging in with a recovery code
    # OK only: the login's own statement holds the user's row until the transaction
    # ends (login_claim), so the session that follows need not lock it again
    user_row_held: bool = False


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

    before = _read_before_verify(ctx, key, scope)
    if before.throttled_until is not None:
        return LoginResult(Outcome.THROTTLED, until=before.throttled_until, scope=scope)
    if before.locked_until is not None:
        return LoginResult(Outcome.LOCKED, until=before.locked_until, scope=scope)

    user = before.user
    checked_hash = user.password_hash if user else None
    checked = ctx.passwords.verify(checked_hash, password)
    if user is None or checked_hash is None or not checked.ok or user.status == UserStatus.DISABLED:
        return _count_failure(ctx, key, scope, user, checked.ok)
    if user.is_active and not user.has_second_factor:
        return _claim(ctx, user, scope, checked_hash, checked.new_hash)
    return _second_step_or_pending(ctx, user, scope, checked_hash, checked.new_hash)


def _count_failure(
    ctx: Context, key: str, scope: str, user: User | None, password_ok: bool
) -> LoginResult:
    reason = "disabled" if user is not None and password_ok else "password"
    failure = lockout.record_failure(ctx, key, scope=scope, user=user, reason=reason)
    if failure.locked_until is not None:
        return LoginResult(Outcome.LOCKED, until=failure.locked_until, scope=scope)
    return LoginResult(Outcome.INVALID, scope=scope)


def _second_step_or_pending(
    ctx: Context, user: User, scope: str, checked_hash: str, new_hash: str | None
) -> LoginResult:
    # The lock was checked before argon2 ran, without a lock: failures made in
    # parallel meanwhile may have locked the scope. Check again holding its row,
    # so that a right password cannot slip through that lock.
    key = user.username_key
    held = lockout.hold_lock_row(ctx, key, scope)
    if held.until is not None:
        return LoginResult(Outcome.LOCKED, until=held.until, scope=scope)
    # As for a login in one step (_claim): a new password, a disable or a deletion
    # committed while argon2 ran refuses the password it was checked against. The
    # row is held from here on (after the lock row, in the claim's order): a reset
    # in flight is waited for, and none can slip in before the second step is
    # started with this password (or before a rehash below is written over it).
    current = _held_as_committed(ctx, user)
    refused = _refused_if_changed(ctx, key, scope, current, checked_hash)
    if refused is not None:
        return refused
    assert current is not None  # a deleted account was refused
    if new_hash:
        current.password_hash = new_hash
    if not current.is_active:
        return LoginResult(Outcome.PENDING, user=current, scope=scope)
    return LoginResult(Outcome.SECOND_FACTOR, user=current, scope=scope)  # a code or a passkey


def _claim(
    ctx: Context, user: User, scope: str, checked_hash: str, new_hash: str | None
) -> LoginResult:
    """The lock check, the account check, the success and its audit (login_claim).
    Refused: a lock in force, or an account that changed while argon2 ran, which
    is judged again as it is now."""
    details = {"device": _device(scope), "two_factor": "none"}
    key = user.username_key
    if not login_claim.claim(ctx, user, scope, details, checked_hash):
        held = lockout.hold_lock_row(ctx, key, scope)  # already ours: its end
        if held.until is not None:
            return LoginResult(Outcome.LOCKED, until=held.until, scope=scope)
        current = _as_committed(ctx, user)
        refused = _refused_if_changed(ctx, key, scope, current, checked_hash)
        if refused is not None:
            return refused
        assert current is not None  # a deleted account was refused
        if not current.is_active or current.has_second_factor:  # pending, or 2FA turned on
            return _second_step_or_pending(ctx, current, scope, checked_hash, new_hash)
        # The statement judged the lock at the time it was sent, then may have
        # waited for the row: a lock that ended meanwhile no longer holds it back.
        if not login_claim.claim(ctx, user, scope, details, checked_hash):
            return LoginResult(Outcome.INVALID, scope=scope)  # changed again: refused
    if new_hash:
        user.password_hash = new_hash
    return LoginResult(Outcome.OK, user=user, scope=scope, user_row_held=True)


def _refused_if_changed(
    ctx: Context, key: str, scope: str, current: User | None, checked_hash: str
) -> LoginResult | None:
    """A new password, a disable or a deletion committed while argon2 ran: the
    password was checked against what no longer is, and counts as a failure.
    ``current``: the account as committed now (None: deleted)."""
    same_password = current is not None and current.password_hash == checked_hash
    if current is None or not same_password or current.status == UserStatus.DISABLED:
        return _count_failure(ctx, key, scope, current, same_password)
    return None


def _as_committed(ctx: Context, user: User) -> User | None:
    """``user`` re-read as committed now (None if deleted meanwhile)."""
    try:
        ctx.db.refresh(user)
    except InvalidRequestError:  # its row is gone
        ctx.db.expunge(user)
        return None
    return user


def _held_as_committed(ctx: Context, user: User) -> User | None:
    """``user`` re-read as committed now, its row held until the transaction ends
    (None if deleted meanwhile)."""
    if serial.hold_row(ctx, user, key_share=True):
        return user
    if user in ctx.db:
        ctx.db.expunge(user)
    return None


def _device(scope: str) -> str:
    return "untrusted" if scope == UNTRUSTED_SCOPE else "trusted"


@dataclass(frozen=True)
class _BeforeVerify:
    throttled_until: datetime | None
    locked_until: datetime | None
    user: User | None


def _before_verify_statement(throttle: ColumnElement[Any]) -> Select[Any]:
    # FROM a one-row table, so the row (and the two answers) is there whether or
    # not the username exists; the user comes back as None when it does not
    one_row = select(literal_column("1").label("one")).subquery("one_row")
    return (
        select(
            throttle.label("nth_latest_failure"),
            lockout.LOCK_END.scalar_subquery().label("locked_until"),
            User,
        )
        .select_from(one_row)
        .outerjoin(User, User.username_key == bindparam("username_key"))
    )


# with the network's throttle, and for a trusted device (which no throttle holds)
_BEFORE_VERIFY = _before_verify_statement(lockout.NTH_LATEST_FAILURE.scalar_subquery())
_BEFORE_VERIFY_TRUSTED = _before_verify_statement(null())


def _read_before_verify(ctx: Context, username_key: str, scope: str) -> _BeforeVerify:
    """The network's throttle, the scope's lock and the account, as three lookups
    would find them, in one statement: one round trip instead of three on
    PostgreSQL. They are decided in that order by the caller. Nothing is held:
    the lock is checked again, holding its row, after the slow password check."""
    network = ctx.origin.network if scope == UNTRUSTED_SCOPE else ""
    values = {"username_key": username_key, "scope": scope}
    if network:
        statement = _BEFORE_VERIFY
        values |= lockout.throttle_parameters(ctx, network)
    else:  # no network to count (see network_throttled_until)
        statement = _BEFORE_VERIFY_TRUSTED
    row = ctx.db.execute(statement, values).one()
    return _BeforeVerify(
        throttled_until=lockout.throttle_end(ctx, row.nth_latest_failure),
        locked_until=lockout.lock_in_force(ctx, row.locked_until),
        user=row.User,
    )


def network_throttled_until(ctx: Context, scope: str) -> datetime | None:
    """When the client's network may try again, if it must wait. A browser with a
    device cookie for the username it logs in as is not spraying passwords: it is
    held only by that device's own lock, not by its network's throttle (an office
    behind one address keeps working while someone there sprays)."""
    if scope != UNTRUSTED_SCOPE:
        return None
    return lockout.ip_throttled_until(ctx, ctx.origin.ip)


def succeed(
    ctx: Context, user: User, scope: str, held: lockout.HeldLock, details: dict[str, object]
) -> None:
    if held.exists:  # a scope that never failed has nothing to reset
        lockout.reset_after_success(ctx, user.username_key, scope)
    user.last_login_at = ctx.clock()
    audit.record(
        ctx.acting_as(user.id, user.username),
        Event.LOGIN_SUCCESS,
        target=user,
        details={"device": _device(scope), **details},
    )


def _code_event(match: Match) -> Event:
    return Event.TWO_FACTOR_REPLAY_REFUSED if match is Match.REPLAY else Event.TWO_FACTOR_WRONG_CODE


def count_refusal(
    ctx: Context, user: User, scope: str, reason: str, event: Event, message: str
) -> LoginResult:
    """Count a wrong password or code as a login failure of ``scope``."""
    failure = lockout.record_failure(
        ctx, user.username_key, scope=scope, user=user, reason=reason, event=event
    )
    if failure.locked_until is not None:
        return LoginResult(Outcome.LOCKED, user=user, until=failure.locked_until, scope=scope)
    return LoginResult(Outcome.WRONG_CODE, user=user, scope=scope, message=message)


def hold_unless_refused(ctx: Context, user: User, scope: str) -> lockout.HeldLock | LoginResult:
    """The throttle and lock checks before a code is looked at. The lock row is
    created if need be and held, so parallel guesses for one username and scope
    are judged one after another, each after the failures before it."""
    throttled = network_throttled_until(ctx, scope)
    if throttled is not None:
        return LoginResult(Outcome.THROTTLED, user=user, until=throttled, scope=scope)
    held = lockout.hold_for_attempt(ctx, user.username_key, scope)
    if held.until is not None:
        return LoginResult(Outcome.LOCKED, user=user, until=held.until, scope=scope)
    return held


def password_stamp(user: User) -> str:
    """Which password hash ``user`` has, in short (kept with a half-finished login
    in the session, where the hash itself has no business). Another stamp means
    another hash: a new password, none, or (rarely: after argon2's parameters
    changed, by a parallel login) the same password hashed again."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FirstStep:
    """A login's first step, passed (a right password, or an identity provider's
    answer); the second factor finishes it."""

    user_id: int
    scope: str  # the lockout scope it was judged in
    at: datetime  # when it passed
    password_stamp: str  # of the user as it left them

    @classmethod
    def of(cls, user: User, scope: str, at: datetime) -> FirstStep:
        return cls(user.id, scope, at, password_stamp(user))


def changed_since(user: User, moment: datetime) -> bool:
    """Has the password or the two-factor credential changed after ``moment``?"""
    changes = (user.password_changed_at, user.two_factor_enabled_at, user.passkeys_since)
    return any(changed is not None and changed > moment for changed in changes)


def ready_for_second_step(
    ctx: Context, first: FirstStep, *, codes: bool
) -> tuple[User, lockout.HeldLock] | LoginResult:
    """The user of a login whose ``first`` step passed, and their scope's lock row
    and their own row held, when the second step (with ``codes``, or a passkey)
    may be tried now; otherwise the answer to give."""
    scope = first.scope
    user = accounts.get_user(ctx, first.user_id)
    if user is None or not _may_continue(user, first, codes):
        return LoginResult(Outcome.INVALID, scope=scope)
    held = hold_unless_refused(ctx, user, scope)
    if isinstance(held, LoginResult):
        return held
    # Judged again holding the user's row (after the lock row, in the claim's order):
    # a reset committed since the look above, or still in flight, is seen, and none
    # can commit before this login does (its sessions would outlive the reset).
    if not serial.hold_row(ctx, user, key_share=True) or not _may_continue(user, first, codes):
        return LoginResult(Outcome.INVALID, scope=scope)
    return user, held


def _may_continue(user: User, first: FirstStep, codes: bool) -> bool:
    """Whether the login ``first`` began may go on to its second step for ``user``
    as they are now (with ``codes``, or a passkey)."""
    has_factor = user.has_two_factor if codes else user.has_passkeys
    if not user.is_active or not has_factor:
        return False  # disabled, or the factor removed since the first step
    # A new password (or device) ends logins begun with the old one, as it ends
    # sessions: whoever knew the old password must start again. The hash is
    # compared, not the time of the change: a reset whose clock was read before
    # the first step passed may commit after it.
    return password_stamp(user) == first.password_stamp and not changed_since(user, first.at)


def second_factor(
    ctx: Context, first: FirstStep, code: str, *, recovery: bool = False
) -> LoginResult:
    """The second step of a login whose ``first`` step passed: a code from the
    device, or (``recovery``) one of the user's recovery codes."""
    ready = ready_for_second_step(ctx, first, codes=True)
    if isinstance(ready, LoginResult):
        return ready
    user, held = ready
    scope = first.scope
    if recovery:
        left = mfa.use_recovery_code(ctx, user, code)
        if left is None:
            message = "That is not one of your unused recovery codes."
            event = Event.TWO_FACTOR_WRONG_CODE
            return count_refusal(ctx, user, scope, "recovery_code", event, message)
        succeed(ctx, user, scope, held, {"two_factor": "recovery_code"})
        return LoginResult(Outcome.OK, user=user, scope=scope, recovery_codes_left=left)
    check = mfa.CodeChecker(ctx, user).check(code)
    if not check.ok:
        reason = f"code_{check.verdict.match.value}"
        event = _code_event(check.verdict.match)
        return count_refusal(ctx, user, scope, reason, event, check.message)
    succeed(ctx, user, scope, held, {"two_factor": "code"})
    return LoginResult(Outcome.OK, user=user, scope=scope)


REAUTH_REFUSED = "The password or authentication code is not correct."
PASSKEY_NEEDED = "Confirm it is you with your passkey."


def reauthenticate(
    ctx: Context, user: User, password: str, code: str = "", *, scope: str = UNTRUSTED_SCOPE
) -> LoginResult:
    """Someone logged in proves again that they are ``user``: the password, and a
    code (or a recovery code) when two-factor is set up. Wrong answers count
    toward lockout, and a locked account cannot re-authenticate, so a taken-over
    session cannot be used to guess either."""
    held = hold_unless_refused(ctx, user, scope)
    if isinstance(held, LoginResult):
        return held
    if not ctx.passwords.verify(user.password_hash, password).ok:
        event = Event.LOGIN_FAILURE
        return count_refusal(ctx, user, scope, "reauth_password", event, REAUTH_REFUSED)
    if not user.has_two_factor:
        if user.has_passkeys:
            # a password is one factor; their second is a passkey, asked for instead
            return LoginResult(Outcome.WRONG_CODE, user=user, scope=scope, message=PASSKEY_NEEDED)
        return LoginResult(Outcome.OK, user=user, scope=scope)
    if recovery_codes.looks_like_recovery_code(code):
        left = mfa.use_recovery_code(ctx, user, code)
        if left is None:
            event = Event.TWO_FACTOR_WRONG_CODE
            return count_refusal(ctx, user, scope, "reauth_recovery_code", event, REAUTH_REFUSED)
        return LoginResult(Outcome.OK, user=user, scope=scope, recovery_codes_left=left)
    check = mfa.CodeChecker(ctx, user).check(code)
    if not check.ok:
        message = REAUTH_REFUSED if check.verdict.match is Match.WRONG else check.message
        reason = f"reauth_code_{check.verdict.match.value}"
        return count_refusal(ctx, user, scope, reason, _code_event(check.verdict.match), message)
    return LoginResult(Outcome.OK, user=user, scope=scope)
