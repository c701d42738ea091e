"""The user account."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base, UTCDateTime


class UserStatus(enum.StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    PENDING_APPROVAL = "pending_approval"
    PENDING_EMAIL = "pending_email"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150))
    # casefolded username: what uniqueness and look-ups use
    username_key: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    email_key: Mapped[str | None] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20), default=UserStatus.ACTIVE.value)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    password_hash: Mapped[str | None] = mapped_column(Text)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    terms_revision: Mapped[str | None] = mapped_column(String(100))
    terms_agreed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # set while the user has a two-factor credential: the required-actions gate
    # reads it on every page from the session's one query, without a join
    two_factor_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    @property
    def is_active(self) -> bool:
        return self.status == UserStatus.ACTIVE.value

    @property
    def has_two_factor(self) -> bool:
        return self.two_factor_enabled_at is not None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username!r}>"
