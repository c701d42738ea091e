"""Invitations: instead of a temporary password, an administrator has a link
mailed with which the person chooses their own (PRODUCT §3's reset, by mail).

The link is single use and valid ``camauth.password.invite_hours`` (72 by
default: people do not read mail within minutes). Until it is used the account
has no password at all; a reset by invitation removes the old one at once, so
whoever knew it is out, and ends every session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..models import AccountToken, TokenPurpose, User
from . import audit, lockout, sessions, tokens
from .account_fields import AccountError
from .accounts import check_password_for, get_user, store_new_password
from .audit import Event
from .context import Context
from .tokens import LinkError, LinkProblem


@dataclass(frozen=True)
class Invitation:
    """A set-password link to mail: the caller builds the URL from ``token``."""

    user: User
    email: str
    token: str
    valid_hours: int


def invite(ctx: Context, user: User, *, reset: bool = False) -> Invitation:
    """A new set-password link for ``user`` (earlier ones stop working). ``reset``:
    the account's password is taken away now and its sessions end."""
    if not user.email:
        raise AccountError("A link can only be mailed to an account with an email address.")
    if not user.is_active:
        raise AccountError(f"{user.username} cannot log in (status: {user.status}).")
    if reset:
        if user.id == ctx.origin.actor_id:
            raise AccountError("Change your own password on your account's Change password page.")
        user.password_hash = None
        user.must_change_password = False
        sessions.end_user_sessions(ctx, user)
        lockout.unlock(ctx, user.username_key, user)
    # earlier invitations die; a reset also kills the old password's reset links
    also = (TokenPurpose.PASSWORD_RESET,) if reset else ()
    tokens.void_unused(ctx, user, TokenPurpose.SET_PASSWORD, *also)
    hours = ctx.settings.password_invite_hours
    token = tokens.issue(ctx, user, TokenPurpose.SET_PASSWORD, timedelta(hours=hours))
    audit.record(ctx, Event.INVITATION_SENT, target=user, details={"reset": reset})
    return Invitation(user, user.email, token, hours)


def _usable(ctx: Context, token: str) -> tuple[AccountToken, User]:
    row = tokens.find(ctx, token, TokenPurpose.SET_PASSWORD)
    user = get_user(ctx, row.user_id) if row.user_id is not None else None
    if user is None or not user.is_active:
        raise LinkError(LinkProblem.UNKNOWN)
    return row, user


def check_invitation(ctx: Context, token: str) -> User:
    """The account a set-password link is for; :class:`LinkError` if it cannot be used."""
    return _usable(ctx, token)[1]


def accept(ctx: Context, token: str, new_password: str) -> User:
    """Set the person's first password through the link. A refused password does
    not spend the link; a used, expired or unknown one raises :class:`LinkError`."""
    row, user = _usable(ctx, token)
    check_password_for(ctx, user, new_password)
    tokens.spend(ctx, row)
    ctx = ctx.acting_as(user.id, user.username)
    store_new_password(ctx, user, new_password, must_change=False)
    audit.record(ctx, Event.INVITATION_USED, target=user)
    return user
