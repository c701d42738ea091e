"""Create, find, modify and delete users; account status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from ..models import UNTRUSTED_SCOPE, TokenPurpose, User, UserStatus
from . import audit, lockout, serial, sessions, tokens
from .account_fields import (
    AccountError,
    email_problem,
    full_name_problem,
    mail_address,
    mail_domain,
    username_problem,
)
from .audit import Event
from .context import SYSTEM_ACTOR, Context
from .password_policy import PasswordPolicyError, check_new_password
from .passwords import generate_password
from .usernames import normalize_username, username_key

__all__ = [
    "AccountError",
    "email_problem",
    "full_name_problem",
    "mail_address",
    "mail_domain",
    "username_problem",
]
RESERVED_USERNAMES = frozenset({SYSTEM_ACTOR})


def _email_key(email: str | None) -> str | None:
    email = (email or "").strip()
    return email.casefold() if email else None


def find_user(ctx: Context, username: str) -> User | None:
    if "\x00" in username:  # no account has one, and PostgreSQL refuses NUL in text
        return None
    return ctx.db.scalars(select(User).where(User.username_key == username_key(username))).first()


def find_user_by_email(ctx: Context, email: str) -> User | None:
    key = _email_key(email)
    if key is None or "\x00" in key:
        return None
    return ctx.db.scalars(select(User).where(User.email_key == key)).first()


def find_user_by_login(ctx: Context, username_or_email: str) -> User | None:
    """The account named by a username or an email address.

    An address is looked up as an address first: a username that happens to be
    someone else's address must not divert that person's password recovery.
    """
    if "@" in username_or_email:
        user = find_user_by_email(ctx, username_or_email)
        if user is not None:
            return user
    return find_user(ctx, username_or_email)


def get_user(ctx: Context, user_id: int) -> User | None:
    return ctx.db.get(User, user_id)


def require_user(ctx: Context, username: str) -> User:
    user = find_user(ctx, username)
    if user is None:
        raise AccountError(f"No user named {username!r}.")
    return user


def list_users(ctx: Context) -> Sequence[User]:
    return ctx.db.scalars(select(User).order_by(User.username_key)).all()


def count_users(ctx: Context) -> int:
    return ctx.db.scalar(select(func.count()).select_from(User)) or 0


def check_username_available(ctx: Context, username: str) -> None:
    """Raise :class:`AccountError` unless a new account could take ``username``."""
    problem = username_problem(username)
    if problem:
        raise AccountError(problem)
    key = username_key(username)
    if key in RESERVED_USERNAMES:
        raise AccountError(f"The username {normalize_username(username)!r} is reserved.")
    if find_user(ctx, key) is not None:
        raise AccountError("That username is already taken.")
    # a username that is another account's address would make "username or email"
    # ambiguous (recovery); said as "taken" so the address's owner is not revealed
    if "@" in key and find_user_by_email(ctx, key) is not None:
        raise AccountError("That username is already taken.")


def create_user(
    ctx: Context,
    username: str,
    *,
    password: str | None = None,
    email: str | None = None,
    full_name: str = "",
    is_admin: bool = False,
    must_change_password: bool = False,
    status: UserStatus = UserStatus.ACTIVE,
    extra: dict[str, Any] | None = None,
    event: Event = Event.USER_CREATED,
) -> User:
    """Create a user. Without a password the account cannot log in until one is set."""
    check_username_available(ctx, username)
    name_invalid = full_name_problem(full_name.strip())
    if name_invalid:
        raise AccountError(name_invalid)
    key = username_key(username)
    email_key = _email_key(email)
    if email_key:
        email_invalid = email_problem(email or "")
        if email_invalid:
            raise AccountError(email_invalid)
        if find_user_by_email(ctx, email_key) is not None:
            raise AccountError("That email address belongs to another account.")
    now = ctx.clock()
    user = User(
        username=normalize_username(username),
        username_key=key,
        email=(email or "").strip() or None,
        email_key=email_key,
        full_name=full_name.strip(),
        status=status.value,
        is_admin=is_admin,
        created_at=now,
        must_change_password=must_change_password,
        extra=extra or {},
    )
    if password is not None:
        check_password_for(ctx, user, password)
        user.password_hash = ctx.passwords.hash(password)
        user.password_changed_at = now
    ctx.db.add(user)
    ctx.db.flush()
    details = {"is_admin": is_admin, "status": status.value}
    audit.record(ctx, event, target=user, details=details)
    return user


def check_password_for(ctx: Context, user: User, password: str) -> None:
    """The password policy for ``user``'s own names; raises PasswordPolicyError."""
    check_new_password(
        ctx.settings,
        password,
        username=user.username,
        email=user.email,
        full_name=user.full_name or "",
    )


def store_new_password(
    ctx: Context,
    user: User,
    password: str,
    *,
    must_change: bool,
    keep_session_id: int | None = None,
) -> None:
    """Store a password that passed the policy; the old one's sessions and links die.

    Every session but ``keep_session_id`` ends, and unused reset links mailed
    earlier stop working: whoever held the old password (or a link) is out.
    """
    user.password_hash = ctx.passwords.hash(password)
    user.password_changed_at = ctx.clock()
    user.must_change_password = must_change
    sessions.end_user_sessions(ctx, user, keep_id=keep_session_id)
    tokens.void_unused(ctx, user, TokenPurpose.PASSWORD_RESET, TokenPurpose.SET_PASSWORD)


def set_password(
    ctx: Context, user: User, password: str, *, force_change: bool = False, reset: bool = True
) -> None:
    """Set a new password (policy applies) and end the user's sessions.

    ``reset`` is an administrator's or the command line's act (audited as a reset);
    the user's own change goes through the account pages instead.
    """
    check_password_for(ctx, user, password)
    store_new_password(ctx, user, password, must_change=force_change)
    event = Event.PASSWORD_RESET if reset else Event.PASSWORD_CHANGED
    audit.record(ctx, event, target=user, details={"force_change": force_change})


def set_status(ctx: Context, user: User, status: UserStatus) -> None:
    """Change the account status; anything but active ends every session at once.

    An administrator cannot disable their own account, nor the last active
    administrator (nobody could then unlock or enable anyone from the console).
    """
    previous = user.status
    if status is not UserStatus.ACTIVE:
        if user.id == ctx.origin.actor_id and user.id is not None:
            raise AccountError("You cannot disable your own account.")
        _keep_an_administrator(ctx, user, "disable")
    user.status = status.value
    if status is not UserStatus.ACTIVE:
        sessions.end_user_sessions(ctx, user)
    if status is UserStatus.DISABLED:
        event = Event.USER_DISABLED
    elif previous in (UserStatus.PENDING_APPROVAL, UserStatus.PENDING_EMAIL):
        event = Event.USER_APPROVED
    elif status is UserStatus.ACTIVE:
        event = Event.USER_ENABLED
    else:
        event = Event.USER_EDITED
    audit.record(ctx, event, target=user, details={"from": previous, "to": status.value})


def approve(ctx: Context, user: User) -> None:
    if user.status not in (UserStatus.PENDING_APPROVAL.value, UserStatus.PENDING_EMAIL.value):
        raise AccountError(f"{user.username} is not waiting for approval (status: {user.status}).")
    take_unconfirmed_address(ctx, user)  # the administrator vouches for it
    set_status(ctx, user, UserStatus.ACTIVE)


def take_unconfirmed_address(ctx: Context, user: User) -> None:
    """The sign-up's address becomes its account's (its link was followed, or an
    administrator approved it); refused if an account took the address meanwhile."""
    address = user.unconfirmed_email
    if not address:
        return
    if find_user_by_email(ctx, address) is not None:
        raise AccountError(
            "That email address now belongs to another account: register again with another."
        )
    user.email = address
    user.unconfirmed_email = None
    user.unconfirmed_email_key = None
    ctx.db.flush()


def count_active_admins(ctx: Context) -> int:
    query = select(func.count()).where(User.is_admin.is_(True), User.status == UserStatus.ACTIVE)
    return ctx.db.scalar(query) or 0


def hold_administrators(ctx: Context) -> None:
    """Hold, to the end of the transaction, the right to remove an administrator.
    Taken before the user's row lock, so removals never wait in a circle."""
    serial.hold(ctx, "last-administrator")


def _keep_an_administrator(ctx: Context, user: User, verb: str) -> None:
    """Refuse to take away the last active administrator.

    Every change that can remove one holds the same named lock, then counts the
    active administrators as committed by whoever held it before (not from
    ``user`` as this request loaded it): of administrators removing one another
    at once, the last is refused. Their rows are not locked: a row another
    request holds while it waits for our lock would be a deadlock.
    """
    hold_administrators(ctx)
    admins = ctx.db.scalars(
        select(User.id).where(User.is_admin.is_(True), User.status == UserStatus.ACTIVE)
    ).all()
    if user.id in admins and len(admins) == 1:
        raise AccountError(
            f"You cannot {verb} the last active administrator: make another user an "
            "administrator first."
        )


def delete_user(ctx: Context, user: User) -> None:
    if user.id == ctx.origin.actor_id:
        raise AccountError("You cannot delete your own account.")
    _keep_an_administrator(ctx, user, "delete")
    audit.record(ctx, Event.USER_DELETED, target=user)
    ctx.db.delete(user)
    ctx.db.flush()


def set_admin(ctx: Context, user: User, is_admin: bool) -> None:
    """Grant or revoke administrator rights. Nobody revokes their own (another
    administrator must), and the last active administrator keeps them."""
    if user.is_admin == is_admin:
        return
    if not is_admin:
        if user.id == ctx.origin.actor_id:
            raise AccountError(
                "You cannot remove your own administrator rights: ask another administrator."
            )
        _keep_an_administrator(ctx, user, "remove administrator rights from")
    user.is_admin = is_admin
    audit.record(ctx, Event.ADMIN_GRANTED if is_admin else Event.ADMIN_REVOKED, target=user)


def edit_user(ctx: Context, user: User, *, email: str | None, full_name: str) -> None:
    """Change a user's address and full name; audited with what changed."""
    email = (email or "").strip() or None
    full_name = full_name.strip()
    name_invalid = full_name_problem(full_name)
    if name_invalid:
        raise AccountError(name_invalid)
    changes: dict[str, Any] = {}
    if email != user.email:
        key = _email_key(email)
        if email is not None:
            problem = email_problem(email)
            if problem:
                raise AccountError(problem)
            other = find_user_by_email(ctx, email)
            if other is not None and other.id != user.id:
                raise AccountError("That email address belongs to another account.")
        changes["email"] = [user.email, email]
        user.email, user.email_key = email, key
        # links already mailed to the old address must not open the account
        tokens.void_unused(ctx, user, *TokenPurpose)
    if full_name != user.full_name:
        changes["full_name"] = [user.full_name, full_name]
        user.full_name = full_name
    if changes:
        audit.record(ctx, Event.USER_EDITED, target=user, details=changes)


def force_password_change(ctx: Context, user: User) -> None:
    """The user must choose a new password at their next page view."""
    user.must_change_password = True
    audit.record(ctx, Event.PASSWORD_CHANGE_FORCED, target=user)


def reset_password(
    ctx: Context, user: User, password: str | None, *, force_change: bool = True
) -> str | None:
    """An administrator sets a temporary password: ``password`` (the policy applies)
    or, when None, a generated one, which is returned to be shown once.

    The user's sessions end and their lockout is cleared, so the temporary
    password works at once (as after a mailed reset link).
    """
    if user.id == ctx.origin.actor_id:
        raise AccountError("Change your own password on your account's Change password page.")
    generated = generate_password() if password is None else None
    chosen = password if password is not None else generated
    assert chosen is not None
    set_password(ctx, user, chosen, force_change=force_change)
    lockout.unlock(ctx, user.username_key, user)
    return generated


def ensure_first_admin(ctx: Context, username: str = "admin") -> tuple[User, str] | None:
    """Create the first administrator if there is no user yet.

    Returns the user and its one-time password (to be shown once), or None when
    users already exist. The password must be changed at first login.
    """
    if count_users(ctx) > 0:
        return None
    password = generate_password()
    user = create_user(ctx, username, password=password, is_admin=True, must_change_password=True)
    return user, password


class WrongPasswordError(AccountError):
    """The current password given was wrong (counted like a failed login)."""


def change_own_password(
    ctx: Context,
    user: User,
    current: str,
    new: str,
    *,
    keep_id: int | None = None,
    scope: str = UNTRUSTED_SCOPE,
) -> None:
    """A user changes their own password; every other session of theirs ends.

    A wrong current password counts as a login failure of ``scope``, so this
    page cannot be used to guess passwords past the lockout. The scope's lock
    row is taken (and held) before the password is checked, so a parallel
    failure that locks the scope is seen, whatever this attempt's password.
    """
    held = lockout.hold_for_attempt(ctx, user.username_key, scope)
    if held.until is not None:
        until = held.until
        raise AccountError(f"Too many failed attempts: try again after {until:%Y-%m-%d %H:%M} UTC.")
    if not ctx.passwords.verify(user.password_hash, current).ok:
        lockout.record_failure(
            ctx, user.username_key, scope=scope, user=user, reason="current_password"
        )
        raise WrongPasswordError("Your current password is not correct.")
    if new == current:
        raise PasswordPolicyError("Choose a new password that differs from the current one.")
    check_password_for(ctx, user, new)
    store_new_password(ctx, user, new, must_change=False, keep_session_id=keep_id)
    audit.record(ctx, Event.PASSWORD_CHANGED, target=user)
