"""What the console shows about brute-force defence: who is locked out now, which
IPs are throttled, the latest failures, and failures per hour for the dashboard.

Read-only; locking and unlocking are ``services/lockout.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, cast, func, or_, select

from ..models import Lockout, LoginFailure, User
from . import lockout
from .context import Context

LAST_IPS = 3  # addresses shown per locked username


@dataclass(frozen=True)
class LockedScope:
    username_key: str
    scope: str  # "" for all untrusted clients, else one trusted device
    locked_until: datetime
    failures: int
    user_id: int | None  # None: no account has this username
    last_ips: list[str]


def locked_now(ctx: Context, limit: int = 200) -> tuple[list[LockedScope], int]:
    """The locks in force (latest ending first, at most ``limit``) and how many
    there are in all. Counted failures come from one grouped query."""
    now = ctx.clock()
    window_start = now - timedelta(hours=ctx.settings.lockout_failure_window_hours)
    counted = and_(
        LoginFailure.username_key == Lockout.username_key,
        LoginFailure.scope == Lockout.scope,
        LoginFailure.created_at > window_start,
        or_(Lockout.counted_since.is_(None), LoginFailure.created_at > Lockout.counted_since),
    )
    query = (
        select(
            Lockout.username_key,
            Lockout.scope,
            Lockout.locked_until,
            func.count(LoginFailure.id),
            User.id,
        )
        .outerjoin(LoginFailure, counted)
        .outerjoin(User, User.username_key == Lockout.username_key)
        .where(Lockout.locked_until > now)
        .group_by(Lockout.username_key, Lockout.scope, Lockout.locked_until, User.id)
        .order_by(Lockout.locked_until.desc(), Lockout.username_key, Lockout.scope)
        .limit(limit)
    )
    rows = ctx.db.execute(query).all()
    total = ctx.db.scalar(select(func.count()).where(Lockout.locked_until > now)) or 0
    ips = _last_ips(ctx, sorted({row[0] for row in rows}), window_start)
    locked = [
        LockedScope(key, scope, until, failures, user_id, ips.get(key, []))
        for key, scope, until, failures, user_id in rows
        if until is not None  # always so: the query asks for locks in force
    ]
    return locked, total


def _last_ips(ctx: Context, username_keys: Sequence[str], since: datetime) -> dict[str, list[str]]:
    if not username_keys:
        return {}
    query = (
        select(LoginFailure.username_key, LoginFailure.ip, func.max(LoginFailure.created_at))
        .where(LoginFailure.username_key.in_(username_keys), LoginFailure.created_at > since)
        .group_by(LoginFailure.username_key, LoginFailure.ip)
    )
    latest: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for key, ip, at in ctx.db.execute(query).all():
        latest[key].append((at, ip or "(unknown)"))
    return {
        key: [ip for _, ip in sorted(found, reverse=True)[:LAST_IPS]]
        for key, found in latest.items()
    }


@dataclass(frozen=True)
class ThrottledIp:
    ip: str
    failures: int  # within the throttle window
    until: datetime  # when it may try again


def throttled_ips(ctx: Context) -> list[ThrottledIp]:
    """Networks (an address, or an IPv6 /64) with more than ``ip_threshold``
    failures in the window."""
    now = ctx.clock()
    window = timedelta(minutes=ctx.settings.lockout_ip_window_minutes)
    query = (
        select(LoginFailure.network, func.count())
        .where(LoginFailure.created_at > now - window, LoginFailure.network != "")
        .group_by(LoginFailure.network)
        .having(func.count() > ctx.settings.lockout_ip_threshold)
        .order_by(func.count().desc())
    )
    throttled = []
    for ip, failures in ctx.db.execute(query).all():
        until = lockout.ip_throttled_until(ctx, ip)  # the login page's own rule
        if until is not None:
            throttled.append(ThrottledIp(ip, failures, until))
    return throttled


def recent_failures(ctx: Context, limit: int = 50) -> Sequence[LoginFailure]:
    return ctx.db.scalars(
        select(LoginFailure)
        .order_by(LoginFailure.created_at.desc(), LoginFailure.id.desc())
        .limit(limit)
    ).all()


@dataclass(frozen=True)
class HourCount:
    start: datetime  # the hour's first moment (UTC)
    failures: int


@dataclass(frozen=True)
class Bucket:
    """Failures in one slice of time, for usernames that exist and that do not."""

    start: datetime
    end: datetime
    known: int
    unknown: int

    @property
    def failures(self) -> int:
        return self.known + self.unknown


# what the dashboard offers: how far back, and how wide each bar is
PERIODS = {
    "24h": (timedelta(hours=24), timedelta(hours=1)),
    "7d": (timedelta(days=7), timedelta(hours=6)),
    "30d": (timedelta(days=30), timedelta(days=1)),
}


def failures_over(ctx: Context, period: str = "24h") -> list[Bucket]:
    """Login failures in each slice of ``period``, the current slice last.

    Counted in the database (one grouped query on the created_at index), so an
    attack of a million failures costs no more memory than a quiet day.
    """
    span, width = PERIODS[period]
    count = int(span / width)
    start = _slice_start(ctx.clock(), width) - width * (count - 1)
    counted = _counted(ctx, start, width)
    return [
        Bucket(
            start + width * index,
            start + width * (index + 1),
            counted.get((index, True), 0),
            counted.get((index, False), 0),
        )
        for index in range(count)
    ]


def _slice_start(moment: datetime, width: timedelta) -> datetime:
    hour = moment.replace(minute=0, second=0, microsecond=0)
    if width >= timedelta(days=1):
        return hour.replace(hour=0)
    hours = int(width.total_seconds()) // 3600
    return hour.replace(hour=hour.hour - hour.hour % hours)


def failures_per_hour(ctx: Context, hours: int = 24) -> list[HourCount]:
    """Login failures in each of the last ``hours`` whole hours, the current one last."""
    width = timedelta(hours=1)
    start = _slice_start(ctx.clock(), width) - width * (hours - 1)
    counted = _counted(ctx, start, width)
    return [
        HourCount(
            start + width * index, counted.get((index, True), 0) + counted.get((index, False), 0)
        )
        for index in range(hours)
    ]


def _counted(ctx: Context, start: datetime, width: timedelta) -> dict[tuple[int, bool], int]:
    """Failures since ``start`` by (slice number, whether the username exists)."""
    bucket = _slices_since(ctx, start, width)
    query = (
        select(bucket, LoginFailure.user_exists, func.count())
        .where(LoginFailure.created_at >= start, LoginFailure.created_at <= ctx.clock())
        .group_by(bucket, LoginFailure.user_exists)
    )
    return {
        (int(index), bool(exists)): number for index, exists, number in ctx.db.execute(query).all()
    }


def _slices_since(ctx: Context, start: datetime, width: timedelta) -> Any:
    """SQL for the number of whole ``width`` slices between ``start`` and a failure."""
    seconds_per_slice = int(width.total_seconds())
    if ctx.on_postgresql:
        elapsed = func.extract("epoch", LoginFailure.created_at - start)
        return func.floor(elapsed / seconds_per_slice)
    # SQLite keeps naive UTC text, which strftime('%s') reads as UTC; whole seconds
    # and integer division, so a slice's first failure is not put in the slice before
    seconds = cast(func.strftime("%s", LoginFailure.created_at), Integer) - int(start.timestamp())
    return seconds.self_group().op("/")(seconds_per_slice)
