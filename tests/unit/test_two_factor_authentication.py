"""The login's second step and re-authentication (PRODUCT §4, §8) at the service level.

A right password for a user with two-factor is not yet a login; wrong codes count
toward the same lockout as wrong passwords.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from camauth.db import make_session_factory
from camauth.models import UNTRUSTED_SCOPE, LoginFailure, TwoFactorCredential, User, UserStatus
from camauth.services import accounts, audit, invitations, lockout, mfa
from camauth.services.audit import Event
from camauth.services.authentication import (
    REAUTH_REFUSED,
    FirstStep,
    LoginResult,
    Outcome,
    authenticate,
    reauthenticate,
    second_factor,
)
from camauth.services.passwords import Passwords

from ..conftest import GOOD_PASSWORD
from .conftest import ATTACKER_IP, USER_IP, add_user, failure_rows, from_ip, with_settings
from .test_lockout_in_flight import blocked_on_a_row_lock

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
WRONG_PASSWORD = "not the password at all"
NEW_PASSWORD = "maple orbit lantern quietly"
OTHER_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
DEVICE = "device-0123456789abcdef"
APP = pyotp.TOTP(SECRET)


def code_now(clock, steps=0) -> str:
    """What the person's app shows (``steps`` steps off)."""
    return APP.at(clock() + timedelta(seconds=30 * steps))


def wrong_code(clock) -> str:
    """A code no step near now has."""
    nearby = {code_now(clock, steps) for steps in range(-10, 11)}
    return next(c for c in (f"{n:06d}" for n in range(1_000_000)) if c not in nearby)


def next_request(ctx):
    ctx.db.commit()
    ctx.db.expire_all()


def with_two_factor(ctx, clock, username="alice", **kw):
    """A user who enrolled an app; the enrolling step is over, the codes are returned."""
    user = add_user(ctx, username, **kw)
    codes = mfa.enrol_app(ctx, user, SECRET, code_now(clock))
    next_request(ctx)
    clock.advance(minutes=1)
    return user, codes


def last_step(ctx, user) -> int:
    return ctx.db.scalar(
        select(TwoFactorCredential.last_step).where(TwoFactorCredential.user_id == user.id)
    )


def reasons(ctx) -> list[str]:
    return list(ctx.db.scalars(select(LoginFailure.reason).order_by(LoginFailure.id)).all())


def events(ctx, event) -> list:
    return list(reversed(audit.events(ctx, event=event)))


def password_step(ctx, username="alice", password=GOOD_PASSWORD) -> FirstStep:
    """The login's first step, right: what the second step continues."""
    result = authenticate(ctx, username, password)
    assert result.outcome is Outcome.SECOND_FACTOR
    first = FirstStep.of(result.user, result.scope, ctx.clock())
    next_request(ctx)
    return first


def code_step(ctx, user, code, *, scope=UNTRUSTED_SCOPE, recovery=False, first=None):
    """The second step of the login whose ``first`` step passed (by default: one
    that passed just now)."""
    first = first or FirstStep.of(user, scope, ctx.clock())
    result = second_factor(ctx, first, code, recovery=recovery)
    next_request(ctx)
    return result


# --- the password step ------------------------------------------------------------


def test_right_password_asks_for_a_code_and_is_not_yet_a_login(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    result = authenticate(from_ip(ctx, USER_IP), "alice", GOOD_PASSWORD)
    assert result == LoginResult(Outcome.SECOND_FACTOR, user=user, scope=UNTRUSTED_SCOPE)
    assert user.last_login_at is None
    assert events(ctx, Event.LOGIN_SUCCESS) == []


def test_right_password_does_not_reset_the_failure_count(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    for _ in range(9):
        assert authenticate(ctx, "alice", WRONG_PASSWORD).outcome is Outcome.INVALID
    first = password_step(ctx)
    assert lockout.current_failures(ctx, "alice") == 9
    # so the tenth failure, a wrong code, locks
    result = code_step(ctx, user, wrong_code(clock), first=first)
    assert result.outcome is Outcome.LOCKED
    assert result.until == clock() + timedelta(minutes=10)
    # and the lock holds against the password step too
    assert authenticate(ctx, "alice", GOOD_PASSWORD).outcome is Outcome.LOCKED


def test_right_password_over_and_over_does_not_unlock_code_guessing(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    for _ in range(3):
        for _ in range(3):
            code_step(ctx, user, wrong_code(clock))
        password_step(ctx)
    assert lockout.current_failures(ctx, "alice") == 9


def test_wrong_password_of_a_two_factor_user_is_just_invalid(ctx, clock):
    with_two_factor(ctx, clock)
    assert authenticate(ctx, "alice", WRONG_PASSWORD) == LoginResult(Outcome.INVALID)


# --- the code step -----------------------------------------------------------------


def test_right_code_logs_in_and_resets_the_count(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    for _ in range(4):
        authenticate(ctx, "alice", WRONG_PASSWORD)
    first = password_step(ctx)
    clock.advance(seconds=40)
    result = code_step(from_ip(ctx, USER_IP), user, code_now(clock), first=first)
    assert result == LoginResult(Outcome.OK, user=user, scope=UNTRUSTED_SCOPE)
    assert lockout.current_failures(ctx, "alice") == 0
    assert user.last_login_at == clock()
    [success] = events(ctx, Event.LOGIN_SUCCESS)
    assert success.target_id == success.actor_id == user.id
    assert success.ip == USER_IP
    assert success.details["two_factor"] == "code"
    assert last_step(ctx, user) == int(clock().timestamp()) // 30


def test_code_with_spaces_and_one_step_either_side_logs_in(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    code = code_now(clock, -1)
    assert code_step(ctx, user, f"{code[:3]} {code[3:]}").outcome is Outcome.OK
    clock.advance(minutes=1)
    assert code_step(ctx, user, code_now(clock, 1)).outcome is Outcome.OK


def test_wrong_codes_count_as_failures_and_lock_at_the_threshold(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    password_step(ctx)
    for failures in range(1, 10):
        result = code_step(from_ip(ctx, USER_IP), user, wrong_code(clock))
        assert result.outcome is Outcome.WRONG_CODE
        assert result.user is user
        assert result.message == "That code is not correct."
        assert lockout.current_failures(ctx, "alice") == failures
    result = code_step(from_ip(ctx, USER_IP), user, wrong_code(clock))
    assert result.outcome is Outcome.LOCKED
    assert result.until == clock() + timedelta(minutes=10)
    wrong = events(ctx, Event.TWO_FACTOR_WRONG_CODE)
    assert len(wrong) == 10
    assert all(e.target_id == user.id and e.ip == USER_IP for e in wrong)
    assert {e.details["reason"] for e in wrong} == {"code_wrong"}
    assert events(ctx, Event.LOGIN_FAILURE) == []
    [locked] = events(ctx, Event.LOCKOUT)
    assert locked.details["failures"] == 10
    assert reasons(ctx) == ["code_wrong"] * 10


def test_wrong_passwords_and_wrong_codes_add_up(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    for _ in range(5):
        authenticate(ctx, "alice", WRONG_PASSWORD)
    password_step(ctx)
    for _ in range(4):
        assert code_step(ctx, user, wrong_code(clock)).outcome is Outcome.WRONG_CODE
    result = code_step(ctx, user, wrong_code(clock))
    assert (result.outcome, result.until) == (Outcome.LOCKED, clock() + timedelta(minutes=10))


def test_a_locked_scope_refuses_even_the_right_code(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    password_step(ctx)
    for _ in range(10):
        locked = code_step(ctx, user, wrong_code(clock))
    assert locked.outcome is Outcome.LOCKED
    before = (last_step(ctx, user), failure_rows(ctx))
    clock.advance(minutes=9, seconds=59)
    code = code_now(clock)
    refused = code_step(ctx, user, code)
    assert refused.outcome is Outcome.LOCKED
    assert refused.until == locked.until
    # neither used up nor counted nor a login
    assert (last_step(ctx, user), failure_rows(ctx)) == before
    assert events(ctx, Event.LOGIN_SUCCESS) == []
    assert user.last_login_at is None
    clock.advance(seconds=1)  # the lock is over; the same step's code still works
    assert code_step(ctx, user, code).outcome is Outcome.OK


def test_a_locked_scope_refuses_a_recovery_code_without_spending_it(ctx, clock):
    user, codes = with_two_factor(ctx, clock)
    for _ in range(10):
        authenticate(ctx, "alice", WRONG_PASSWORD)
    refused = code_step(ctx, user, codes[0], recovery=True)
    assert refused.outcome is Outcome.LOCKED
    assert mfa.use_recovery_code(ctx, user, codes[0]) == 9


def test_a_replayed_code_is_refused_audited_and_counted(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    code = code_now(clock)
    assert code_step(ctx, user, code).outcome is Outcome.OK
    clock.advance(seconds=10)  # someone who saw it types it within the same step
    result = code_step(from_ip(ctx, ATTACKER_IP), user, code)
    assert result.outcome is Outcome.WRONG_CODE
    assert "already been used" in result.message
    [replay] = events(ctx, Event.TWO_FACTOR_REPLAY_REFUSED)
    assert replay.target_id == user.id
    assert replay.ip == ATTACKER_IP
    assert replay.details["reason"] == "code_replay"
    assert events(ctx, Event.TWO_FACTOR_WRONG_CODE) == []
    assert lockout.current_failures(ctx, "alice") == 1
    assert len(events(ctx, Event.LOGIN_SUCCESS)) == 1


def test_a_code_from_a_phone_with_its_clock_off_gets_the_hint_and_counts(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    result = code_step(ctx, user, code_now(clock, 4))
    assert result.outcome is Outcome.WRONG_CODE
    assert "clock" in result.message
    assert lockout.current_failures(ctx, "alice") == 1
    assert reasons(ctx) == ["code_clock_off"]
    [wrong] = events(ctx, Event.TWO_FACTOR_WRONG_CODE)
    assert wrong.details["reason"] == "code_clock_off"


def test_wrong_codes_of_a_trusted_device_lock_only_that_device(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    for _ in range(10):
        code_step(ctx, user, wrong_code(clock), scope=DEVICE)
    assert lockout.locked_until(ctx, "alice", DEVICE) == clock() + timedelta(minutes=10)
    assert lockout.locked_until(ctx, "alice", UNTRUSTED_SCOPE) is None
    assert code_step(ctx, user, code_now(clock), scope=DEVICE).outcome is Outcome.LOCKED
    assert code_step(ctx, user, code_now(clock)).outcome is Outcome.OK


def test_a_trusted_device_logs_in_while_untrusted_clients_are_locked(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    for _ in range(10):
        authenticate(from_ip(ctx, ATTACKER_IP), "alice", WRONG_PASSWORD)
    assert authenticate(ctx, "alice", GOOD_PASSWORD, trusted_device=DEVICE).outcome is (
        Outcome.SECOND_FACTOR
    )
    result = code_step(ctx, user, code_now(clock), scope=DEVICE)
    assert result == LoginResult(Outcome.OK, user=user, scope=DEVICE)
    [success] = events(ctx, Event.LOGIN_SUCCESS)
    assert success.details["device"] == "trusted"
    # the attacker's lock stays where it was
    assert lockout.current_failures(ctx, "alice") == 10
    assert lockout.locked_until(ctx, "alice", UNTRUSTED_SCOPE) is not None


def test_a_throttled_ip_is_refused_before_the_code_is_looked_at(ctx, clock):
    ctx = with_settings(ctx, lockout_ip_threshold=3)
    user, _ = with_two_factor(ctx, clock)
    attacker = from_ip(ctx, ATTACKER_IP)
    for name in ("bob", "carol", "dave", "erin"):
        authenticate(attacker, name, WRONG_PASSWORD)
    before = (last_step(ctx, user), failure_rows(ctx))
    result = code_step(attacker, user, code_now(clock))
    assert result.outcome is Outcome.THROTTLED
    assert result.until is not None
    assert (last_step(ctx, user), failure_rows(ctx)) == before
    # from the person's own address the same code works
    assert code_step(from_ip(ctx, USER_IP), user, code_now(clock)).outcome is Outcome.OK


def test_wrong_codes_count_toward_the_ip_throttle(ctx, clock):
    ctx = with_settings(ctx, lockout_ip_threshold=3)
    user, _ = with_two_factor(ctx, clock)
    attacker = from_ip(ctx, ATTACKER_IP)
    for _ in range(4):
        assert code_step(attacker, user, wrong_code(clock)).outcome is Outcome.WRONG_CODE
    assert code_step(attacker, user, wrong_code(clock)).outcome is Outcome.THROTTLED
    assert authenticate(attacker, "bob", WRONG_PASSWORD).outcome is Outcome.THROTTLED


# --- recovery codes at login ---------------------------------------------------------


def test_a_recovery_code_logs_in_once(ctx, clock):
    user, codes = with_two_factor(ctx, clock)
    for _ in range(3):
        authenticate(ctx, "alice", WRONG_PASSWORD)
    first = password_step(ctx)
    result = code_step(ctx, user, codes[2].lower(), recovery=True, first=first)
    assert result == LoginResult(
        Outcome.OK, user=user, scope=UNTRUSTED_SCOPE, recovery_codes_left=9
    )
    assert lockout.current_failures(ctx, "alice") == 0
    assert user.last_login_at == clock()
    [success] = events(ctx, Event.LOGIN_SUCCESS)
    assert success.details["two_factor"] == "recovery_code"
    [used] = events(ctx, Event.RECOVERY_CODE_USED)
    assert used.details["remaining"] == 9

    clock.advance(seconds=5)
    again = code_step(ctx, user, codes[2], recovery=True)
    assert again.outcome is Outcome.WRONG_CODE
    assert "recovery code" in again.message
    assert lockout.current_failures(ctx, "alice") == 1
    assert reasons(ctx)[-1] == "recovery_code"
    assert events(ctx, Event.TWO_FACTOR_WRONG_CODE)[-1].details["reason"] == "recovery_code"


def test_wrong_recovery_codes_lock_like_wrong_codes(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    for _ in range(9):
        result = code_step(ctx, user, "0000-0000-0000-0000", recovery=True)
        assert result.outcome is Outcome.WRONG_CODE
    result = code_step(ctx, user, "not even a code", recovery=True)
    assert result.outcome is Outcome.LOCKED


def test_codes_go_on_their_own_form(ctx, clock):
    user, codes = with_two_factor(ctx, clock)
    assert code_step(ctx, user, code_now(clock), recovery=True).outcome is Outcome.WRONG_CODE
    assert code_step(ctx, user, codes[0]).outcome is Outcome.WRONG_CODE
    assert lockout.current_failures(ctx, "alice") == 2


# --- who may take the second step ---------------------------------------------------------


@pytest.mark.parametrize(
    "status", [UserStatus.DISABLED, UserStatus.PENDING_APPROVAL, UserStatus.PENDING_EMAIL]
)
def test_a_user_no_longer_active_after_the_password_step_is_refused(ctx, clock, status):
    user, codes = with_two_factor(ctx, clock)
    password_step(ctx)
    before = failure_rows(ctx)
    accounts.set_status(ctx, user, status)
    next_request(ctx)
    assert code_step(ctx, user, code_now(clock)) == LoginResult(Outcome.INVALID)
    assert code_step(ctx, user, codes[0], recovery=True) == LoginResult(Outcome.INVALID)
    assert events(ctx, Event.LOGIN_SUCCESS) == []
    assert user.last_login_at is None
    assert failure_rows(ctx) == before
    assert mfa.use_recovery_code(ctx, user, codes[0]) == 9  # not spent


def test_two_factor_removed_after_the_password_step_is_refused(ctx, clock):
    user, codes = with_two_factor(ctx, clock)
    password_step(ctx)
    mfa.remove(ctx, user)
    next_request(ctx)
    assert code_step(ctx, user, code_now(clock)) == LoginResult(Outcome.INVALID)
    assert code_step(ctx, user, codes[0], recovery=True) == LoginResult(Outcome.INVALID)
    assert events(ctx, Event.LOGIN_SUCCESS) == []


def test_a_user_without_two_factor_cannot_use_the_second_step(ctx, clock):
    user = add_user(ctx)
    assert code_step(ctx, user, code_now(clock)) == LoginResult(Outcome.INVALID)
    assert events(ctx, Event.LOGIN_SUCCESS) == []


def test_a_deleted_user_is_refused(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    first = FirstStep.of(user, "", clock())
    accounts.delete_user(ctx, user)
    next_request(ctx)
    result = second_factor(ctx, first, code_now(clock))
    assert result == LoginResult(Outcome.INVALID)


def test_a_rehash_at_the_password_step_is_not_a_password_change(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    older = Passwords(replace(ctx.settings, password_argon2_time_cost=3))
    old_hash = older.hash(GOOD_PASSWORD)
    user.password_hash = old_hash
    next_request(ctx)
    changed_at = user.password_changed_at
    clock.advance(minutes=1)
    first = password_step(ctx)
    assert user.password_hash != old_hash  # rehashed with the current parameters
    assert user.password_changed_at == changed_at  # the same password, as old as it was
    clock.advance(seconds=20)
    assert code_step(ctx, user, code_now(clock), first=first).outcome is Outcome.OK


def test_a_password_changed_after_the_password_step_ends_that_login(ctx, clock):
    user, codes = with_two_factor(ctx, clock)
    first = password_step(ctx)
    clock.advance(seconds=30)
    accounts.set_password(ctx, user, NEW_PASSWORD)
    next_request(ctx)
    before = (last_step(ctx, user), failure_rows(ctx))
    for code, recovery in [(code_now(clock), False), (codes[0], True)]:
        result = code_step(ctx, user, code, recovery=recovery, first=first)
        assert result == LoginResult(Outcome.INVALID)
    # nothing used up, nothing counted, no login
    assert (last_step(ctx, user), failure_rows(ctx)) == before
    assert mfa.use_recovery_code(ctx, user, codes[1]) == 9
    assert events(ctx, Event.LOGIN_SUCCESS) == []
    # a login begun with the new password goes through
    clock.advance(seconds=1)
    first = password_step(ctx, password=NEW_PASSWORD)
    assert code_step(ctx, user, code_now(clock), first=first).outcome is Outcome.OK


def test_a_password_reset_stamped_no_later_than_the_password_step_still_ends_it(ctx, clock):
    """A reset reads its clock before it commits: one in flight while the password
    step passes carries a time no later than that step's, and still ends the login
    (the clock stands still here, so both have the same time)."""
    user, _ = with_two_factor(ctx, clock)
    first = password_step(ctx)
    accounts.set_password(ctx, user, NEW_PASSWORD)
    next_request(ctx)
    assert user.password_changed_at == first.at  # no later than the password step
    assert code_step(ctx, user, code_now(clock), first=first) == LoginResult(Outcome.INVALID)
    assert events(ctx, Event.LOGIN_SUCCESS) == []


def test_a_password_taken_away_by_an_administrator_ends_it(ctx, clock):
    """A reset by invitation removes the password (no new one yet, and no change
    time): the half-finished login of the old one ends all the same."""
    user, _ = with_two_factor(ctx, clock, email="alice@example.org")
    first = password_step(ctx)
    clock.advance(seconds=30)
    invitations.invite(ctx, user, reset=True)
    next_request(ctx)
    assert user.password_hash is None
    assert code_step(ctx, user, code_now(clock), first=first) == LoginResult(Outcome.INVALID)


class ResetInFlight:
    """Another request resets alice's password and holds her row uncommitted; it
    commits once ``worker`` waits for a row lock (or has finished)."""

    def __init__(self, ctx, user) -> None:
        self.other = replace(ctx, db=make_session_factory(ctx.db.get_bind())())
        other_user = self.other.db.get(User, user.id)
        accounts.set_password(self.other, other_user, NEW_PASSWORD)
        self.other.db.flush()
        self.waited = False
        worker = threading.current_thread()
        self.committer = threading.Thread(target=self._commit_once_waited, args=(ctx, worker))
        self.committer.start()

    def _commit_once_waited(self, ctx, worker) -> None:
        self.waited = blocked_on_a_row_lock(ctx, worker)
        self.other.db.commit()
        self.other.db.close()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite: one writer
def test_the_code_step_waits_for_a_reset_in_flight_and_is_refused(ctx, clock):
    """A reset that has not committed when the code is checked: the step waits for
    the user's row, then judges the account as the reset left it."""
    user, _ = with_two_factor(ctx, clock)
    first = password_step(ctx)
    clock.advance(seconds=20)
    reset = ResetInFlight(ctx, user)
    result = code_step(ctx, user, code_now(clock), first=first)
    reset.committer.join(timeout=30)
    assert reset.waited
    assert result == LoginResult(Outcome.INVALID)
    assert events(ctx, Event.LOGIN_SUCCESS) == []


def test_two_factor_set_up_anew_after_the_password_step_ends_that_login(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    first = password_step(ctx)
    clock.advance(seconds=30)
    mfa.remove(ctx, user)
    mfa.enrol_app(ctx, user, OTHER_SECRET, pyotp.TOTP(OTHER_SECRET).at(clock()))
    next_request(ctx)
    clock.advance(seconds=30)
    new_code = pyotp.TOTP(OTHER_SECRET).at(clock())
    result = code_step(ctx, user, new_code, first=first)
    assert result == LoginResult(Outcome.INVALID)
    assert events(ctx, Event.LOGIN_SUCCESS) == []
    first = password_step(ctx)
    assert code_step(ctx, user, new_code, first=first).outcome is Outcome.OK


# --- re-authentication -------------------------------------------------------------


def reauth(ctx, user, password=GOOD_PASSWORD, code="", **kw):
    result = reauthenticate(ctx, user, password, code, **kw)
    next_request(ctx)
    return result


def test_reauthenticate_with_password_and_code(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    code = code_now(clock)
    assert reauth(ctx, user, code=code) == LoginResult(Outcome.OK, user=user)
    assert last_step(ctx, user) == int(clock().timestamp()) // 30
    # the code is used up
    replayed = reauth(ctx, user, code=code)
    assert replayed.outcome is Outcome.WRONG_CODE
    assert "already been used" in replayed.message
    assert [e.details["reason"] for e in events(ctx, Event.TWO_FACTOR_REPLAY_REFUSED)] == [
        "reauth_code_replay"
    ]


def test_reauthenticate_with_a_wrong_password_does_not_spend_the_code(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    before = last_step(ctx, user)
    result = reauth(ctx, user, WRONG_PASSWORD, code_now(clock))
    assert result == LoginResult(
        Outcome.WRONG_CODE, user=user, scope=UNTRUSTED_SCOPE, message=REAUTH_REFUSED
    )
    assert last_step(ctx, user) == before
    assert lockout.current_failures(ctx, "alice") == 1
    [failure] = events(ctx, Event.LOGIN_FAILURE)
    assert failure.details["reason"] == "reauth_password"
    assert reauth(ctx, user, code=code_now(clock)).outcome is Outcome.OK


@pytest.mark.parametrize("which", ["wrong", "empty", "other_form"])
def test_reauthenticate_with_a_wrong_code(ctx, clock, which):
    user, _ = with_two_factor(ctx, clock)
    code = {"wrong": wrong_code(clock), "empty": "", "other_form": "12345678"}[which]
    result = reauth(ctx, user, code=code)
    assert result.outcome is Outcome.WRONG_CODE
    assert result.message == REAUTH_REFUSED
    assert lockout.current_failures(ctx, "alice") == 1
    [wrong] = events(ctx, Event.TWO_FACTOR_WRONG_CODE)
    assert wrong.details["reason"] == "reauth_code_wrong"


def test_reauthenticate_with_a_recovery_code(ctx, clock):
    user, codes = with_two_factor(ctx, clock)
    result = reauth(ctx, user, code=codes[5])
    assert result == LoginResult(Outcome.OK, user=user, recovery_codes_left=9)
    again = reauth(ctx, user, code=codes[5])
    assert (again.outcome, again.message) == (Outcome.WRONG_CODE, REAUTH_REFUSED)
    assert lockout.current_failures(ctx, "alice") == 1
    assert reasons(ctx) == ["reauth_recovery_code"]


def test_reauthenticate_when_locked_is_refused_without_looking(ctx, clock):
    user, codes = with_two_factor(ctx, clock)
    for _ in range(10):
        authenticate(ctx, "alice", WRONG_PASSWORD)
    before = (last_step(ctx, user), failure_rows(ctx))
    for code in (code_now(clock), codes[0]):
        result = reauth(ctx, user, code=code)
        assert result.outcome is Outcome.LOCKED
        assert result.until == clock() + timedelta(minutes=10)
    assert (last_step(ctx, user), failure_rows(ctx)) == before
    assert mfa.use_recovery_code(ctx, user, codes[0]) == 9


def test_reauthentication_failures_lock(ctx, clock):
    user, _ = with_two_factor(ctx, clock)
    for _ in range(5):
        reauth(ctx, user, WRONG_PASSWORD, code_now(clock))
    for _ in range(4):
        assert reauth(ctx, user, code=wrong_code(clock)).outcome is Outcome.WRONG_CODE
    result = reauth(ctx, user, code=wrong_code(clock))
    assert (result.outcome, result.until) == (Outcome.LOCKED, clock() + timedelta(minutes=10))
    # and the login is locked as well
    assert authenticate(ctx, "alice", GOOD_PASSWORD).outcome is Outcome.LOCKED


def test_reauthenticate_without_two_factor_needs_only_the_password(ctx, clock):
    user = add_user(ctx)
    assert reauth(ctx, user) == LoginResult(Outcome.OK, user=user)
    assert reauth(ctx, user, WRONG_PASSWORD).outcome is Outcome.WRONG_CODE
    assert lockout.current_failures(ctx, "alice") == 1
