"""Brute-force defence: failure recording, lock computation, unlock, per-IP throttle.

Failures are counted per username and *scope*: all untrusted clients together
(``UNTRUSTED_SCOPE``) or one trusted device (its device id). Every
``threshold``-th counted failure within the window locks that scope for
``n // threshold * increment`` minutes, capped.

Exact under concurrency: recording a failure first upserts the scope's
``lockouts`` row, which on PostgreSQL holds that row locked until the
transaction ends. Parallel failures for one username therefore count one after
another, and each count (a fresh statement, so a fresh snapshot under READ
COMMITTED) sees every failure committed before it. SQLite serialises writers
anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, bindparam, func, null, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..models import UNTRUSTED_SCOPE, Lockout, LoginFailure, User, table_of
from . import audit, failure_rows
from .addresses import network_of
from .audit import Event
from .bulk import execute_bulk
from .context import Context


def lock_minutes(ctx: Context, failures: int) -> int:
    """Minutes of lock earned by the ``failures``-th failure (0 if it earns none)."""
    settings = ctx.settings
    if failures <= 0 or failures % settings.lockout_threshold:
        return 0
    minutes = failures // settings.lockout_threshold * settings.lockout_increment_minutes
    return min(minutes, settings.lockout_max_lockout_minutes)


# Built once, values bound per call: every login attempt runs these, and building
# a statement costs more Python than running it on SQLite. (``authentication``
# also reads both as subqueries of its one statement before the password check.)

# the end of a scope's lock, as stored (see ``lock_in_force``)
LOCK_END = select(Lockout.locked_until).where(
    Lockout.username_key == bindparam("username_key"), Lockout.scope == bindparam("scope")
)
_HELD_LOCK_END = LOCK_END.with_for_update()

# the (threshold+1)-th most recent failure of a network within the window: once it
# leaves the window, the network is back at the threshold and may try again
NTH_LATEST_FAILURE = (
    select(LoginFailure.created_at)
    .where(
        LoginFailure.network == bindparam("network"),
        LoginFailure.created_at > bindparam("failed_since"),
    )
    .order_by(LoginFailure.created_at.desc())
    .offset(bindparam("nth", type_=Integer))
    .limit(1)
)


def lock_in_force(ctx: Context, until: datetime | None) -> datetime | None:
    """``until`` (a stored lock end) if that lock is still in force, else None."""
    return until if until is not None and until > ctx.clock() else None


def locked_until(ctx: Context, username_key: str, scope: str) -> datetime | None:
    """When the scope's lock ends, or None if it is not locked now."""
    until = ctx.db.scalar(LOCK_END, {"username_key": username_key, "scope": scope})
    return lock_in_force(ctx, until)


def throttle_parameters(ctx: Context, network: str) -> dict[str, Any]:
    """The values of :data:`NTH_LATEST_FAILURE` for ``network`` now."""
    window = timedelta(minutes=ctx.settings.lockout_ip_window_minutes)
    return {
        "network": network,
        "failed_since": ctx.clock() - window,
        "nth": ctx.settings.lockout_ip_threshold,
    }


def throttle_end(ctx: Context, nth_latest: datetime | None) -> datetime | None:
    """When a network whose :data:`NTH_LATEST_FAILURE` is ``nth_latest`` may try again."""
    window = timedelta(minutes=ctx.settings.lockout_ip_window_minutes)
    return nth_latest + window if nth_latest is not None else None


def ip_throttled_until(ctx: Context, ip: str) -> datetime | None:
    """When ``ip`` may try again, if its network (the address, or its /64 for
    IPv6) has failed more than ``ip_threshold`` times within the window: password
    spraying."""
    network = network_of(ip)
    if not network:
        return None
    nth_latest = ctx.db.scalar(NTH_LATEST_FAILURE, throttle_parameters(ctx, network))
    return throttle_end(ctx, nth_latest)


def _lock_row_upsert(insert: Any) -> Any:
    """Create the scope's lock row, or touch it: either way it is held until the
    transaction ends. A Core statement on the table, built once: ORM-enabled DML
    would be re-annotated (and its cache key recomputed) on every failure."""
    lockouts = table_of(Lockout)
    upsert = insert(lockouts).values(
        username_key=bindparam("upsert_username_key"),
        scope=bindparam("upsert_scope"),
        updated_at=bindparam("upsert_now", type_=lockouts.c.updated_at.type),
    )
    return upsert.on_conflict_do_update(
        index_elements=[lockouts.c.username_key, lockouts.c.scope],
        set_={"updated_at": upsert.excluded.updated_at},
    ).returning(lockouts.c.counted_since, lockouts.c.locked_until)


_UPSERT_LOCK_ROW = {
    "postgresql": _lock_row_upsert(postgresql.insert),
    "sqlite": _lock_row_upsert(sqlite.insert),
}


def _upsert_lock_row(ctx: Context, username_key: str, scope: str) -> Any:
    upsert = _UPSERT_LOCK_ROW["postgresql" if ctx.on_postgresql else "sqlite"]
    parameters = {
        "upsert_username_key": username_key,
        "upsert_scope": scope,
        "upsert_now": ctx.clock(),
    }
    return ctx.execute_write(upsert, parameters).one()


@dataclass(frozen=True)
class HeldLock:
    exists: bool  # is there a lock row (and so anything to reset after a success)?
    until: datetime | None  # when the current lock ends, if locked now


def hold_lock_row(ctx: Context, username_key: str, scope: str) -> HeldLock:
    """Read the scope's lock row (if any), holding it until the transaction ends.

    On PostgreSQL this waits for parallel failures still being recorded and sees
    the lock they set, so a success decided after it cannot slip through or
    clear that lock.
    """
    row = ctx.db.execute(_HELD_LOCK_END, {"username_key": username_key, "scope": scope}).first()
    if row is None:
        return HeldLock(exists=False, until=None)
    return HeldLock(exists=True, until=lock_in_force(ctx, row.locked_until))


def hold_for_attempt(ctx: Context, username_key: str, scope: str) -> HeldLock:
    """Create (if need be) and hold the scope's lock row before an attempt is judged.

    For second factors and re-authentication, whose guesses are cheap to check:
    on PostgreSQL parallel attempts for one username and scope then run one after
    another, each seeing the failures (and any lock) of those before it, so a
    burst cannot try more codes than the threshold allows. (``hold_lock_row``
    holds nothing while no row exists.)
    """
    row = _upsert_lock_row(ctx, username_key, scope)
    return HeldLock(exists=True, until=lock_in_force(ctx, row.locked_until))


@dataclass(frozen=True)
class FailureResult:
    failures: int  # counted failures of this scope, this one included if recorded
    locked_until: datetime | None  # set when the scope is locked now: by this failure or before


def record_failure(
    ctx: Context,
    username_key: str,
    *,
    scope: str = UNTRUSTED_SCOPE,
    user: User | None = None,
    reason: str = "password",
    event: Event = Event.LOGIN_FAILURE,
) -> FailureResult:
    """Count a failed attempt (a wrong password or code) of ``scope`` and lock it on
    every ``threshold``-th; audited as ``event``.

    The lock may have landed while this attempt was being checked (argon2 takes
    a while, and the lock was read before it). Such an attempt is refused as
    every attempt while locked is: not recorded, answered "locked" like the
    right password would be, so that neither the count nor the answer depends
    on the password.
    """
    now = ctx.clock()
    row = _upsert_lock_row(ctx, username_key, scope)  # held until the transaction ends
    if row.locked_until is not None and row.locked_until > now:
        failures = _count_failures(ctx, username_key, scope, row.counted_since)
        return FailureResult(failures, row.locked_until)
    details = {
        "username": username_key,
        "scope": "device" if scope else "untrusted",
        "reason": reason,
    }
    failures = failure_rows.add_failure(
        ctx,
        username_key,
        scope,
        user,
        reason,
        event=event,
        details=details,
        counted_since=row.counted_since,
    )
    minutes = lock_minutes(ctx, failures)
    if not minutes:
        return FailureResult(failures, None)
    until = now + timedelta(minutes=minutes)
    ctx.db.execute(
        update(Lockout)
        .where(Lockout.username_key == username_key, Lockout.scope == scope)
        .values(locked_until=until, updated_at=now)
    )
    audit.record(
        ctx,
        Event.LOCKOUT,
        target=user,
        target_name=username_key,
        details={**details, "failures": failures, "minutes": minutes, "until": until.isoformat()},
    )
    return FailureResult(failures, until)


def record_network_failure(ctx: Context, reason: str, event: Event) -> None:
    """Count a failure that names no username (a passkey nobody registered here)
    toward the client's network throttle only: no username's lock row, which one
    client could otherwise lock for everyone. Audited as ``event``."""
    details = {"reason": reason, "scope": "untrusted"}
    failure_rows.add_failure(
        ctx, "", UNTRUSTED_SCOPE, None, reason, event=event, details=details, count_scope=False
    )


_LOCKOUTS = table_of(Lockout)
_RESET_NOW = bindparam("reset_now", type_=_LOCKOUTS.c.updated_at.type)
# a Core statement built once: it runs on every successful login of a scope with
# failures (``Context.execute_write``)
_RESET_AFTER_SUCCESS = (
    update(_LOCKOUTS)
    .where(
        _LOCKOUTS.c.username_key == bindparam("reset_username_key"),
        _LOCKOUTS.c.scope == bindparam("reset_scope"),
    )
    .values(counted_since=_RESET_NOW, locked_until=null(), updated_at=_RESET_NOW)
)


def reset_after_success(ctx: Context, username_key: str, scope: str) -> None:
    """A successful login restarts the count for the scope it came from."""
    parameters = {
        "reset_username_key": username_key,
        "reset_scope": scope,
        "reset_now": ctx.clock(),
    }
    ctx.execute_write(_RESET_AFTER_SUCCESS, parameters)


def unlock(ctx: Context, username_key: str, user: User | None = None) -> int:
    """Clear every lock and the failure count of ``username_key``, all scopes. Audited.

    Returns how many scopes it cleared: 0, and nothing recorded, when no scope
    was locked and none had failures counting toward a lock.
    """
    now = ctx.clock()
    scopes = ctx.db.execute(
        select(Lockout.scope, Lockout.counted_since, Lockout.locked_until).where(
            Lockout.username_key == username_key
        )
    ).all()
    if not any(
        (row.locked_until is not None and row.locked_until > now)
        or _count_failures(ctx, username_key, row.scope, row.counted_since)
        for row in scopes
    ):
        return 0
    cleared = execute_bulk(
        ctx.db,
        update(Lockout)
        .where(Lockout.username_key == username_key)
        .values(counted_since=now, locked_until=None, updated_at=now),
    )
    audit.record(ctx, Event.UNLOCK, target=user, target_name=username_key)
    return cleared


def current_failures(ctx: Context, username_key: str, scope: str = UNTRUSTED_SCOPE) -> int:
    """How many failures count towards the scope's next lock right now."""
    counted_since = ctx.db.scalar(
        select(Lockout.counted_since).where(
            Lockout.username_key == username_key, Lockout.scope == scope
        )
    )
    return _count_failures(ctx, username_key, scope, counted_since)


def _count_failures(
    ctx: Context, username_key: str, scope: str, counted_since: datetime | None
) -> int:
    count = ctx.db.scalar(
        select(func.count()).where(
            LoginFailure.username_key == username_key,
            LoginFailure.scope == scope,
            LoginFailure.created_at > failure_rows.scope_window_start(ctx, counted_since),
        )
    )
    return count or 0


def active_lockouts(ctx: Context) -> Sequence[Lockout]:
    return ctx.db.scalars(
        select(Lockout)
        .where(Lockout.locked_until > ctx.clock())
        .order_by(Lockout.locked_until.desc())
    ).all()


def stale_failures(ctx: Context) -> ColumnElement[bool]:
    """Failures no window counts any more, and unknown usernames' after a while."""
    now = ctx.clock()
    window_start = now - timedelta(hours=ctx.settings.lockout_failure_window_hours)
    ip_start = now - timedelta(minutes=ctx.settings.lockout_ip_window_minutes)
    oldest_needed = min(window_start, ip_start)
    unknown_start = now - timedelta(days=ctx.settings.lockout_unknown_user_retention_days)
    return (LoginFailure.created_at <= oldest_needed) | (
        (LoginFailure.user_exists.is_(False)) & (LoginFailure.created_at <= unknown_start)
    )


def idle_locks(ctx: Context) -> ColumnElement[bool]:
    """Lock rows with no lock in force and no failure left in the window: they carry
    nothing."""
    now = ctx.clock()
    window_start = now - timedelta(hours=ctx.settings.lockout_failure_window_hours)
    return ((Lockout.locked_until.is_(None)) | (Lockout.locked_until <= now)) & (
        Lockout.updated_at <= window_start
    )
