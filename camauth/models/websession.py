"""Server-side sessions: the cookie holds a random token, this table its SHA-256."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base, UTCDateTime


class SessionKind(enum.StrEnum):
    BROWSER = "browser"
    API = "api"


class WebSession(Base):
    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_user_id_kind", "user_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10), default=SessionKind.BROWSER.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    authenticated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str] = mapped_column(String(45), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    data: Mapped[str] = mapped_column(Text, default="{}")
    # API sessions: what the person approved (the tool's name, its host, the scope);
    # a server default, so rows written by other means (an older version) stay valid
    client_id: Mapped[str] = mapped_column(String(200), default="", server_default=text("''"))
    hostname: Mapped[str] = mapped_column(String(200), default="", server_default=text("''"))
    scope: Mapped[str] = mapped_column(String(500), default="", server_default=text("''"))
