"""Logging in with a passkey (PRODUCT §19): as the second step after the password,
and without a password (a discoverable passkey with user verification, which
counts as both factors).

The same rules as codes: the network's throttle and the scope's lock are checked
(and the lock row held) before the passkey is, and a passkey that does not verify
counts as a login failure of that username and scope. A passkey nobody
registered counts toward its network's throttle only: it names no username.
"""

from __future__ import annotations

from collections.abc import Callable

from ..models import UNTRUSTED_SCOPE, User, UserStatus
from . import accounts, audit, lockout, passkeys
from .audit import Event
from .authentication import (
    FirstStep,
    LoginResult,
    Outcome,
    count_refusal,
    hold_unless_refused,
    network_throttled_until,
    ready_for_second_step,
    succeed,
)
from .context import Context
from .passkeys import PasskeyError, RelyingParty

UNKNOWN_PASSKEY = "This passkey is not registered here. Log in with your password."


def second_step(
    ctx: Context, rp: RelyingParty, first: FirstStep, raw_response: str, challenge: str
) -> LoginResult:
    """The second step of a login whose ``first`` step passed: one of the user's
    own passkeys."""
    ready = ready_for_second_step(ctx, first, codes=False)
    if isinstance(ready, LoginResult):
        return ready
    user, held = ready
    scope = first.scope
    try:
        passkey = passkeys.authenticate(ctx, rp, raw_response, challenge, user=user)
    except PasskeyError as refused:
        return count_refusal(ctx, user, scope, "passkey", Event.PASSKEY_REFUSED, str(refused))
    succeed(ctx, user, scope, held, {"two_factor": "passkey"})
    audit.record(ctx, Event.PASSKEY_LOGIN, target=user, details={"name": passkey.name})
    return LoginResult(Outcome.OK, user=user, scope=scope)


def passwordless(
    ctx: Context,
    rp: RelyingParty,
    raw_response: str,
    challenge: str,
    scope_of: Callable[[User], str],
) -> LoginResult:
    """A login with a passkey alone. ``scope_of`` gives the lockout scope for the
    user the passkey names (a trusted device of theirs, or untrusted): as with a
    password, a trusted device is not held by its network's throttle."""
    try:
        user_id = passkeys.owner_of(ctx, raw_response)
    except PasskeyError as unreadable:
        # not a guess at anyone's passkey: malformed input, refused like a
        # malformed username, not counted
        return LoginResult(Outcome.WRONG_CODE, message=str(unreadable))
    user = accounts.get_user(ctx, user_id) if user_id is not None else None
    if user is None or not user.has_passkeys:
        return _unknown_passkey(ctx)
    scope = scope_of(user)
    held = hold_unless_refused(ctx, user, scope)  # the throttle (untrusted) and the lock
    if isinstance(held, LoginResult):
        return held
    try:
        passkey = passkeys.authenticate(ctx, rp, raw_response, challenge)
    except PasskeyError as refused:
        return count_refusal(ctx, user, scope, "passkey", Event.PASSKEY_REFUSED, str(refused))
    if user.status == UserStatus.DISABLED:
        # the right passkey of a disabled account: counted and audited as the
        # right password of one is
        count_refusal(ctx, user, scope, "disabled", Event.PASSKEY_REFUSED, "")
        return LoginResult(Outcome.INVALID, scope=scope)
    if not user.is_active:
        return LoginResult(Outcome.PENDING, user=user, scope=scope)
    succeed(ctx, user, scope, held, {"two_factor": "passkey", "password": "none"})
    audit.record(ctx, Event.PASSKEY_LOGIN, target=user, details={"name": passkey.name})
    return LoginResult(Outcome.OK, user=user, scope=scope)


def _unknown_passkey(ctx: Context) -> LoginResult:
    """A passkey nobody registered here names no username: it counts toward the
    network's throttle only (and is refused once the network must wait)."""
    throttled = network_throttled_until(ctx, UNTRUSTED_SCOPE)
    if throttled is not None:
        return LoginResult(Outcome.THROTTLED, until=throttled)
    lockout.record_network_failure(ctx, "passkey_unknown", Event.PASSKEY_REFUSED)
    return LoginResult(Outcome.WRONG_CODE, message=UNKNOWN_PASSKEY)


def reauthenticate(
    ctx: Context, rp: RelyingParty, user: User, raw_response: str, challenge: str, *, scope: str
) -> LoginResult:
    """Someone logged in proves again that they are ``user`` with one of their
    passkeys, user verification required (the passkey and its PIN or fingerprint
    are two factors). Refusals count toward lockout, as wrong passwords there do."""
    held = hold_unless_refused(ctx, user, scope)
    if isinstance(held, LoginResult):
        return held
    try:
        passkeys.authenticate(ctx, rp, raw_response, challenge, user, require_verification=True)
    except PasskeyError as refused:
        return count_refusal(
            ctx, user, scope, "reauth_passkey", Event.PASSKEY_REFUSED, str(refused)
        )
    return LoginResult(Outcome.OK, user=user, scope=scope)
