"""Self-service registration (PRODUCT §2), off unless ``camauth.registration`` allows it.

``open``: the account starts ``pending_email`` and becomes ``active`` when the
person follows the link mailed to them. ``approval``: following the link makes it
``pending_approval``, and an administrator approves it.

Nothing tells whether an address already has an account: a sign-up with such
an address is stored exactly as one with a new address (it reserves the
username, it can log in to be told it is pending), but no link is mailed; the
address's owner gets a mail saying someone tried to register with it instead.

Until its link is followed a sign-up holds no address (``unconfirmed_email``,
not the unique ``email``): someone who signs up with another person's address
cannot stop that person from registering (a newer sign-up with the address
ends the older ones, and their links), nor from recovering a password. A
sign-up that is never confirmed is deleted after ``unconfirmed_days``.
Following the link shows a page whose button confirms: link scanners that
fetch every link in a mail confirm nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from ..models import AccountToken, TokenPurpose, User, UserStatus
from . import audit, mail_limits, serial, tokens
from .accounts import (
    AccountError,
    check_username_available,
    create_user,
    delete_user,
    email_problem,
    find_user_by_email,
    get_user,
    take_unconfirmed_address,
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


def _verification(ctx: Context, user: User) -> RegistrationMail | None:
    """What to mail a sign-up: a link to its address, or, when that address
    belongs to an account, a notice to the account's owner (within the owner's
    mail limit). The same statements run either way."""
    hours = _verify_hours(ctx)
    address = user.unconfirmed_email or ""
    owner = find_user_by_email(ctx, address)
    if owner is not None:
        mailed = mail_limits.account_may_receive(ctx, owner.id)
    else:
        mailed = mail_limits.address_may_receive(ctx, address)
    recipient = owner if owner is not None else user
    purpose = TokenPurpose.VERIFY_EMAIL
    mail_limits.record(ctx, purpose, recipient.id, mailed=mailed, address=address)
    if not mailed:
        return None
    # a new link voids the earlier ones; for a taken address no link is made at all,
    # but a decoy token is stored so that both cost the same
    tokens.void_unused(ctx, user, TokenPurpose.VERIFY_EMAIL)
    lifetime = timedelta(hours=hours)
    token = tokens.issue(ctx, user if owner is None else None, purpose, lifetime)
    if owner is not None:
        assert owner.email is not None
        return RegistrationMail(owner.email, owner.username, None, hours)
    return RegistrationMail(email=address, username=user.username, token=token, valid_hours=hours)


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
    address = email.strip()
    # one sign-up per address at a time: the newest ends the others, in order
    serial.hold(ctx, f"sign-up:{address.casefold()}")
    # the address is not the account's yet, but a password must not contain it either
    check_new_password(ctx.settings, password, username=normalize_username(username), email=address)
    _end_other_sign_ups(ctx, address)
    user = create_user(
        ctx,
        username,
        password=password,
        status=UserStatus.PENDING_EMAIL,
        event=Event.USER_REGISTERED,
    )
    user.unconfirmed_email = address
    user.unconfirmed_email_key = address.casefold()
    ctx.db.flush()
    return _verification(ctx, user)


def _end_other_sign_ups(ctx: Context, address: str) -> None:
    """Unconfirmed sign-ups with ``address`` end (their links with them): the newest
    sign-up is the one its owner can confirm."""
    others = ctx.db.scalars(
        select(User).where(
            User.status == UserStatus.PENDING_EMAIL.value,
            User.unconfirmed_email_key == address.casefold(),
        )
    ).all()
    for other in others:
        delete_user(ctx, other)


def resend_verification(ctx: Context, user: User) -> RegistrationMail | None:
    """A new link for a sign-up whose owner just proved the password (or a notice
    to the address's owner, as at registration).

    None while registration is closed: its links no longer work.
    """
    if ctx.settings.registration == CLOSED:
        return None
    if user.status != UserStatus.PENDING_EMAIL.value or not user.unconfirmed_email:
        return None
    return _verification(ctx, user)


def _link_and_sign_up(ctx: Context, token: str) -> tuple[AccountToken, User]:
    if ctx.settings.registration == CLOSED:
        raise RegistrationClosed("Registration is closed; ask an administrator for an account.")
    row = tokens.find(ctx, token, TokenPurpose.VERIFY_EMAIL)
    user = get_user(ctx, row.user_id) if row.user_id is not None else None
    if user is None:
        raise LinkError(LinkProblem.UNKNOWN)
    return row, user


def check_verification(ctx: Context, token: str) -> User:
    """The sign-up a verification link is for, if it can still be confirmed; raises
    :class:`LinkError`. Changes nothing (the page that asks to confirm)."""
    return _link_and_sign_up(ctx, token)[1]


def verify_email(ctx: Context, token: str) -> User:
    """Follow a verification link: the account moves on from ``pending_email``.

    Raises :class:`LinkError`. A link for an account that is no longer waiting
    (an administrator approved it meanwhile) is spent and changes nothing.
    """
    row, user = _link_and_sign_up(ctx, token)
    tokens.spend(ctx, row)
    if user.status == UserStatus.PENDING_EMAIL.value:
        take_unconfirmed_address(ctx, user)
        waiting = ctx.settings.registration == APPROVAL
        user.status = (UserStatus.PENDING_APPROVAL if waiting else UserStatus.ACTIVE).value
        ctx = ctx.acting_as(user.id, user.username)
        audit.record(ctx, Event.EMAIL_VERIFIED, target=user, details={"status": user.status})
    return user


def delete_unverified(ctx: Context) -> int:
    """Delete sign-ups never confirmed within ``registration.unconfirmed_days``:
    their username is free again. Audited as deletions."""
    cutoff = ctx.clock() - timedelta(days=ctx.settings.registration_unconfirmed_days)
    stale = ctx.db.scalars(
        select(User).where(User.status == UserStatus.PENDING_EMAIL.value, User.created_at <= cutoff)
    ).all()
    for user in stale:
        delete_user(ctx, user)
    return len(stale)
