"""``camauth cleanup``: what is deleted and what must survive (PRODUCT §4, §5)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from camauth.models import Lockout, LoginFailure, WebSession
from camauth.services import housekeeping, lockout, sessions
from camauth.services.authentication import Outcome, authenticate

from ..conftest import GOOD_PASSWORD
from .conftest import add_user, with_settings

WRONG = "not the password at all"


def fail(ctx, username, times=1):
    for _ in range(times):
        lockout.record_failure(ctx, username, user=None)


def failure_times(ctx):
    return sorted(ctx.db.scalars(select(LoginFailure.created_at)))


def lock_rows(ctx):
    return {(row.username_key, row.scope) for row in ctx.db.scalars(select(Lockout))}


def test_expired_sessions_go_live_ones_stay(ctx, clock):
    user = add_user(ctx)
    sessions.create_session(ctx, user=user)
    clock.advance(minutes=31)
    _, live = sessions.create_session(ctx, user=user)
    _, anonymous = sessions.create_session(ctx, user=None)
    counts = housekeeping.cleanup(ctx)
    assert counts["sessions"] == 1
    assert set(ctx.db.scalars(select(WebSession.id))) == {live.id, anonymous.id}


def test_failures_older_than_the_window_are_deleted(ctx, clock):
    user = add_user(ctx)
    authenticate(ctx, "alice", WRONG)
    clock.advance(hours=12)
    authenticate(ctx, "alice", WRONG)
    recent = clock()
    clock.advance(hours=12)
    counts = housekeeping.cleanup(ctx)
    assert counts["failures"] == 1
    assert failure_times(ctx) == [recent]
    assert lockout.current_failures(ctx, user.username_key) == 1


def test_expired_lockouts_are_deleted_active_ones_kept(ctx, clock):
    add_user(ctx)
    fail(ctx, "alice", 10)  # locked for 10 minutes
    clock.advance(minutes=5)
    fail(ctx, "bob", 10)
    clock.advance(minutes=5)  # alice's lock has just run out; bob's has not
    housekeeping.cleanup(ctx)
    # a lapsed lock row still matters while its failures count within the window
    assert lock_rows(ctx) == {("alice", ""), ("bob", "")}
    assert authenticate(ctx, "alice", GOOD_PASSWORD).outcome is Outcome.OK
    assert authenticate(ctx, "bob", GOOD_PASSWORD).outcome is Outcome.LOCKED

    clock.advance(hours=24)
    counts = housekeeping.cleanup(ctx)
    assert counts["lockouts"] == 2
    assert lock_rows(ctx) == set()
    assert failure_times(ctx) == []


def test_a_lock_longer_than_the_window_is_kept_until_it_ends(ctx, clock):
    ctx = with_settings(
        ctx, lockout_failure_window_hours=1, lockout_increment_minutes=180, lockout_threshold=3
    )
    fail(ctx, "alice", 3)  # locked for 3 hours
    clock.advance(hours=2)
    housekeeping.cleanup(ctx)
    assert lock_rows(ctx) == {("alice", "")}
    assert lockout.locked_until(ctx, "alice", "") == clock() + timedelta(hours=1)
    clock.advance(hours=1)
    housekeeping.cleanup(ctx)
    assert lock_rows(ctx) == set()


def test_unknown_usernames_failures_are_deleted_after_seven_days(ctx, clock):
    # a window longer than the retention, so that only the unknown-user rule applies
    ctx = with_settings(ctx, lockout_failure_window_hours=30 * 24)
    user = add_user(ctx)
    lockout.record_failure(ctx, "alice", user=user)
    fail(ctx, "ghost")
    clock.advance(days=6)
    fail(ctx, "ghost")
    clock.advance(days=1)  # the first two are 7 days old now
    counts = housekeeping.cleanup(ctx)
    assert counts["failures"] == 1
    remaining = ctx.db.execute(select(LoginFailure.username_key, LoginFailure.user_exists)).all()
    assert sorted(remaining) == [("alice", True), ("ghost", False)]


def test_ip_failures_are_kept_for_the_ip_window_when_it_is_longer(ctx, clock):
    ctx = with_settings(ctx, lockout_failure_window_hours=1, lockout_ip_window_minutes=120)
    fail(ctx, "ghost")
    clock.advance(minutes=90)
    housekeeping.cleanup(ctx)
    assert len(failure_times(ctx)) == 1
    clock.advance(minutes=30)
    housekeeping.cleanup(ctx)
    assert failure_times(ctx) == []


def test_cleanup_if_due_runs_at_most_every_fifteen_minutes(ctx, clock):
    ctx = with_settings(ctx, session_idle_timeout_minutes=5)
    user = add_user(ctx)
    state: dict[str, object] = {}

    def expired_session_exists():
        sessions.create_session(ctx, user=user)
        clock.advance(minutes=6)

    def session_rows():
        return len(ctx.db.scalars(select(WebSession.id)).all())

    expired_session_exists()
    housekeeping.cleanup_if_due(ctx, state)
    assert session_rows() == 0
    expired_session_exists()  # six minutes after the last run
    housekeeping.cleanup_if_due(ctx, state)
    assert session_rows() == 1
    clock.advance(minutes=9)  # fifteen minutes after the last run
    housekeeping.cleanup_if_due(ctx, state)
    assert session_rows() == 0
