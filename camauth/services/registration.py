"""Self-service registration (PRODUCT §2), off unless ``camauth.registration`` allows it.

``open``: the account starts ``pending_email`` and becomes ``active`` when the
person follows the link mailed to them. ``approval``: following the link makes it
``pending_approval``, and an administrator approves it.

An address that already has an account is not revealed on the page: the answer
is the same, and that address's owner gets a mail saying someone tried to
register with it (with a pointer to password recovery).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from ..models import AccountToken, TokenPurpose, User, UserStatus
from . import audit, mail_limits, tokens
from .accounts import (
    AccountError,
    check_username_available,
    create_user,
    delete_user,
    email_problem,
    find_user_by_email,
    get_user,
)
from .audit import Event
from .context import Context
from .password_policy import PasswordPolicyError, check_new_password
from .tokens import LinkError, LinkProblem
from .usernames import normalize_username

CLOSED = "closed"
APPROVAL = "approval"


class RegistrationClosed(AccountError):
    """Registration is switched off."""


@dataclass(frozen=True)
class RegistrationMail:
    """What to mail after a registration: a verification link, or a notice to the
    owner of an address that already has an account (``token`` is then None)."""

    email: str
    username: str
    token: str | None
    valid_hours: int


def _verify_hours(ctx: Context) -> int:
    return ctx.settings.registration_verify_hours


def _verification(ctx: Context, user: User) -> RegistrationMail:
    hours = _verify_hours(ctx)
    token = tokens.issue(ctx, user, TokenPurpose.VERIFY_EMAIL, timedelta(hours=hours))
    assert user.email is not None
    return RegistrationMail(
        email=user.email, username=user.username, token=token, valid_hours=hours
    )


def register(ctx: Context, username: str, email: str, password: str) -> RegistrationMail | None:
    """Create a ``pending_email`` account and return the verification mail to send.

    Raises ``RegistrationClosed``, ``AccountError`` (bad or taken username, bad
    email), ``PasswordPolicyError`` and ``mail_limits.TooManyRequests``. Returns
    a notice for the existing owner when the address is taken, or None when that
    owner has had enough mail this hour.
    """
    if ctx.settings.registration == CLOSED:
        raise RegistrationClosed("Registration is closed; ask an administrator for an account.")
    mail_limits.check_address(ctx)
    try:
        return _register(ctx, username, email, password)
    except (AccountError, PasswordPolicyError):
        # refusals count towards the address's limit too: the form must not be a
        # free oracle for which usernames exist
        mail_limits.record(ctx, TokenPurpose.VERIFY_EMAIL, None, mailed=False)
        raise


def _register(ctx: Context, username: str, email: str, password: str) -> RegistrationMail | None:
    if "@" in username:
        # a username shaped like an address could be someone's address: whether it
        # is taken would tell whether that address has an account
        raise AccountError("Choose a username without @: your email address goes below.")
    # usernames are visible to others anyway; whether an address has an account is not
    check_username_available(ctx, username)
    problem = email_problem(email)
    if problem:
        raise AccountError(problem)
    owner = find_user_by_email(ctx, email)
    if owner is not None:
        # the same refusals, the same argon2 work and the same answer as a new
        # registration, so neither the page nor its timing tells the address is taken
        check_new_password(
            ctx.settings, password, username=normalize_username(username), email=email
        )
        ctx.passwords.hash(password)
        mailed = mail_limits.account_may_receive(ctx, owner.id)
        mail_limits.record(ctx, TokenPurpose.VERIFY_EMAIL, owner.id, mailed=mailed)
        if not mailed or owner.email is None:
            return None
        return RegistrationMail(owner.email, owner.username, None, _verify_hours(ctx))
    user = create_user(
        ctx,
        username,
        password=password,
        email=email,
        status=UserStatus.PENDING_EMAIL,
        event=Event.USER_REGISTERED,
    )
    mail_limits.record(ctx, TokenPurpose.VERIFY_EMAIL, user.id, mailed=True)
    return _verification(ctx, user)


def resend_verification(ctx: Context, user: User) -> RegistrationMail | None:
    """A new link for a ``pending_email`` account (its owner just proved the password).

    None while registration is closed: its links no longer work.
    """
    if ctx.settings.registration == CLOSED:
        return None
    if user.status != UserStatus.PENDING_EMAIL.value or not user.email:
        return None
    mailed = mail_limits.account_may_receive(ctx, user.id)
    mail_limits.record(ctx, TokenPurpose.VERIFY_EMAIL, user.id, mailed=mailed)
    return _verification(ctx, user) if mailed else None


def verify_email(ctx: Context, token: str) -> User:
    """Follow a verification link: the account moves on from ``pending_email``.

    Raises :class:`LinkError`. A link for an account that is no longer waiting
    (an administrator approved it meanwhile) is spent and changes nothing.
    """
    if ctx.settings.registration == CLOSED:
        raise RegistrationClosed("Registration is closed; ask an administrator for an account.")
    row = tokens.find(ctx, token, TokenPurpose.VERIFY_EMAIL)
    user = get_user(ctx, row.user_id) if row.user_id is not None else None
    if user is None:
        raise LinkError(LinkProblem.UNKNOWN)
    tokens.spend(ctx, row)
    if user.status == UserStatus.PENDING_EMAIL.value:
        waiting = ctx.settings.registration == APPROVAL
        user.status = (UserStatus.PENDING_APPROVAL if waiting else UserStatus.ACTIVE).value
        ctx = ctx.acting_as(user.id, user.username)
        audit.record(ctx, Event.EMAIL_VERIFIED, target=user, details={"status": user.status})
    return user


# How long an unconfirmed sign-up outlives its last link: logging in with the
# password mails a new link, as the expired-link page promises, for this long.
UNVERIFIED_GRACE = tokens.KEPT_AFTER_EXPIRY


def delete_unverified(ctx: Context) -> int:
    """Delete sign-ups never confirmed, a week after their last link expired.

    Frees the username and address for a new attempt; audited as deletions.
    """
    cutoff = ctx.clock() - UNVERIFIED_GRACE
    recent_link = (
        select(AccountToken.id)
        .where(AccountToken.user_id == User.id, AccountToken.expires_at > cutoff)
        .exists()
    )
    stale = ctx.db.scalars(
        select(User).where(
            User.status == UserStatus.PENDING_EMAIL.value,
            User.created_at <= cutoff - timedelta(hours=_verify_hours(ctx)),
            ~recent_link,
        )
    ).all()
    for user in stale:
        delete_user(ctx, user)
    return len(stale)
