"""Lockout per username and client scope (PRODUCT §4), driven through authenticate()."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from camauth.models import UNTRUSTED_SCOPE, LoginFailure
from camauth.services import audit, lockout
from camauth.services.audit import Event
from camauth.services.authentication import Outcome, authenticate

from ..conftest import GOOD_PASSWORD
from .conftest import ATTACKER_IP, add_user, failure_rows, from_ip, with_settings

WRONG = "not the password at all"
DEVICE = "device-0123456789abcdef"


def fail(ctx, username="alice", times=1, **kw):
    """``times`` wrong-password attempts; returns the last result."""
    result = None
    for _ in range(times):
        result = authenticate(ctx, username, WRONG, **kw)
    return result


@pytest.mark.parametrize(
    ("failures", "minutes"),
    [(1, 0), (9, 0), (10, 10), (11, 0), (19, 0), (20, 20), (30, 30), (1440, 1440), (1450, 1440)],
)
def test_lock_minutes_formula_with_defaults(ctx, failures, minutes):
    assert lockout.lock_minutes(ctx, failures) == minutes


def test_tenth_twentieth_thirtieth_failures_lock_for_10_20_30_minutes(ctx, clock):
    add_user(ctx)
    for expected_minutes in (10, 20, 30):
        assert fail(ctx, times=9).outcome is Outcome.INVALID
        result = fail(ctx)
        assert result.outcome is Outcome.LOCKED
        assert result.until == clock() + timedelta(minutes=expected_minutes)
        clock.advance(minutes=expected_minutes - 1)
        assert authenticate(ctx, "alice", GOOD_PASSWORD).outcome is Outcome.LOCKED
        clock.advance(minutes=1)
    assert lockout.current_failures(ctx, "alice") == 30
    assert authenticate(ctx, "alice", GOOD_PASSWORD).outcome is Outcome.OK


def test_lock_length_is_capped_at_max_lockout_minutes(ctx, clock):
    ctx = with_settings(
        ctx, lockout_threshold=2, lockout_increment_minutes=10, lockout_max_lockout_minutes=25
    )
    add_user(ctx)
    lengths = []
    for _ in range(4):
        fail(ctx)
        result = fail(ctx)
        assert result.outcome is Outcome.LOCKED
        lengths.append(result.until - clock())
        clock.advance(minutes=30)
    assert lengths == [timedelta(minutes=m) for m in (10, 20, 25, 25)]


def test_failures_older_than_the_window_no_longer_count(ctx, clock):
    add_user(ctx)
    fail(ctx, times=9)
    clock.advance(hours=24)
    assert fail(ctx).outcome is Outcome.INVALID
    assert lockout.current_failures(ctx, "alice") == 1


def test_failures_inside_the_window_still_count(ctx, clock):
    add_user(ctx)
    fail(ctx, times=9)
    clock.advance(hours=23, minutes=59)
    assert fail(ctx).outcome is Outcome.LOCKED


class CountingPasswords:
    """Wraps the real Passwords and counts verifications."""

    def __init__(self, inner):
        self.inner = inner
        self.verified = 0

    def verify(self, stored_hash, password):
        self.verified += 1
        return self.inner.verify(stored_hash, password)

    def hash(self, password):
        return self.inner.hash(password)


def test_attempts_while_locked_neither_check_the_password_nor_count(ctx, clock):
    add_user(ctx)
    result = fail(ctx, times=10)
    assert result.outcome is Outcome.LOCKED
    counting = CountingPasswords(ctx.passwords)
    ctx = replace(ctx, passwords=counting)
    rows = failure_rows(ctx)

    for password in (WRONG, GOOD_PASSWORD):
        refused = authenticate(ctx, "alice", password)
        assert refused.outcome is Outcome.LOCKED
        assert refused.until == result.until
        assert refused.user is None
    assert counting.verified == 0
    assert failure_rows(ctx) == rows
    assert lockout.current_failures(ctx, "alice") == 10


def test_success_resets_the_count(ctx, clock):
    add_user(ctx)
    fail(ctx, times=9)
    assert authenticate(ctx, "alice", GOOD_PASSWORD).outcome is Outcome.OK
    assert lockout.current_failures(ctx, "alice") == 0
    clock.advance(seconds=1)
    assert fail(ctx, times=9).outcome is Outcome.INVALID
    assert fail(ctx).outcome is Outcome.LOCKED


def test_success_on_a_trusted_device_does_not_reset_the_untrusted_count(ctx):
    add_user(ctx)
    fail(ctx, times=9)
    ok = authenticate(ctx, "alice", GOOD_PASSWORD, trusted_device=DEVICE)
    assert ok.outcome is Outcome.OK
    assert ok.scope == DEVICE
    assert fail(ctx).outcome is Outcome.LOCKED


def test_untrusted_lockout_does_not_apply_to_a_trusted_device(ctx):
    add_user(ctx)
    attacker = from_ip(ctx, ATTACKER_IP)
    assert fail(attacker, times=10).outcome is Outcome.LOCKED
    assert authenticate(ctx, "alice", GOOD_PASSWORD).outcome is Outcome.LOCKED
    result = authenticate(ctx, "alice", GOOD_PASSWORD, trusted_device=DEVICE)
    assert result.outcome is Outcome.OK
    assert result.user is not None
    assert result.user.username == "alice"


def test_a_trusted_device_reaching_the_threshold_is_locked_itself(ctx, clock):
    add_user(ctx)
    assert fail(ctx, times=9, trusted_device=DEVICE).outcome is Outcome.INVALID
    locked = fail(ctx, trusted_device=DEVICE)
    assert locked.outcome is Outcome.LOCKED
    assert locked.until == clock() + timedelta(minutes=10)
    assert authenticate(ctx, "alice", GOOD_PASSWORD, trusted_device=DEVICE).outcome is (
        Outcome.LOCKED
    )
    # neither the untrusted clients nor another device share that lock or count
    assert lockout.current_failures(ctx, "alice", UNTRUSTED_SCOPE) == 0
    assert authenticate(ctx, "alice", GOOD_PASSWORD).outcome is Outcome.OK
    other = authenticate(ctx, "alice", GOOD_PASSWORD, trusted_device="another-device")
    assert other.outcome is Outcome.OK


def test_unlock_clears_every_scope_and_the_count(ctx, clock):
    user = add_user(ctx)
    fail(ctx, times=10)
    fail(ctx, times=10, trusted_device=DEVICE)
    cleared = lockout.unlock(ctx, "alice", user)
    assert cleared == 2
    assert lockout.locked_until(ctx, "alice", UNTRUSTED_SCOPE) is None
    assert lockout.locked_until(ctx, "alice", DEVICE) is None
    assert lockout.current_failures(ctx, "alice", UNTRUSTED_SCOPE) == 0
    assert lockout.current_failures(ctx, "alice", DEVICE) == 0
    # the count starts again from nothing: the tenth failure from now locks again
    clock.advance(seconds=1)
    assert fail(ctx, times=9).outcome is Outcome.INVALID
    assert fail(ctx).outcome is Outcome.LOCKED


def test_unlock_leaves_other_usernames_locked(ctx):
    add_user(ctx)
    add_user(ctx, "bob")
    fail(ctx, "alice", times=10)
    fail(ctx, "bob", times=10)
    lockout.unlock(ctx, "alice")
    assert authenticate(ctx, "alice", GOOD_PASSWORD).outcome is Outcome.OK
    assert authenticate(ctx, "bob", GOOD_PASSWORD).outcome is Outcome.LOCKED


def test_unknown_usernames_are_recorded_and_locked_like_real_ones(ctx, clock):
    add_user(ctx)
    real = [fail(ctx, "alice").outcome for _ in range(10)]
    ghost = [fail(ctx, "ghost").outcome for _ in range(10)]
    assert real == ghost == [Outcome.INVALID] * 9 + [Outcome.LOCKED]
    assert failure_rows(ctx, "ghost") == 10
    assert lockout.locked_until(ctx, "ghost", UNTRUSTED_SCOPE) == clock() + timedelta(minutes=10)


def test_usernames_are_counted_case_insensitively(ctx):
    add_user(ctx, "Alice")
    for name in ("alice", "ALICE", " Alice ", "aLiCe", "alice"):
        fail(ctx, name, times=2)
    assert lockout.current_failures(ctx, "alice") == 10
    assert authenticate(ctx, "Alice", GOOD_PASSWORD).outcome is Outcome.LOCKED


def test_ip_throttle_across_usernames_and_its_end(ctx, clock):
    ctx = with_settings(ctx, lockout_ip_threshold=5, lockout_ip_window_minutes=15)
    add_user(ctx)
    sprayer = from_ip(ctx, ATTACKER_IP)
    first = clock()
    for name in ("u1", "u2", "u3", "u4"):
        assert fail(sprayer, name).outcome is Outcome.INVALID
        clock.advance(minutes=1)
    assert fail(sprayer, "u5").outcome is Outcome.INVALID
    # at the threshold (5) the address may still try: only *more than* 5 make it wait
    assert fail(sprayer, "u6").outcome is Outcome.INVALID

    rows = failure_rows(ctx)
    throttled = authenticate(sprayer, "alice", GOOD_PASSWORD)
    assert throttled.outcome is Outcome.THROTTLED
    assert throttled.until == first + timedelta(minutes=15)
    assert failure_rows(ctx) == rows  # a throttled attempt is not another failure
    # other addresses are not affected
    assert authenticate(from_ip(ctx, "192.0.2.1"), "alice", GOOD_PASSWORD).outcome is Outcome.OK

    clock.now = throttled.until - timedelta(seconds=1)
    assert authenticate(sprayer, "alice", GOOD_PASSWORD).outcome is Outcome.THROTTLED
    clock.now = throttled.until
    assert authenticate(sprayer, "alice", GOOD_PASSWORD).outcome is Outcome.OK


def test_ip_below_threshold_is_not_throttled(ctx):
    ctx = with_settings(ctx, lockout_ip_threshold=5)
    add_user(ctx)
    sprayer = from_ip(ctx, ATTACKER_IP)
    for name in ("u1", "u2", "u3", "u4", "u5"):
        fail(sprayer, name)
    assert authenticate(sprayer, "alice", GOOD_PASSWORD).outcome is Outcome.OK


def test_failure_lockout_and_unlock_are_audited(ctx, clock):
    user = add_user(ctx)
    attacker = from_ip(ctx, ATTACKER_IP)
    fail(attacker, times=10)
    lockout.unlock(ctx.acting_as(None, "system"), "alice", user)
    ctx.db.flush()

    failures = audit.events(ctx, event=Event.LOGIN_FAILURE)
    assert len(failures) == 10
    assert all(row.target_id == user.id and row.ip == ATTACKER_IP for row in failures)
    [locked] = audit.events(ctx, event=Event.LOCKOUT)
    assert locked.target_name == "alice"
    assert locked.details["failures"] == 10
    assert locked.details["minutes"] == 10
    assert locked.details["until"] == (clock() + timedelta(minutes=10)).isoformat()
    [unlocked] = audit.events(ctx, event=Event.UNLOCK)
    assert unlocked.target_id == user.id
    assert unlocked.actor_name == "system"


def test_failure_rows_record_who_and_from_where(ctx, clock):
    add_user(ctx)
    fail(from_ip(ctx, ATTACKER_IP, user_agent="curl/8"), " ALICE ")
    fail(ctx, "nobody")
    rows = {row.username_key: row for row in ctx.db.scalars(select(LoginFailure))}
    assert rows["alice"].ip == ATTACKER_IP
    assert rows["alice"].user_agent == "curl/8"
    assert rows["alice"].user_exists is True
    assert rows["alice"].created_at == clock()
    assert rows["nobody"].user_exists is False
