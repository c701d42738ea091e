"""A new session row, written in as few round trips as the database allows.

Every login and every visitor who stores something pays for this, and a login
pays it after argon2 has run (the CPU caches cold). So the row is written with
one Core statement rather than an ORM object and its flush: the caller needs
the values, not a mapped object. On PostgreSQL a browser login under
``session.one_per_user`` ends the user's other browser sessions, and audits
their end, in that same statement (data-modifying WITH queries); SQLite runs
the statements one after the other. (``sessions.create_session`` still makes
ORM rows for callers that fill in more of the row, such as an approved device
login.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, insert, literal_column, select

from ..models import AuditEvent, SessionKind, User, WebSession, table_of
from . import audit, serial
from .context import Context
from .session_lookup import SessionRecord
from .sessions import END_SESSIONS_OF_KIND, end_user_sessions, ended_event, new_session_values

# Core statements on the table: an ORM statement would be re-annotated, and its
# cache key recomputed, on every login (``Context.execute_write``)
_SESSIONS = table_of(WebSession)
_INSERT = insert(_SESSIONS).returning(_SESSIONS.c.id)

# PostgreSQL: the user's browser sessions are deleted, their end audited and the
# new one inserted by one statement. The DELETE reads the sessions committed
# before the statement began; the caller already holds the user's row, so a
# login of the same user that went first has committed its session by then.
_ENDED = END_SESSIONS_OF_KIND.returning(_SESSIONS.c.id).cte("ended")
_AUDIT = table_of(AuditEvent)
# the audit event of those sessions' end (``sessions.end_user_sessions`` writes
# the same one), only if there were any: its details are {"count": n}
_ENDED_COUNT = select(func.count()).select_from(_ENDED).scalar_subquery()
_ENDED_AUDITED = (
    insert(_AUDIT)
    .from_select(
        audit.EVENT_FIELDS,
        select(
            *audit.event_binds(
                "ended_", details=func.json_build_object(literal_column("'count'"), _ENDED_COUNT)
            ).values()
        ).where(exists().select_from(_ENDED)),
    )
    .cte("ended_audited")
)
_INSERT_ENDING_OTHERS = insert(_SESSIONS).add_cte(_ENDED, _ENDED_AUDITED).returning(_SESSIONS.c.id)


def insert_session(
    ctx: Context,
    *,
    user: User | None,
    kind: SessionKind = SessionKind.BROWSER,
    data: dict[str, Any] | None = None,
) -> tuple[str, SessionRecord]:
    """Store a new session; returns its token and the row as stored."""
    token, values = new_session_values(ctx, user=user, kind=kind, data=data)
    session_id = ctx.execute_write(_INSERT, values).scalar_one()
    return token, SessionRecord.from_values({**values, "id": session_id})


def start_logged_in_session(
    ctx: Context,
    user: User,
    *,
    kind: SessionKind = SessionKind.BROWSER,
    data: dict[str, Any] | None = None,
    user_row_held: bool = False,
) -> tuple[str, SessionRecord]:
    """A login's new session. With ``one_per_user`` a browser login first ends the
    user's other browser sessions, holding the user's row (unless
    ``user_row_held``: the login's own statement took it): of two logins at the
    same moment the second waits, then ends the first's session, so one remains
    (without the lock each would end only the sessions committed before it)."""
    if kind is not SessionKind.BROWSER or not ctx.settings.session_one_per_user:
        return insert_session(ctx, user=user, kind=kind, data=data)
    if not user_row_held:
        _hold_user_row(ctx, user)
    if not ctx.on_postgresql:
        end_user_sessions(ctx, user, kind=SessionKind.BROWSER)
        return insert_session(ctx, user=user, kind=kind, data=data)
    token, values = new_session_values(ctx, user=user, kind=kind, data=data)
    ended = audit.event_values(ctx, ended_event(kind), user)
    del ended["details"]  # built by the statement
    parameters = {
        **values,
        "ending_user_id": user.id,
        "ending_kind": kind.value,
        **audit.event_parameters("ended_", ended),
    }
    session_id = ctx.execute_write(_INSERT_ENDING_OTHERS, parameters).scalar_one()
    return token, SessionRecord.from_values({**values, "id": session_id})


def _hold_user_row(ctx: Context, user: User) -> None:
    """Hold the user's row until the transaction ends. A login has just stamped
    ``last_login_at``: writing that change now locks the row (an UPDATE holds the
    row it changes; on SQLite, the database) with no statement of its own, one
    round trip less on every login. Without such a change, the row is locked
    explicitly."""
    if ctx.db.is_modified(user):
        ctx.db.flush()
    else:
        serial.hold_row(ctx, user, key_share=True)
