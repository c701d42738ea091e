"""Passkeys (WebAuthn credentials) a person registered (PRODUCT §19).

The user handle the authenticator stores with a discoverable credential is a
random value per user, the same on each of their passkeys, never the user's id
(it is readable by anyone holding the authenticator).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base, UTCDateTime

NAME_LENGTH = 64


class Passkey(Base):
    __tablename__ = "passkeys"
    __table_args__ = (
        Index("ix_passkeys_user_id", "user_id"),
        Index("ix_passkeys_user_handle", "user_handle"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # base64url, as the browser sends it back: what an assertion is looked up by
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[str] = mapped_column(String(200), default="")  # space-separated
    user_handle: Mapped[str] = mapped_column(String(100))  # base64url
    name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<Passkey {self.name!r} of {self.user_id}>"
