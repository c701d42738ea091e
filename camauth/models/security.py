"""Brute-force defence: every failed login, and one lock row per username and client scope.

``scope`` is ``""`` for all untrusted clients of a username together, or the
device id from a valid device cookie. The lock row is also the per-username
mutex that makes failure counting exact under concurrency (see
``services/lockout.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base, UTCDateTime

UNTRUSTED_SCOPE = ""


class LoginFailure(Base):
    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username_scope_at", "username_key", "scope", "created_at"),
        Index("ix_login_failures_network_at", "network", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username_key: Mapped[str] = mapped_column(String(150))
    scope: Mapped[str] = mapped_column(String(64), default=UNTRUSTED_SCOPE)
    user_exists: Mapped[bool] = mapped_column(default=False)
    ip: Mapped[str] = mapped_column(String(45), default="")
    # what the per-IP throttle counts: the address, or its /64 for IPv6
    network: Mapped[str] = mapped_column(String(49), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    reason: Mapped[str] = mapped_column(String(30), default="password")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Lockout(Base):
    __tablename__ = "lockouts"

    username_key: Mapped[str] = mapped_column(String(150), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    # failures before this moment no longer count (set by success and unlock)
    counted_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
