"""The user account."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, validates

from .meta import Base, UTCDateTime, only_on


class UserStatus(enum.StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    PENDING_APPROVAL = "pending_approval"
    PENDING_EMAIL = "pending_email"


def _trigram_index(column: str) -> Index:
    """A PostgreSQL trigram index: the console's substring search ("smith" anywhere in
    a name) uses it instead of reading every row. SQLite has none and scans."""
    index = Index(
        f"ix_users_{column}_trgm",
        column,
        postgresql_using="gin",
        postgresql_ops={column: "gin_trgm_ops"},
    )
    return only_on("postgresql", index)


def _prefix_index(column: str) -> Index:
    """A PostgreSQL B-tree in code point order (``text_pattern_ops``): a search of one
    or two characters matches the start of a name (``LIKE 'ma%'``), and reads just
    that range of this index whatever the database's collation."""
    index = Index(f"ix_users_{column}_prefix", column, postgresql_ops={column: "text_pattern_ops"})
    return only_on("postgresql", index)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # the console's status filter, in username order
        Index("ix_users_status_username_key", "status", "username_key"),
        _trigram_index("username_key"),
        _trigram_index("email_key"),
        _trigram_index("full_name_key"),
        _prefix_index("username_key"),
        _prefix_index("email_key"),
        _prefix_index("full_name_key"),
        # SQLite's short search reads ranges of the binary indexes: the unique ones
        # of username_key and email_key, and this one
        only_on("sqlite", Index("ix_users_full_name_key", "full_name_key")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150))
    # casefolded username: what uniqueness and look-ups use
    username_key: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    email_key: Mapped[str | None] = mapped_column(String(254), unique=True)
    # a sign-up's address until its link is followed: it holds no address meanwhile
    unconfirmed_email: Mapped[str | None] = mapped_column(String(254))
    unconfirmed_email_key: Mapped[str | None] = mapped_column(String(254), index=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    # casefolded full name, kept in step by ``_fold_full_name``: what the console's
    # search compares, the same on every database and collation ("MÜLLER" finds
    # "Müller" also where SQL's lower() knows only ASCII). Rows inserted by raw SQL
    # get "" and are found by username and address only. Text, because casefolding
    # can triple a name's length.
    full_name_key: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
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
    # set while the user has at least one passkey (services/passkeys.py keeps it):
    # a passkey is a second factor, and the same gate reads it without a join
    passkeys_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the random id passkeys know this user by (WebAuthn's user handle, never the
    # row id): made when the first registration starts, the same for every passkey
    webauthn_user_handle: Mapped[str | None] = mapped_column(String(100))
    # an IANA zone name for the times pages show this person; "" = the site's
    # setting camauth.timezone (so changing that setting moves everyone who kept it)
    time_zone: Mapped[str] = mapped_column(String(64), default="", server_default=text("''"))
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    @validates("full_name")
    def _fold_full_name(self, key: str, value: str) -> str:
        self.full_name_key = (value or "").casefold()
        return value

    @property
    def is_active(self) -> bool:
        return self.status == UserStatus.ACTIVE.value

    @property
    def has_two_factor(self) -> bool:
        """An authenticator app or hardware token (codes): see ``has_second_factor``."""
        return self.two_factor_enabled_at is not None

    @property
    def has_passkeys(self) -> bool:
        return self.passkeys_since is not None

    @property
    def has_second_factor(self) -> bool:
        """Codes or a passkey: what two-factor policy and the login's second step ask."""
        return self.two_factor_enabled_at is not None or self.passkeys_since is not None

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username!r}>"
