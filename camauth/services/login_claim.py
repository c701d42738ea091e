"""A right password's login, claimed against the account as it is now.

The password was checked against the account as read before argon2 ran, tens
of milliseconds earlier. A login that needs no second step must still:

1. see any lock that failures made in parallel set meanwhile, holding the
   scope's lock row so that none lands while it decides;
2. see the account as it is now: still active, with no second factor, and
   with the very password hash the password was checked against (a password
   change, a reset or a disable committed meanwhile refuses the login);
3. if both hold: restart the scope's failure count, stamp the user's
   ``last_login_at`` (which also holds the user's row, as the session that
   follows needs), and audit the success.

On PostgreSQL that is one statement: the lock row is read FOR UPDATE in a WITH
query, the stamp is an UPDATE whose WHERE is the account check and no lock in
force at ``now`` (the same test as ``lockout.lock_in_force``), and the reset
and the audit row are written only if the stamp was. An UPDATE that waited for
the user's row judges the row as committed by the one it waited for. One by
one, each step is a round trip paid after argon2 has left the CPU caches and
the connection cold (0.4 to 0.8 ms each). SQLite, where a statement costs no
round trip, runs the conditional stamp first (which takes its write lock, so
what it reads is final), then the reset and the audit.

These are Core statements on the tables, built once (``Context.execute_write``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, exists, insert, null, select, update
from sqlalchemy.orm.attributes import set_committed_value

from ..models import AuditEvent, Lockout, User, UserStatus, table_of
from . import audit, lockout
from .audit import Event
from .context import Context

_AUDIT = table_of(AuditEvent)
_LOCKOUTS = table_of(Lockout)
_USERS = table_of(User)

# Parameter names that are no column's: an UPDATE executed with a parameter named
# like one of its table's columns would SET that column to it.
_NOW = bindparam("claim_now", type_=_LOCKOUTS.c.locked_until.type)
_THIS_SCOPE = (
    _LOCKOUTS.c.username_key == bindparam("claim_username_key"),
    _LOCKOUTS.c.scope == bindparam("claim_scope"),
)
# the account as the password was checked against it, and needing no second step
_AS_VERIFIED = (
    _USERS.c.id == bindparam("claim_user_id"),
    _USERS.c.password_hash == bindparam("claim_password_hash", type_=_USERS.c.password_hash.type),
    _USERS.c.status == UserStatus.ACTIVE.value,
    _USERS.c.two_factor_enabled_at.is_(None),
    _USERS.c.passkeys_since.is_(None),
)

# --- PostgreSQL: one statement ---

# the scope's lock row (if any), held (a WITH query that locks rows is run once,
# never folded into the queries that read it)
_HELD = select(_LOCKOUTS.c.locked_until).where(*_THIS_SCOPE).with_for_update().cte("held")
_STAMPED = (
    update(_USERS)
    .where(*_AS_VERIFIED, ~exists().select_from(_HELD).where(_HELD.c.locked_until > _NOW))
    .values(last_login_at=_NOW)
    .returning(_USERS.c.id)
    .cte("stamped")
)
_WAS_STAMPED = exists().select_from(_STAMPED)
_RESET = (
    update(_LOCKOUTS)
    .where(*_THIS_SCOPE, _WAS_STAMPED)
    .values(counted_since=_NOW, locked_until=null(), updated_at=_NOW)
    .cte("reset")
)
# the audit row is the statement's own INSERT: a row comes back only when the
# login was claimed
_CLAIM = (
    insert(_AUDIT)
    .from_select(
        audit.EVENT_FIELDS,
        select(*audit.event_binds("audit_").values()).where(_WAS_STAMPED),
    )
    .add_cte(_STAMPED, _RESET)
    .returning(_AUDIT.c.id)
)

# --- SQLite: the stamp first (it takes the database's write lock) ---

_LOCK_IN_FORCE = exists().where(*_THIS_SCOPE, _LOCKOUTS.c.locked_until > _NOW)
_STAMP = update(_USERS).where(*_AS_VERIFIED, ~_LOCK_IN_FORCE).values(last_login_at=_NOW)


def claim(
    ctx: Context, user: User, scope: str, details: dict[str, Any], verified_hash: str
) -> bool:
    """Log ``user`` in from ``scope`` if no lock is in force and the account is as
    it was when its password hash ``verified_hash`` was checked: True if it was
    claimed (the user's row is then held until the transaction ends), False if
    not (nothing written; on PostgreSQL the lock row is held)."""
    now = ctx.clock()
    parameters: dict[str, Any] = {
        "claim_now": now,
        "claim_username_key": user.username_key,
        "claim_scope": scope,
        "claim_user_id": user.id,
        "claim_password_hash": verified_hash,
    }
    acting = ctx.acting_as(user.id, user.username)
    if ctx.on_postgresql:
        event = audit.event_values(acting, Event.LOGIN_SUCCESS, user, details=details)
        parameters |= audit.event_parameters("audit_", event)
        claimed = ctx.execute_write(_CLAIM, parameters).first() is not None
    else:
        claimed = ctx.execute_write(_STAMP, parameters).rowcount == 1
        if claimed:
            lockout.reset_after_success(ctx, user.username_key, scope)
            audit.record_at_once(acting, Event.LOGIN_SUCCESS, target=user, details=details)
    if claimed:
        # what the statement wrote, without marking the user changed (no UPDATE again)
        set_committed_value(user, "last_login_at", now)
    return claimed
