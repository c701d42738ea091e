"""Append-only audit log of security events."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert

from ..models import AuditEvent, User, table_of
from .context import Context


class Event(enum.StrEnum):
    LOGIN_SUCCESS = "login_success"
    LOGIN_FAILURE = "login_failure"
    LOCKOUT = "lockout"
    IP_THROTTLE = "ip_throttle"
    IP_UNTHROTTLED = "ip_unthrottled"
    UNLOCK = "unlock"
    LOGOUT = "logout"
    SESSION_ENDED = "session_ended"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    PASSWORD_RESET_REQUESTED = "password_reset_requested"
    TERMS_AGREED = "terms_agreed"
    USER_CREATED = "user_created"
    USER_REGISTERED = "user_registered"
    EMAIL_VERIFIED = "email_verified"
    USER_EDITED = "user_edited"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    USER_APPROVED = "user_approved"
    USER_DELETED = "user_deleted"
    ADMIN_GRANTED = "admin_granted"
    ADMIN_REVOKED = "admin_revoked"
    PASSWORD_CHANGE_FORCED = "password_change_forced"
    TWO_FACTOR_ENROLLED = "two_factor_enrolled"
    TWO_FACTOR_REMOVED = "two_factor_removed"
    TWO_FACTOR_WRONG_CODE = "two_factor_wrong_code"
    TWO_FACTOR_REPLAY_REFUSED = "two_factor_replay_refused"
    RECOVERY_CODE_USED = "recovery_code_used"
    RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated"
    AUDIT_EXPORTED = "audit_exported"
    DEVICE_LOGIN_REQUESTED = "device_login_requested"
    DEVICE_LOGIN_APPROVED = "device_login_approved"
    DEVICE_LOGIN_DENIED = "device_login_denied"
    DEVICE_LOGIN_REPORTED = "device_login_reported"
    API_SESSION_ENDED = "api_session_ended"
    PROFILE_EDITED = "profile_edited"
    EMAIL_CHANGE_REQUESTED = "email_change_requested"
    EMAIL_CHANGED = "email_changed"
    INVITATION_SENT = "invitation_sent"
    INVITATION_USED = "invitation_used"
    ROLE_CREATED = "role_created"
    ROLE_RENAMED = "role_renamed"
    ROLE_DELETED = "role_deleted"
    ROLE_PERMISSION_GRANTED = "role_permission_granted"
    ROLE_PERMISSION_REVOKED = "role_permission_revoked"
    ROLE_GRANTED = "role_granted"
    ROLE_REVOKED = "role_revoked"
    GROUP_CREATED = "group_created"
    GROUP_RENAMED = "group_renamed"
    GROUP_DELETED = "group_deleted"
    MEMBER_ADDED = "member_added"
    MEMBER_REMOVED = "member_removed"
    GROUP_ADMIN_GRANTED = "group_admin_granted"
    GROUP_ADMIN_REVOKED = "group_admin_revoked"
    EXTERNAL_LOGIN = "external_login"
    EXTERNAL_LOGIN_REFUSED = "external_login_refused"
    IDENTITY_LINKED = "identity_linked"
    IDENTITY_UNLINKED = "identity_unlinked"
    PASSKEY_ADDED = "passkey_added"
    PASSKEY_REMOVED = "passkey_removed"
    PASSKEY_LOGIN = "passkey_login"
    PASSKEY_CLONE_SUSPECTED = "passkey_clone_suspected"
    PASSKEY_REFUSED = "passkey_refused"


def record(
    ctx: Context,
    event: Event,
    *,
    target: User | None = None,
    target_name: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    ctx.db.add(AuditEvent(**event_values(ctx, event, target, target_name, details)))


_INSERT = insert(table_of(AuditEvent))


def record_at_once(
    ctx: Context, event: Event, *, target: User | None = None, details: dict[str, Any] | None = None
) -> None:
    """``record``, written now by a Core INSERT built once rather than by the ORM's
    flush: for the events every login writes."""
    ctx.execute_write(_INSERT, event_values(ctx, event, target, details=details))


# what ``event_values`` gives, in order: for statements that write events themselves
EVENT_FIELDS = (
    "created_at",
    "event",
    "actor_id",
    "actor_name",
    "target_id",
    "target_name",
    "ip",
    "user_agent",
    "details",
)


def event_binds(prefix: str, **in_sql: Any) -> dict[str, Any]:
    """An event's fields (``EVENT_FIELDS``) as bind parameters named ``prefix`` +
    field, for a statement that writes the event itself; ``in_sql`` gives fields
    the statement computes instead. Values for them: ``event_parameters``."""
    table = table_of(AuditEvent)
    return {
        name: in_sql[name] if name in in_sql else bindparam(prefix + name, type_=table.c[name].type)
        for name in EVENT_FIELDS
    }


def event_parameters(prefix: str, values: dict[str, Any]) -> dict[str, Any]:
    """``event_values`` for the bind parameters of ``event_binds(prefix)``."""
    return {prefix + name: value for name, value in values.items()}


def event_values(
    ctx: Context,
    event: Event,
    target: User | None = None,
    target_name: str = "",
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An event's row, for ``record`` and for statements that write one themselves."""
    origin = ctx.origin
    return {
        "created_at": ctx.clock(),
        "event": event.value,
        "actor_id": origin.actor_id,
        "actor_name": origin.actor_name,
        "target_id": target.id if target is not None else None,
        # a name as typed may hold a NUL, which PostgreSQL text cannot store
        "target_name": target.username if target is not None else target_name.replace("\x00", ""),
        "ip": origin.ip,
        "user_agent": origin.user_agent,
        "details": details or {},
    }


def events(
    ctx: Context,
    *,
    username: str | None = None,
    event: str | None = None,
    since: datetime | None = None,
    limit: int = 1000,
) -> Sequence[AuditEvent]:
    """The latest events, newest first, with the console's filters (the command
    line's ``audit``)."""
    # imported here: audit_search builds on this module's Event
    from .audit_search import AuditFilter, newest_first

    criteria = AuditFilter(username=username or "", event=event or "", since=since)
    return ctx.db.scalars(newest_first(ctx, criteria).limit(limit)).all()
