"""``camauth cleanup``: delete what no longer matters (also run now and then by logins)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from . import lockout, mail_limits, registration, sessions, tokens
from .context import Context

OPPORTUNISTIC_INTERVAL = timedelta(minutes=15)
_LAST_RUN = "camauth.housekeeping.last_run"


def cleanup(ctx: Context) -> dict[str, int]:
    counts = {"sessions": sessions.delete_expired_sessions(ctx)}
    counts.update(lockout.delete_stale(ctx))
    # before the tokens: an unverified registration is recognised by its expired link
    counts["unverified registrations"] = registration.delete_unverified(ctx)
    counts["mailed links"] = tokens.delete_expired(ctx)
    counts["mail requests"] = mail_limits.delete_old(ctx)
    return counts


def cleanup_if_due(ctx: Context, state: Any) -> None:
    """Run :func:`cleanup` if this process has not for a while.

    ``state`` is any mutable mapping that lives as long as the process (the
    Pyramid registry); several processes each run it now and then, which is harmless.
    """
    now = ctx.clock()
    last: datetime | None = state.get(_LAST_RUN)
    if last is not None and now - last < OPPORTUNISTIC_INTERVAL:
        return
    state[_LAST_RUN] = now
    cleanup(ctx)
