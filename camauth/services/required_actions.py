"""What a logged-in user must do before anything else (PRODUCT §7), in order."""

from __future__ import annotations

import enum
from datetime import timedelta

from ..clock import Clock
from ..models import User
from ..settings import Settings
from .mfa import required_for
from .terms import owes_terms


class Action(enum.StrEnum):
    """In the order they are owed (PRODUCT §7)."""

    CHANGE_PASSWORD = "change_password"
    AGREE_TERMS = "agree_terms"
    SET_UP_TWO_FACTOR = "set_up_two_factor"


def password_expired(settings: Settings, clock: Clock, user: User) -> bool:
    max_age = settings.password_max_age_days
    if not max_age or user.password_changed_at is None:
        return False
    return user.password_changed_at + timedelta(days=max_age) <= clock()


def next_action(settings: Settings, clock: Clock, user: User) -> Action | None:
    """The first action ``user`` owes, or None when they may go anywhere.

    Takes settings and clock rather than a service Context: it runs on every
    page view, which must not open an ORM session.
    """
    if user.must_change_password or password_expired(settings, clock, user):
        return Action.CHANGE_PASSWORD
    if owes_terms(settings, user):
        return Action.AGREE_TERMS
    if not user.has_second_factor and required_for(settings, user):
        return Action.SET_UP_TWO_FACTOR
    return None
