"""``camauth cleanup``: delete what no longer matters (also run now and then by logins).

A large backlog (a million expired sessions after an outage of the cleanup
timer, say) is deleted in batches, each in a transaction of its own, so no
table is locked for longer than one batch takes and the work can be followed
(``on_progress``). The opportunistic run during a request deletes one small
batch of each kind: a request must stay cheap whatever the backlog.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import sessionmaker

from ..models import (
    AccountToken,
    DeviceRequest,
    Lockout,
    LoginFailure,
    MailRequest,
    UserCodeFailure,
    WebSession,
)
from . import device_login, lockout, mail_limits, registration, sessions, tokens, user_codes
from .bulk import count_rows, delete_rows
from .context import Context

OPPORTUNISTIC_INTERVAL = timedelta(minutes=15)
OPPORTUNISTIC_BATCH = 1000
BATCH = 5000
_LAST_RUN = "camauth.housekeeping.last_run"


@dataclass(frozen=True)
class Expiry:
    """One kind of row that expires: which model, and which of its rows are stale."""

    name: str
    model: Any
    stale: Callable[[Context], ColumnElement[bool]]


# the unconfirmed sign-ups go before the links: they are recognised by their last link
UNVERIFIED = "unverified registrations"
EXPIRIES = (
    Expiry("sessions", WebSession, sessions.expired),
    Expiry("failures", LoginFailure, lockout.stale_failures),
    Expiry("lockouts", Lockout, lockout.idle_locks),
    Expiry("mailed links", AccountToken, tokens.long_expired),
    Expiry("mail requests", MailRequest, mail_limits.outside_the_window),
    Expiry("device requests", DeviceRequest, device_login.stale_requests),
    Expiry("wrong user codes", UserCodeFailure, user_codes.stale_failures),
)

Progress = Callable[[str, int, int], None]  # (what, deleted so far, how many there were)


def cleanup(ctx: Context, *, limit: int | None = None) -> dict[str, int]:
    """Delete stale rows in ``ctx``'s transaction: all of them, or at most ``limit``
    of each kind."""
    counts = {}
    for expiry in EXPIRIES:
        if expiry.name == "mailed links":
            counts[UNVERIFIED] = registration.delete_unverified(ctx)
        counts[expiry.name] = delete_rows(ctx.db, expiry.model, expiry.stale(ctx), limit)
    return counts


def cleanup_in_batches(
    ctx: Context, *, batch: int = BATCH, on_progress: Progress | None = None
) -> dict[str, int]:
    """Delete every stale row, ``batch`` rows per transaction (each committed before
    the next begins); ``ctx.db`` only lends its connection's engine."""
    factory = sessionmaker(bind=ctx.db.get_bind(), expire_on_commit=False)
    counts = {}
    for expiry in EXPIRIES:
        if expiry.name == "mailed links":
            with factory.begin() as db:
                counts[UNVERIFIED] = registration.delete_unverified(replace(ctx, db=db))
        with factory() as db:
            total = count_rows(db, expiry.model, expiry.stale(replace(ctx, db=db)))
        deleted = 0
        while True:
            with factory.begin() as db:
                step = delete_rows(db, expiry.model, expiry.stale(replace(ctx, db=db)), batch)
            deleted += step
            if on_progress is not None:
                on_progress(expiry.name, deleted, max(total, deleted))
            if step < batch:
                break
        counts[expiry.name] = deleted
    return counts


def cleanup_if_due(ctx: Context, state: Any) -> None:
    """Delete one small batch of each kind if this process has not for a while.

    ``state`` is any mutable mapping that lives as long as the process (the
    Pyramid registry); several processes each run it now and then, which is harmless.
    """
    now = ctx.clock()
    if not due(state, now):
        return
    state[_LAST_RUN] = now
    cleanup(ctx, limit=OPPORTUNISTIC_BATCH)


def due(state: Any, now: datetime) -> bool:
    """Whether ``cleanup_if_due`` would clean up now (checked before a caller sets
    up a transaction for it: most of the time it is not due)."""
    last: datetime | None = state.get(_LAST_RUN)
    return last is None or now - last >= OPPORTUNISTIC_INTERVAL
