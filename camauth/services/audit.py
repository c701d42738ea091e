"""Append-only audit log of security events."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from ..models import AuditEvent, User
from .context import Context


class Event(enum.StrEnum):
    LOGIN_SUCCESS = "login_success"
    LOGIN_FAILURE = "login_failure"
    LOCKOUT = "lockout"
    IP_THROTTLE = "ip_throttle"
    UNLOCK = "unlock"
    LOGOUT = "logout"
    SESSION_ENDED = "session_ended"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    TERMS_AGREED = "terms_agreed"
    USER_CREATED = "user_created"
    USER_EDITED = "user_edited"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    USER_APPROVED = "user_approved"
    USER_DELETED = "user_deleted"


def record(
    ctx: Context,
    event: Event,
    *,
    target: User | None = None,
    target_name: str = "",
    details: dict[str, Any] | None = None,
) -> None:
    origin = ctx.origin
    ctx.db.add(
        AuditEvent(
            created_at=ctx.clock(),
            event=event.value,
            actor_id=origin.actor_id,
            actor_name=origin.actor_name,
            target_id=target.id if target is not None else None,
            target_name=target.username if target is not None else target_name,
            ip=origin.ip,
            user_agent=origin.user_agent,
            details=details or {},
        )
    )


def events(
    ctx: Context,
    *,
    username: str | None = None,
    event: str | None = None,
    since: datetime | None = None,
    limit: int = 1000,
) -> Sequence[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    if username:
        # target_name holds the name as shown or, for unknown users, the folded key
        key = username.strip().casefold()
        query = query.where(func.lower(AuditEvent.target_name) == key)
    if event:
        query = query.where(AuditEvent.event == event)
    if since:
        query = query.where(AuditEvent.created_at >= since)
    return ctx.db.scalars(query.limit(limit)).all()
