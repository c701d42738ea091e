"""Forgotten passwords (PRODUCT §3): a single-use link by mail, valid 30 minutes.

Asking always looks the same from outside: the same answer whether the account
exists, has an email address, is locked out, or has had its share of mails this
hour. Only the caller's own address being over its limit is said openly. The
link sets a new password under the policy, ends every session, and does not log
the person in: two-factor and the required actions still apply at the next login.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..models import AccountToken, TokenPurpose, User, UserStatus
from . import audit, lockout, mail_limits, tokens
from .accounts import (
    check_password_for,
    find_user,
    find_user_by_email,
    get_user,
    store_new_password,
)
from .audit import Event
from .context import Context
from .tokens import LinkError, LinkProblem
from .usernames import username_key

MAX_LOGIN = 254  # the longer of a username (150) and an email address (254)


@dataclass(frozen=True)
class ResetMail:
    """A reset link to mail: the caller builds the URL from ``token``."""

    user: User
    email: str
    token: str
    valid_minutes: int


def request_reset(ctx: Context, username_or_email: str) -> ResetMail | None:
    """Record a recovery request; return the mail to send, if one should go out.

    Raises :class:`mail_limits.TooManyRequests` when the caller's address has
    asked too often (before the account is even looked up).
    """
    mail_limits.check_address(ctx)
    login = username_or_email.strip()[:MAX_LOGIN]
    user = _account_for(ctx, login) if login else None
    eligible = user is not None and _may_recover(user)
    # The same statements run whatever the account, so the answer's timing does not
    # tell whether it exists: the limit is counted (for no one: id 0), and a token
    # is stored, a decoy no link can use unless a mail goes out.
    may_receive = mail_limits.account_may_receive(ctx, user.id if user is not None else 0)
    mailed = eligible and may_receive
    mail_limits.record(ctx, TokenPurpose.PASSWORD_RESET, user.id if user else None, mailed=mailed)
    audit.record(
        ctx,
        Event.PASSWORD_RESET_REQUESTED,
        target=user,
        target_name=username_key(login)[:150],
        details={"mailed": mailed},
    )
    minutes = ctx.settings.password_reset_minutes
    lifetime = timedelta(minutes=minutes)
    recipient = user if mailed else None
    token = tokens.issue(ctx, recipient, TokenPurpose.PASSWORD_RESET, lifetime)
    if recipient is None or recipient.email is None:
        return None
    return ResetMail(user=recipient, email=recipient.email, token=token, valid_minutes=minutes)


def _may_recover(user: User) -> bool:
    """Locked-out accounts may recover (an attacker must not lock a person out of
    recovery); disabled and pending accounts cannot log in, so get nothing."""
    return bool(user.email) and user.is_active


def _account_for(ctx: Context, login: str) -> User | None:
    """The account a typed username or address asks for: the address's account
    first, but not one that cannot recover when the username's account can (a
    sign-up must not take over another person's recovery by using, as its address,
    their username)."""
    by_email = find_user_by_email(ctx, login) if "@" in login else None
    if by_email is not None and _may_recover(by_email):
        return by_email
    return find_user(ctx, login) or by_email


def _usable(ctx: Context, token: str) -> tuple[AccountToken, User]:
    row = tokens.find(ctx, token, TokenPurpose.PASSWORD_RESET)
    user = get_user(ctx, row.user_id) if row.user_id is not None else None
    if user is None or user.status != UserStatus.ACTIVE.value:
        raise LinkError(LinkProblem.UNKNOWN)
    return row, user


def check_reset_link(ctx: Context, token: str) -> User:
    """The account a reset link is for; :class:`LinkError` if it cannot be used."""
    return _usable(ctx, token)[1]


def reset_password(ctx: Context, token: str, new_password: str) -> User:
    """Set a new password through a mailed link.

    Raises :class:`LinkError` (used, expired, unknown) or ``PasswordPolicyError``;
    a refused password does not spend the link, so the person can try another.
    """
    row, user = _usable(ctx, token)
    check_password_for(ctx, user, new_password)
    tokens.spend(ctx, row)
    ctx = ctx.acting_as(user.id, user.username)
    store_new_password(ctx, user, new_password, must_change=False)
    # the failures were guesses at the old password; the person proved they own
    # the mailbox and must be able to log in with the new one now
    lockout.unlock(ctx, user.username_key, user)
    audit.record(ctx, Event.PASSWORD_RESET, target=user, details={"via": "email"})
    return user
