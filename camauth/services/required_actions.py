"""What a logged-in user must do before anything else (PRODUCT §7), in order."""

from __future__ import annotations

import enum
from datetime import timedelta

from ..models import User
from .context import Context


class Action(enum.StrEnum):
    CHANGE_PASSWORD = "change_password"


def password_expired(ctx: Context, user: User) -> bool:
    max_age = ctx.settings.password_max_age_days
    if not max_age or user.password_changed_at is None:
        return False
    return user.password_changed_at + timedelta(days=max_age) <= ctx.clock()


def next_action(ctx: Context, user: User) -> Action | None:
    """The first action ``user`` owes, or None when they may go anywhere."""
    if user.must_change_password or password_expired(ctx, user):
        return Action.CHANGE_PASSWORD
    return None
