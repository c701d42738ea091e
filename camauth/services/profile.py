"""A person's own profile (full name, time zone) and the change of their email
address, which takes effect only when a link mailed to the new address is
followed: an address nobody proved cannot receive password-reset links.

Asking for an address another account holds looks the same from outside as any
other request (the answer does not tell whether an address is registered); that
address's owner gets a notice instead of a link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ..models import AccountToken, TokenPurpose, User
from ..time_zones import zone
from . import audit, mail_limits, serial, tokens
from .account_fields import AccountError, email_problem, full_name_problem
from .accounts import find_user_by_email, get_user
from .audit import Event
from .context import Context
from .tokens import LinkError, LinkProblem


@dataclass(frozen=True)
class EmailChangeMail:
    """What to mail after a change of address was asked for: a link to the new
    address (``token``), or, when another account holds it, a notice (no token);
    and a word to the old address, so the account's owner hears of it."""

    user: User
    new_address: str
    old_address: str | None
    token: str | None
    valid_hours: int


def update_profile(ctx: Context, user: User, *, full_name: str, time_zone: str) -> bool:
    """Store the person's own name and time zone ("" = the site's); audited with
    what changed. Returns whether anything changed."""
    full_name = " ".join(full_name.split())
    problem = full_name_problem(full_name)
    if problem:
        raise AccountError(problem)
    if time_zone and zone(time_zone) is None:
        raise AccountError("Choose a time zone from the list.")
    changes: dict[str, list[str | None]] = {}
    if full_name != user.full_name:
        changes["full_name"] = [user.full_name, full_name]
        user.full_name = full_name
    if time_zone != user.time_zone:
        changes["time_zone"] = [user.time_zone or None, time_zone or None]
        user.time_zone = time_zone
    if changes:
        audit.record(ctx, Event.PROFILE_EDITED, target=user, details=changes)
    return bool(changes)


def request_email_change(ctx: Context, user: User, new_address: str) -> EmailChangeMail:
    """Remember ``new_address`` as asked for and say what to mail. A newer request
    voids the links of older ones. Raises :class:`mail_limits.TooManyRequests` when
    the caller's network asked for too many mails, :class:`AccountError` when this
    account or that address had its mails this hour."""
    new_address = new_address.strip()
    problem = email_problem(new_address)
    if problem:
        raise AccountError(problem)
    if user.email and new_address.casefold() == user.email.casefold():
        raise AccountError("That is already your email address.")
    mail_limits.check_address(ctx)
    # the account's row locked: of two requests at once, the second sees the first's
    # link and voids it, so only the newest address's link can be followed
    serial.hold_row(ctx, user)
    if not (
        mail_limits.account_may_receive(ctx, user.id)
        and mail_limits.address_may_receive(ctx, new_address)
    ):
        raise AccountError("Too many mails were asked for this hour: try again later.")
    mail_limits.record(ctx, TokenPurpose.CHANGE_EMAIL, user.id, mailed=True, address=new_address)
    tokens.void_unused(ctx, user, TokenPurpose.CHANGE_EMAIL)
    hours = ctx.settings.registration_verify_hours
    # shown as waiting for confirmation either way: the page must not tell whether
    # another account has the address (that one gets a notice, and no link exists)
    user.unconfirmed_email = new_address
    user.unconfirmed_email_key = new_address.casefold()
    token = None
    if find_user_by_email(ctx, new_address) is None:
        token = tokens.issue(ctx, user, TokenPurpose.CHANGE_EMAIL, timedelta(hours=hours))
    audit.record(ctx, Event.EMAIL_CHANGE_REQUESTED, target=user, details={"to": new_address})
    return EmailChangeMail(user, new_address, user.email, token, hours)


def pending_address(user: User) -> str | None:
    """The address a change was asked for and not yet confirmed (an active account's
    ``unconfirmed_email``; a sign-up's is its registration address)."""
    return user.unconfirmed_email if user.is_active else None


def _change_of(ctx: Context, token: str) -> tuple[AccountToken, User]:
    row = tokens.find(ctx, token, TokenPurpose.CHANGE_EMAIL)
    user = get_user(ctx, row.user_id) if row.user_id is not None else None
    if user is None or not user.unconfirmed_email or not user.is_active:
        raise LinkError(LinkProblem.UNKNOWN)
    return row, user


def check_email_change(ctx: Context, token: str) -> User:
    """The account a usable change link is for (its ``unconfirmed_email`` is the
    new address), or :class:`LinkError`; changes nothing."""
    return _change_of(ctx, token)[1]


def confirm_email_change(ctx: Context, token: str) -> tuple[User, str | None]:
    """Follow a mailed link: the new address becomes the account's. Returns the
    account and its old address. Raises :class:`LinkError` for a bad link and
    :class:`AccountError` when another account took the address meanwhile."""
    row, user = _change_of(ctx, token)
    address = user.unconfirmed_email or ""
    # one decision at a time per address: two accounts confirming it at once would
    # otherwise both pass the check below and the second fail on the unique key
    serial.hold(ctx, f"email:{address.casefold()}")
    other = find_user_by_email(ctx, address)
    if other is not None and other.id != user.id:
        raise AccountError("That email address now belongs to another account.")
    tokens.spend(ctx, row)
    old = user.email
    user.email, user.email_key = address, address.casefold()
    user.unconfirmed_email = user.unconfirmed_email_key = None
    # no link mailed to the old address may open the account any more
    tokens.void_unused(ctx, user, *TokenPurpose)
    audit.record(ctx, Event.EMAIL_CHANGED, target=user, details={"email": [old, address]})
    return user, old
