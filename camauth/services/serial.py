"""Named locks held until the transaction ends, for decisions that count rows and
then insert one (a limit of N per hour): without a lock, parallel requests under
READ COMMITTED all count the same N-1 and all insert.

On PostgreSQL a transaction-level advisory lock per name: requests for other
names do not wait. SQLite has one writer at a time; what matters there is that
the decision is made *inside* the write transaction, so the "lock" is a write
that changes nothing but begins it (the driver starts a transaction only at the
first write, and reads before it see whatever was committed at that moment).
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import InvalidRequestError

from .context import Context


def _lock_id(name: str) -> int:
    """A signed 64-bit number for ``name`` (advisory locks are keyed by bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def hold(ctx: Context, *names: str) -> None:
    """Wait for, then hold until the transaction ends, the locks called ``names``.

    Callers that take several take them in the same order, so two requests never
    wait for each other in a circle.
    """
    if ctx.on_postgresql:
        for name in names:
            ctx.db.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _lock_id(name)})
    else:
        # a write that matches nothing: it takes SQLite's write lock (waiting for
        # another writer to commit) and keeps it to the end of the transaction
        ctx.db.execute(text("UPDATE users SET id = id WHERE 1 = 0"))


def hold_row(ctx: Context, instance: Any, *, key_share: bool = False) -> bool:
    """Lock ``instance``'s row until the transaction ends and re-read it, so a
    decision made from it sees what any request that got there first committed
    (two administrators, or one double click, disabling the same user: the second
    waits and finds the user disabled). False if the row is gone meanwhile.

    With ``key_share`` (PostgreSQL's FOR NO KEY UPDATE) the row is held against
    changes and deletion, but rows that merely refer to it (an audit event naming
    its user) can still be inserted: for a row this transaction neither deletes
    nor re-keys, it cannot make two such inserts wait for each other in a circle.
    """
    try:
        if ctx.on_postgresql:
            ctx.db.refresh(instance, with_for_update={"key_share": key_share})
        else:
            hold(ctx, f"row:{type(instance).__name__}")
            ctx.db.refresh(instance)
    except InvalidRequestError:  # deleted by the request that went first
        return False
    return True
