"""A failed attempt's row, its audit event, and the two counts they decide.

Every counted wrong password, code or passkey adds a row to ``login_failures``
(what the counts and the network's throttle read) and an audit event, then
counts the network's failures (the one failure over the throttle's threshold
audits the throttle) and the scope's (its lock). The network's named lock is
taken first, so parallel failures of one network count one after another and
exactly one of them is the one over the threshold.

On PostgreSQL the row, the event and both counts are one statement after that
lock: the audit INSERT carries the failure's INSERT as a WITH query and returns
the counts, each over the table as the statement found it plus the row it has
just added where that row matches. Run after argon2, a round trip costs 0.4 to
0.8 ms; SQLite, where a statement costs none, takes the steps one by one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, insert, select

from ..models import AuditEvent, LoginFailure, User, table_of
from . import audit, serial
from .audit import Event
from .context import Context

# a time no row is newer than: the count of something not to be counted is 0
_NOTHING_SINCE = datetime(9999, 1, 1, tzinfo=UTC)

# what ``add_failure`` writes; its parameters are named so that they are no
# column's (an INSERT executed with a parameter named like one of its table's
# columns would write that column)
_FAILURE_FIELDS = (
    "username_key",
    "scope",
    "user_exists",
    "ip",
    "network",
    "user_agent",
    "reason",
    "created_at",
)
# Core statements on the tables: ORM-enabled DML would be re-annotated, and its
# cache key recomputed, on every failure (``Context.execute_write``)
_FAILURES = table_of(LoginFailure)
_AUDIT = table_of(AuditEvent)
_TIME = _FAILURES.c.created_at.type


def _network_failures(columns: Any) -> ColumnElement[bool]:
    return (columns.network == bindparam("count_network")) & (
        columns.created_at > bindparam("count_network_since", type_=_TIME)
    )


def _scope_failures(columns: Any) -> ColumnElement[bool]:
    return (
        (columns.username_key == bindparam("count_username_key"))
        & (columns.scope == bindparam("count_scope"))
        & (columns.created_at > bindparam("count_scope_since", type_=_TIME))
    )


def _counted(where: ColumnElement[bool]) -> Select[Any]:
    return select(func.count()).select_from(_FAILURES).where(where)


_COUNTS = select(
    _counted(_network_failures(_FAILURES.c)).scalar_subquery(),
    _counted(_scope_failures(_FAILURES.c)).scalar_subquery(),
)

_ADDED = (
    insert(_FAILURES)
    .values({name: bindparam(f"failure_{name}") for name in _FAILURE_FIELDS})
    .returning(
        _FAILURES.c.username_key, _FAILURES.c.scope, _FAILURES.c.network, _FAILURES.c.created_at
    )
    .cte("added")
)


def _with_added(where: Any) -> Any:
    in_table = _counted(where(_FAILURES.c)).scalar_subquery()
    just_added = select(func.count()).select_from(_ADDED).where(where(_ADDED.c)).scalar_subquery()
    return in_table + just_added


_ADD_AND_COUNT = (
    insert(_AUDIT)
    .values(audit.event_binds("audit_"))
    .add_cte(_ADDED)
    .returning(_with_added(_network_failures), _with_added(_scope_failures))
)


def add_failure(
    ctx: Context,
    username_key: str,
    scope: str,
    user: User | None,
    reason: str,
    *,
    event: Event,
    details: dict[str, Any],
    counted_since: datetime | None = None,
    count_scope: bool = True,
) -> int:
    """Record a failure of ``scope`` (audited as ``event`` with ``details``) and
    audit the network's throttle if this failure starts it. Returns the scope's
    failures since ``counted_since`` within the window, this one included (0
    without ``count_scope``)."""
    now = ctx.clock()
    origin = ctx.origin
    network = origin.network
    if network:
        serial.hold(ctx, f"ip-throttle:{network}")
    failure = {
        "username_key": username_key[:150],
        "scope": scope,
        "user_exists": user is not None,
        "ip": origin.ip[:45],
        "network": network,
        "user_agent": origin.user_agent[:500],
        "reason": reason,
        "created_at": now,
    }
    event_values = audit.event_values(ctx, event, user, username_key, details)
    counting = {
        "count_network": network,
        "count_network_since": (
            now - timedelta(minutes=ctx.settings.lockout_ip_window_minutes)
            if network
            else _NOTHING_SINCE
        ),
        "count_username_key": username_key,
        "count_scope": scope,
        "count_scope_since": scope_window_start(ctx, counted_since)
        if count_scope
        else _NOTHING_SINCE,
    }
    if ctx.on_postgresql:
        parameters = {
            **{f"failure_{name}": value for name, value in failure.items()},
            **audit.event_parameters("audit_", event_values),
            **counting,
        }
        network_failures, scope_failures = ctx.execute_write(_ADD_AND_COUNT, parameters).one()
    else:
        ctx.db.add(LoginFailure(**failure))
        ctx.db.add(AuditEvent(**event_values))
        ctx.db.flush()
        counted = network or count_scope
        network_failures, scope_failures = (
            ctx.db.execute(_COUNTS, counting).one() if counted else (0, 0)
        )
    if network and network_failures == ctx.settings.lockout_ip_threshold + 1:
        audit.record(
            ctx,
            Event.IP_THROTTLE,
            target=user,
            target_name=username_key,
            details={"network": network, "failures": network_failures},
        )
    return int(scope_failures)


def scope_window_start(ctx: Context, counted_since: datetime | None) -> datetime:
    """Failures of a scope count from the later of the window's start and its
    count's last restart (a successful login)."""
    start = ctx.clock() - timedelta(hours=ctx.settings.lockout_failure_window_hours)
    if counted_since is not None and counted_since > start:
        return counted_since
    return start
