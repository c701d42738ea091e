"""A right password's login, claimed in one statement on PostgreSQL.

Once argon2 has said the password is right, a login that needs no second step
must still:

1. see any lock that failures made in parallel set meanwhile, holding the
   scope's lock row so that none lands while it decides;
2. if none is in force: restart the scope's failure count, stamp the user's
   ``last_login_at`` (which also holds the user's row, as the session that
   follows needs), and audit the success.

Taken one by one, that is a round trip per statement, each paid after argon2
has left the CPU caches and the database connection cold (0.4 to 0.8 ms each).
PostgreSQL does it all in one statement: the lock row is read FOR UPDATE in a
WITH query, and every write is conditional on no lock in force at
``now``, the same test as ``lockout.lock_in_force``. SQLite, where a statement
costs no round trip, takes the steps one by one (``authentication.py``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, exists, insert, null, select, update
from sqlalchemy.orm.attributes import set_committed_value

from ..models import AuditEvent, Lockout, User, table_of
from . import audit
from .audit import Event
from .context import Context

# Core statements on the tables: ORM-enabled DML would be re-annotated, and its
# cache key recomputed, on every login (``Context.execute_write``).
_AUDIT = table_of(AuditEvent)
_LOCKOUTS = table_of(Lockout).c
_USERS = table_of(User)

# Parameter names that are no column's: an UPDATE executed with a parameter named
# like one of its table's columns would SET that column to it.
_NOW = bindparam("claim_now", type_=_LOCKOUTS.locked_until.type)
_THIS_SCOPE = (
    _LOCKOUTS.username_key == bindparam("claim_username_key"),
    _LOCKOUTS.scope == bindparam("claim_scope"),
)

# the scope's lock row (if any), held (a WITH query that locks rows is run once,
# never folded into the queries that read it)
_HELD = select(_LOCKOUTS.locked_until).where(*_THIS_SCOPE).with_for_update().cte("held")
_NO_LOCK_IN_FORCE = ~exists().select_from(_HELD).where(_HELD.c.locked_until > _NOW)

_RESET = (
    update(table_of(Lockout))
    .where(*_THIS_SCOPE, _NO_LOCK_IN_FORCE)
    .values(counted_since=_NOW, locked_until=null(), updated_at=_NOW)
    .cte("reset")
)
_STAMPED = (
    update(_USERS)
    .where(_USERS.c.id == bindparam("claim_user_id"), _NO_LOCK_IN_FORCE)
    .values(last_login_at=_NOW)
    .cte("stamped")
)

# the audit row is the statement's own INSERT: a row comes back only when the
# login was claimed
_CLAIM = (
    insert(_AUDIT)
    .from_select(
        audit.EVENT_FIELDS,
        select(
            *(bindparam(f"audit_{name}", type_=_AUDIT.c[name].type) for name in audit.EVENT_FIELDS)
        ).where(_NO_LOCK_IN_FORCE),
    )
    .add_cte(_RESET, _STAMPED)
    .returning(_AUDIT.c.id)
)


def claim(ctx: Context, user: User, scope: str, details: dict[str, Any]) -> bool:
    """Log ``user`` in from ``scope`` unless a lock is in force (PostgreSQL only): True if it was
    claimed (the user's row is then held until the transaction ends), False if a
    lock is in force (nothing written; the lock row is held)."""
    now = ctx.clock()
    event = audit.event_values(
        ctx.acting_as(user.id, user.username), Event.LOGIN_SUCCESS, user, details=details
    )
    parameters: dict[str, Any] = {
        "claim_now": now,
        "claim_username_key": user.username_key,
        "claim_scope": scope,
        "claim_user_id": user.id,
        **{f"audit_{name}": value for name, value in event.items()},
    }
    claimed = ctx.execute_write(_CLAIM, parameters).first() is not None
    if claimed:
        # what the statement wrote, without marking the user changed (no UPDATE again)
        set_committed_value(user, "last_login_at", now)
    return claimed
