"""Typing a device login's user code on /device, with a limit on wrong guesses.

A user code is short (about 35 bits) and lives for minutes, so guessing one is
only hopeless if guesses are few: 5 wrong codes per 10 minutes per person and per
network (an IPv6 /64 counts as one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select

from ..models import DeviceRequest, User, UserCodeFailure
from . import device_login, serial
from .context import Context

WRONG_CODE_LIMIT = 5
WRONG_CODE_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class WrongCode:
    tries_left: int


@dataclass(frozen=True)
class TooManyWrongCodes:
    until: datetime


Outcome = DeviceRequest | WrongCode | TooManyWrongCodes


def enter(ctx: Context, user: User, typed: str) -> Outcome:
    """The pending request for ``typed``, or why not. Every wrong code counts; none
    is looked up once the limit is reached."""
    network = ctx.origin.network
    # counted and recorded under both locks: parallel guesses cannot pass the limit
    serial.hold(ctx, f"user-codes:user:{user.id}", f"user-codes:network:{network}")
    now = ctx.clock()
    since = now - WRONG_CODE_WINDOW
    by_user = _failures(ctx, UserCodeFailure.user_id == user.id, since)
    by_network = _failures(ctx, UserCodeFailure.network == network, since)
    # limited by either count: free again when the later of the two lifts
    lifts = [
        oldest + WRONG_CODE_WINDOW
        for count, oldest in (by_user, by_network)
        if count >= WRONG_CODE_LIMIT and oldest is not None
    ]
    if lifts:
        return TooManyWrongCodes(until=max(lifts))
    code = device_login.normalise_user_code(typed)
    found = device_login.pending_by_user_code(ctx, code) if code is not None else None
    if found is not None:
        return found
    ctx.db.add(UserCodeFailure(user_id=user.id, network=network, created_at=now))
    ctx.db.flush()
    tries_left = WRONG_CODE_LIMIT - max(by_user[0], by_network[0]) - 1
    if tries_left <= 0:
        return TooManyWrongCodes(until=now + WRONG_CODE_WINDOW)
    return WrongCode(tries_left)


def _failures(
    ctx: Context, whose: ColumnElement[bool], since: datetime
) -> tuple[int, datetime | None]:
    """How many wrong codes in the window, and the oldest of them (the limit lifts
    when it leaves the window)."""
    count, oldest = ctx.db.execute(
        select(func.count(), func.min(UserCodeFailure.created_at)).where(
            whose, UserCodeFailure.created_at > since
        )
    ).one()
    return count, oldest


def stale_failures(ctx: Context) -> ColumnElement[bool]:
    return UserCodeFailure.created_at <= ctx.clock() - WRONG_CODE_WINDOW
