"""Device logins (OAuth 2.0 device authorization grant): a tool without a browser
asks, a person approves in their browser, the tool exchanges its device code once
for an API session.

Only the SHA-256 of the device code is stored (it is the tool's secret until the
exchange). The user code is stored as typed by nobody: eight letters, no dash,
upper case; it is short-lived and useless without the person's approval.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base, UTCDateTime


class DeviceRequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    REPORTED = "reported"
    EXCHANGED = "exchanged"  # approved, and the tool has its token


class DeviceRequest(Base):
    __tablename__ = "device_requests"
    __table_args__ = (
        Index("ix_device_requests_user_code_status", "user_code", "status"),
        Index("ix_device_requests_network_status_decided", "network", "status", "decided_at"),
        Index("ix_device_requests_network_created", "network", "created_at"),
        Index("ix_device_requests_user_id_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_code: Mapped[str] = mapped_column(String(8))
    client_id: Mapped[str] = mapped_column(String(200))
    hostname: Mapped[str] = mapped_column(String(200), default="")
    message: Mapped[str] = mapped_column(String(200), default="")
    scope: Mapped[str] = mapped_column(String(500), default="")
    ip: Mapped[str] = mapped_column(String(45), default="")
    # what a report blocks and the request limit counts: the address, or its IPv6 /64
    network: Mapped[str] = mapped_column(String(49), default="")
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(10), default=DeviceRequestStatus.PENDING.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    interval_seconds: Mapped[int] = mapped_column(Integer)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # who approved, denied or reported it, and when
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserCodeFailure(Base):
    """A wrong user code typed on /device: limited per person and per network."""

    __tablename__ = "user_code_failures"
    __table_args__ = (
        Index("ix_user_code_failures_user_id_at", "user_id", "created_at"),
        Index("ix_user_code_failures_network_at", "network", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    network: Mapped[str] = mapped_column(String(49), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
