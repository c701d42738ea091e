"""The append-only audit log of security events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base, UTCDateTime


class AuditEvent(Base):
    __tablename__ = "audit_events"
    # The console lists newest first, filtered by event, by user (as target or
    # actor) or by a name that has no account: each filter has an index that also
    # gives the order, so a page of a million rows reads only that page. The
    # actor index also spares deleting a user (ON DELETE SET NULL) a full scan.
    __table_args__ = (
        Index("ix_audit_events_event_created_at", "event", "created_at", "id"),
        Index("ix_audit_events_target_id_created_at", "target_id", "created_at", "id"),
        Index("ix_audit_events_actor_id_created_at", "actor_id", "created_at", "id"),
        Index("ix_audit_events_target_name_created_at", "target_name", "created_at", "id"),
        # names of deleted accounts, as typed in any case (their ids are gone)
        Index("ix_audit_events_lower_target_name", func.lower(text("target_name"))),
        Index("ix_audit_events_lower_actor_name", func.lower(text("actor_name"))),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    event: Mapped[str] = mapped_column(String(50))
    # who acted: a user, or the built-in "system" actor (command line) with no id
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_name: Mapped[str] = mapped_column(String(150), default="")
    target_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    target_name: Mapped[str] = mapped_column(String(150), default="")
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
