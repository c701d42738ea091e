"""Two-factor authentication: one TOTP credential per user, and recovery codes.

The TOTP secret is stored as entered or generated (base32), because the server
must compute the same codes as the device. It is as sensitive as the database
itself; camauth has no key-management story that would make encrypting it
with a key kept beside it any safer.

Recovery codes are stored as SHA-256 digests only. Each code carries 80 random
bits, so an unsalted digest cannot be reversed by guessing, and a code is found
by its digest in one indexed query.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base, UTCDateTime


class TwoFactorKind(enum.StrEnum):
    APP = "app"  # an authenticator app, enrolled by the person at /account/two-factor
    HARDWARE = "hardware"  # a hardware token, enrolled by an administrator


class TotpAlgorithm(enum.StrEnum):
    SHA1 = "sha1"
    SHA256 = "sha256"


class TwoFactorCredential(Base):
    __tablename__ = "two_factor_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    secret: Mapped[str] = mapped_column(String(128))  # base32, no padding
    digits: Mapped[int] = mapped_column(Integer, default=6)
    period: Mapped[int] = mapped_column(Integer, default=30)  # seconds per time step
    algorithm: Mapped[str] = mapped_column(String(10), default=TotpAlgorithm.SHA1.value)
    # learned clock offset of the device, in its own time steps (hardware tokens)
    drift: Mapped[int] = mapped_column(Integer, default=0)
    # the last time step accepted: that step and earlier ones are refused (replay)
    last_step: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
