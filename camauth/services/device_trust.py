"""What a device cookie must have been issued under to be trusted: the moment the
account's password last changed. A change or reset voids every cookie issued
before it (whoever held a copy of one is an untrusted client again)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..models import User
from .context import Context
from .usernames import username_key


def password_epoch(user: User) -> int:
    """When the password last changed, in microseconds: what a device cookie must
    have been issued under to be trusted (0 for a password never changed)."""
    return _epoch(user.password_changed_at)


def password_epoch_of(ctx: Context, username: str) -> int | None:
    """``password_epoch`` of the account named ``username``, None if there is none."""
    found = ctx.db.execute(
        select(User.password_changed_at).where(User.username_key == username_key(username))
    ).first()
    return None if found is None else _epoch(found[0])


def _epoch(changed: datetime | None) -> int:
    return 0 if changed is None else int(changed.timestamp() * 1_000_000)
