"""Single-use links mailed to people, and the request log that rate-limits mailing.

An :class:`AccountToken` is the server side of a link such as
``/password/reset/{token}``: only the SHA-256 digest of the token is stored, so a
copy of the table cannot be turned into working links. A :class:`MailRequest`
row is written for every request that could send a mail (password recovery,
registration), whether or not a mail went out, so limits per account and per
address count attempts, not just mails.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base, UTCDateTime


class TokenPurpose(enum.StrEnum):
    PASSWORD_RESET = "password_reset"
    VERIFY_EMAIL = "verify_email"
    # an account's new address, proved by following the link mailed to it
    CHANGE_EMAIL = "change_email"
    # an invitation: an administrator created the account or reset its password and
    # the person chooses the password through a mailed link
    SET_PASSWORD = "set_password"


class AccountToken(Base):
    __tablename__ = "account_tokens"
    __table_args__ = (Index("ix_account_tokens_user_id_purpose", "user_id", "purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))
    # None for a decoy: recovery asked for an account that does not exist does the
    # same work as for one that does (see services/recovery.py); it opens nothing
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailRequest(Base):
    __tablename__ = "mail_requests"
    __table_args__ = (
        Index("ix_mail_requests_network_at", "network", "created_at"),
        Index("ix_mail_requests_user_id_at", "user_id", "created_at"),
        Index("ix_mail_requests_address_key_at", "address_key", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))
    # no foreign key: the row outlives a deleted account until the window passes
    user_id: Mapped[int | None] = mapped_column(Integer)
    ip: Mapped[str] = mapped_column(String(45), default="")
    # what the per-address limit counts: the address, or its /64 for IPv6
    network: Mapped[str] = mapped_column(String(49), default="")
    # the address a sign-up's link went to (a sign-up holds no account's address)
    address_key: Mapped[str | None] = mapped_column(String(254))
    mailed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
