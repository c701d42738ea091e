"""What the console shows about brute-force defence (services/lockout_report.py, PRODUCT §4, §9)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from camauth.models import UNTRUSTED_SCOPE
from camauth.services import lockout, lockout_report
from camauth.services.lockout_report import HourCount

from .conftest import add_user, from_ip, with_settings

DEVICE = "device-0123456789abcdef"


def fail(ctx, username_key, times=1, *, ip="", scope=UNTRUSTED_SCOPE, user=None):
    """``times`` failures of ``username_key`` from ``ip``, committed."""
    context = from_ip(ctx, ip)
    for _ in range(times):
        lockout.record_failure(context, username_key, scope=scope, user=user)
    ctx.db.commit()


def summary(locks):
    return [(lock.username_key, lock.scope, lock.locked_until, lock.failures) for lock in locks]


# --- who is locked out now ----------------------------------------------------------


def test_locked_now_lists_each_locked_scope_of_existing_and_unknown_usernames(ctx, clock):
    alice = add_user(ctx, "Alice")
    start = clock()
    fail(ctx, "alice", 10, user=alice)  # until start + 10
    clock.advance(minutes=2)
    fail(ctx, "ghost", 10)  # no account; until start + 12
    clock.advance(minutes=2)
    fail(ctx, "alice", 10, scope=DEVICE, user=alice)  # until start + 14
    fail(ctx, "bob", 9)  # not locked
    locks, total = lockout_report.locked_now(ctx)
    assert total == 3
    # latest ending first
    assert summary(locks) == [
        ("alice", DEVICE, start + timedelta(minutes=14), 10),
        ("ghost", UNTRUSTED_SCOPE, start + timedelta(minutes=12), 10),
        ("alice", UNTRUSTED_SCOPE, start + timedelta(minutes=10), 10),
    ]
    assert [lock.user_id for lock in locks] == [alice.id, None, alice.id]


def test_a_lock_that_has_ended_or_was_unlocked_is_not_listed(ctx, clock):
    alice = add_user(ctx)
    fail(ctx, "alice", 10, user=alice)
    fail(ctx, "ghost", 10)
    clock.advance(minutes=9, seconds=59)
    assert lockout_report.locked_now(ctx)[1] == 2
    lockout.unlock(ctx, "ghost")
    ctx.db.commit()
    assert summary(lockout_report.locked_now(ctx)[0]) == [
        ("alice", UNTRUSTED_SCOPE, clock() + timedelta(seconds=1), 10)
    ]
    clock.advance(seconds=1)
    assert lockout_report.locked_now(ctx) == ([], 0)


def test_counted_failures_start_after_the_last_success_or_unlock(ctx, clock):
    alice = add_user(ctx)
    fail(ctx, "alice", 7, user=alice)
    clock.advance(minutes=1)
    lockout.reset_after_success(ctx, "alice", UNTRUSTED_SCOPE)
    clock.advance(minutes=1)
    fail(ctx, "alice", 10, user=alice)
    [lock], _ = lockout_report.locked_now(ctx)
    assert lock.failures == 10 == lockout.current_failures(ctx, "alice")


def test_counted_failures_leave_out_those_older_than_the_window(ctx, clock):
    # ten-hour locks, so that a lock outlives some of the failures that made it
    ctx = with_settings(ctx, lockout_increment_minutes=600)
    fail(ctx, "ghost", 5)
    clock.advance(hours=20)
    fail(ctx, "ghost", 5)
    [lock], _ = lockout_report.locked_now(ctx)
    assert lock.failures == 10
    clock.advance(hours=4)  # the first five are exactly 24 hours old: out
    [lock], _ = lockout_report.locked_now(ctx)
    assert lock.failures == 5 == lockout.current_failures(ctx, "ghost")
    assert lock.locked_until == clock() + timedelta(hours=6)


def test_failures_of_one_scope_are_not_counted_for_another(ctx):
    fail(ctx, "ghost", 10)
    fail(ctx, "ghost", 4, scope=DEVICE)
    fail(ctx, "other", 3)
    [lock], _ = lockout_report.locked_now(ctx)
    assert (lock.scope, lock.failures) == (UNTRUSTED_SCOPE, 10)


def test_last_ips_are_the_latest_three_distinct_addresses_newest_first(ctx, clock):
    for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.1"):
        fail(ctx, "ghost", 2, ip=ip)
        clock.advance(minutes=1)
    fail(ctx, "ghost", 1, ip="192.0.2.4")
    clock.advance(minutes=1)
    fail(ctx, "ghost", 1, ip="192.0.2.2")  # the tenth failure: locked
    fail(ctx, "someone", 10, ip="198.51.100.9")
    locks, _ = lockout_report.locked_now(ctx)
    by_name = {lock.username_key: lock for lock in locks}
    assert by_name["ghost"].last_ips == ["192.0.2.2", "192.0.2.4", "192.0.2.1"]
    assert by_name["someone"].last_ips == ["198.51.100.9"]


def test_a_failure_without_an_address_shows_as_unknown(ctx):
    fail(ctx, "ghost", 10, ip="")
    [lock], _ = lockout_report.locked_now(ctx)
    assert lock.last_ips == ["(unknown)"]


def test_limit_keeps_the_latest_ending_locks_and_total_counts_them_all(ctx, clock):
    start = clock()
    for name in ("a", "b", "c", "d"):
        fail(ctx, name, 10)
        clock.advance(minutes=1)
    locks, total = lockout_report.locked_now(ctx, limit=2)
    assert total == 4
    assert [(lock.username_key, lock.locked_until) for lock in locks] == [
        ("d", start + timedelta(minutes=13)),
        ("c", start + timedelta(minutes=12)),
    ]


# --- throttled addresses ------------------------------------------------------------

SPRAYER = "203.0.113.66"
BUSY = "198.51.100.7"


@pytest.fixture
def throttling(ctx):
    """Five failures per address allowed within fifteen minutes."""
    return with_settings(ctx, lockout_ip_threshold=5, lockout_ip_window_minutes=15)


def spray(ctx, clock, ip, times, every_minutes=1):
    for number in range(times):
        fail(ctx, f"user{number}", ip=ip)  # a different username each time
        clock.advance(minutes=every_minutes)


def test_an_address_with_more_than_the_threshold_is_throttled(throttling, clock):
    ctx = throttling
    first = clock()
    spray(ctx, clock, SPRAYER, 6)
    spray(ctx, clock, BUSY, 5)  # at the threshold: not throttled
    throttled = lockout_report.throttled_ips(ctx)
    assert [(entry.ip, entry.failures) for entry in throttled] == [(SPRAYER, 6)]
    # it may try again when its first failure leaves the window
    assert throttled[0].until == first + timedelta(minutes=15)
    assert throttled[0].until == lockout.ip_throttled_until(ctx, SPRAYER)
    assert lockout.ip_throttled_until(ctx, BUSY) is None


def test_throttled_until_matches_what_the_login_enforces_as_it_moves(throttling, clock):
    ctx = throttling
    spray(ctx, clock, SPRAYER, 8, every_minutes=2)  # failures at 0, 2, ... 14 minutes
    for _ in range(20):
        listed = {entry.ip: entry.until for entry in lockout_report.throttled_ips(ctx)}
        assert listed.get(SPRAYER) == lockout.ip_throttled_until(ctx, SPRAYER)
        clock.advance(minutes=1)
    assert lockout_report.throttled_ips(ctx) == []


def test_the_throttle_ends_at_until(throttling, clock):
    ctx = throttling
    spray(ctx, clock, SPRAYER, 6, every_minutes=0)
    [entry] = lockout_report.throttled_ips(ctx)
    clock.now = entry.until - timedelta(microseconds=1)
    assert [e.ip for e in lockout_report.throttled_ips(ctx)] == [SPRAYER]
    clock.now = entry.until
    assert lockout_report.throttled_ips(ctx) == []
    assert lockout.ip_throttled_until(ctx, SPRAYER) is None


def test_failures_without_an_address_are_never_throttled(throttling, clock):
    spray(throttling, clock, "", 20, every_minutes=0)
    assert lockout_report.throttled_ips(throttling) == []


def test_throttled_addresses_most_failures_first(throttling, clock):
    ctx = throttling
    spray(ctx, clock, BUSY, 7, every_minutes=0)
    spray(ctx, clock, SPRAYER, 9, every_minutes=0)
    assert [(e.ip, e.failures) for e in lockout_report.throttled_ips(ctx)] == [
        (SPRAYER, 9),
        (BUSY, 7),
    ]


# --- latest failures ----------------------------------------------------------------


def test_recent_failures_newest_first_with_a_limit(ctx, clock):
    for name in ("a", "b", "c"):
        fail(ctx, name)  # the same moment: newest is the last recorded
    clock.advance(seconds=1)
    fail(ctx, "d")
    assert [f.username_key for f in lockout_report.recent_failures(ctx)] == ["d", "c", "b", "a"]
    assert [f.username_key for f in lockout_report.recent_failures(ctx, limit=2)] == ["d", "c"]


# --- failures per hour --------------------------------------------------------------


def fail_at(ctx, clock, when, times=1):
    now = clock.now
    clock.now = when
    fail(ctx, "ghost", times)
    clock.now = now


def counts(ctx, hours=24):
    return [bucket.failures for bucket in lockout_report.failures_per_hour(ctx, hours)]


def test_failures_per_hour_has_one_bucket_per_hour_the_current_one_last(ctx, clock):
    clock.now = datetime(2026, 1, 5, 9, 30, 15, 500000, tzinfo=UTC)
    buckets = lockout_report.failures_per_hour(ctx)
    assert len(buckets) == 24
    assert buckets[-1] == HourCount(datetime(2026, 1, 5, 9, tzinfo=UTC), 0)
    assert buckets[0].start == datetime(2026, 1, 4, 10, tzinfo=UTC)
    assert [b.start for b in buckets] == [buckets[0].start + timedelta(hours=n) for n in range(24)]


def test_each_failure_is_counted_in_its_own_hour(ctx, clock):
    clock.now = now = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    hour = datetime(2026, 1, 5, 9, tzinfo=UTC)
    fail_at(ctx, clock, hour, 2)  # exactly at the hour's start: this hour
    # the hour before (SQLite's time functions round to the millisecond, so the
    # last half millisecond of an hour may count in the next one there)
    fail_at(ctx, clock, hour - timedelta(milliseconds=1), 3)
    fail_at(ctx, clock, hour - timedelta(hours=5, minutes=1), 1)
    fail_at(ctx, clock, now, 4)  # this very moment
    expected = [0] * 24
    expected[23] = 2 + 4
    expected[22] = 3
    expected[17] = 1
    assert counts(ctx) == expected


def test_the_first_bucket_starts_exactly_23_hours_before_the_current_hour(ctx, clock):
    clock.now = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    first = datetime(2026, 1, 4, 10, tzinfo=UTC)
    fail_at(ctx, clock, first, 1)
    fail_at(ctx, clock, first - timedelta(microseconds=1), 5)  # before the chart
    fail_at(ctx, clock, first - timedelta(hours=3), 7)  # older than 24 hours
    assert counts(ctx) == [1] + [0] * 23


def test_failures_leave_the_chart_as_the_clock_moves(ctx, clock):
    clock.now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    fail_at(ctx, clock, clock.now, 3)
    assert counts(ctx)[-1] == 3
    clock.advance(minutes=59, seconds=59)
    assert counts(ctx)[-1] == 3
    clock.advance(seconds=1)  # a new hour begins
    assert counts(ctx)[-2:] == [3, 0]
    clock.advance(hours=22)
    assert counts(ctx)[0] == 3
    clock.advance(hours=1)
    assert sum(counts(ctx)) == 0


def test_failures_after_now_are_not_counted(ctx, clock):
    clock.now = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    fail_at(ctx, clock, clock.now + timedelta(minutes=10), 2)
    assert sum(counts(ctx)) == 0


def test_a_shorter_chart(ctx, clock):
    clock.now = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    fail_at(ctx, clock, datetime(2026, 1, 5, 7, 0, tzinfo=UTC), 2)
    fail_at(ctx, clock, datetime(2026, 1, 5, 6, 59, 59, tzinfo=UTC), 9)
    buckets = lockout_report.failures_per_hour(ctx, hours=3)
    assert buckets == [
        HourCount(datetime(2026, 1, 5, 7, tzinfo=UTC), 2),
        HourCount(datetime(2026, 1, 5, 8, tzinfo=UTC), 0),
        HourCount(datetime(2026, 1, 5, 9, tzinfo=UTC), 0),
    ]
