"""Who an identity at another provider logs in as (PRODUCT §18).

An identity is the pair (issuer, subject). Linked to a user, it logs in as that
user. Unlinked, it is linked to the account with the same email address only
when the provider is trusted to do so (``link_by_email``) and says the address
is verified; otherwise an account is made for it only when the provider's
``signup`` allows it (a verified address in an allowed domain; ``approval``
leaves the account waiting for an administrator). Anything else is refused,
with a reason for the audit log and a sentence for the person.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

from sqlalchemy import func, select

from ..models import ExternalIdentity, User, UserStatus
from . import accounts, audit, serial
from .account_fields import AccountError, full_name_problem
from .audit import Event
from .context import Context
from .oidc_client import LoginRefused, VerifiedIdentity
from .oidc_providers import Provider

_USERNAME_SAFE = re.compile(r"[^a-z0-9._-]+")


def find_identity(ctx: Context, issuer: str, subject: str) -> ExternalIdentity | None:
    return ctx.db.scalar(
        select(ExternalIdentity).where(
            ExternalIdentity.issuer == issuer, ExternalIdentity.subject == subject
        )
    )


def identities_of(ctx: Context, user: User) -> Sequence[ExternalIdentity]:
    return ctx.db.scalars(
        select(ExternalIdentity)
        .where(ExternalIdentity.user_id == user.id)
        .order_by(ExternalIdentity.provider, ExternalIdentity.id)
    ).all()


def refuse(
    ctx: Context, provider: Provider, refused: LoginRefused, user: User | None = None
) -> None:
    """Record a refused login through ``provider`` (the caller commits it anyway)."""
    details = {"provider": provider.name, "reason": refused.reason}
    audit.record(ctx, Event.EXTERNAL_LOGIN_REFUSED, target=user, details=details)


def link(ctx: Context, provider: Provider, identity: VerifiedIdentity, user: User) -> None:
    """Link ``identity`` to ``user``; refused if it already belongs to someone."""
    serial.hold(ctx, f"identity:{identity.issuer}:{identity.subject}")
    existing = find_identity(ctx, identity.issuer, identity.subject)
    if existing is not None:
        if existing.user_id == user.id:
            return
        raise LoginRefused(
            "identity_taken",
            f"This {provider.label} login already belongs to another account here.",
        )
    ctx.db.add(
        ExternalIdentity(
            user_id=user.id,
            provider=provider.name,
            issuer=identity.issuer,
            subject=identity.subject,
            email=identity.email[:254],
            created_at=ctx.clock(),
        )
    )
    ctx.db.flush()
    audit.record(ctx, Event.IDENTITY_LINKED, target=user, details={"provider": provider.name})


def identity_of(ctx: Context, user: User, identity_id: int) -> ExternalIdentity | None:
    """``user``'s identity ``identity_id``; None if there is none (or it is another's)."""
    identity = ctx.db.get(ExternalIdentity, identity_id)
    return identity if identity is not None and identity.user_id == user.id else None


def unlink(
    ctx: Context, user: User, identity_id: int, *, by_administrator: bool = False
) -> ExternalIdentity:
    """Remove one of ``user``'s identities; never their last way to log in (an
    administrator is refused that too: the person could not log in any more)."""
    serial.hold_row(ctx, user, key_share=True)
    identity = ctx.db.get(ExternalIdentity, identity_id)
    if identity is None or identity.user_id != user.id:
        raise AccountError("That provider login is not linked to this account.")
    others = ctx.db.scalar(
        select(func.count())
        .select_from(ExternalIdentity)
        .where(ExternalIdentity.user_id == user.id, ExternalIdentity.id != identity.id)
    )
    if user.password_hash is None and not others and by_administrator:
        raise AccountError(
            f"This is the only way {user.username} can log in: they have no password and "
            "no other provider login. Reset their password first."
        )
    if user.password_hash is None and not others:
        raise AccountError(
            "This is your only way to log in: set a password or link another provider first."
        )
    ctx.db.delete(identity)
    ctx.db.flush()
    audit.record(ctx, Event.IDENTITY_UNLINKED, target=user, details={"provider": identity.provider})
    return identity


def _available(ctx: Context, username: str) -> bool:
    try:
        accounts.check_username_available(ctx, username)  # reserved names too
    except AccountError:
        return False
    return True


def _free_username(ctx: Context, email: str) -> str:
    base = _USERNAME_SAFE.sub("", email.partition("@")[0].lower())[:30].strip("._-") or "user"
    for candidate in [base] + [f"{base}{n}" for n in range(2, 20)]:
        if _available(ctx, candidate):
            return candidate
    return f"user-{secrets.token_hex(6)}"


def _sign_up(ctx: Context, provider: Provider, identity: VerifiedIdentity) -> User:
    email = identity.email
    if not email or not identity.email_verified:
        raise LoginRefused(
            "email_unverified",
            f"{provider.label} did not confirm an email address for this login, so no "
            "account can be made for it.",
        )
    if accounts.email_problem(email):
        raise LoginRefused("email_unusable", "The address the provider gave cannot be used here.")
    if not provider.allows_domain(email):
        raise LoginRefused(
            "domain_not_allowed",
            f"Accounts are made for {provider.label} logins of "
            f"{', '.join(provider.allowed_domains)} addresses only.",
        )
    # one sign-up at a time: two identities choosing one username or address would
    # otherwise both pass the checks and one fail on the unique index
    serial.hold(ctx, "external-sign-up")
    if accounts.find_user_by_email(ctx, email) is not None:
        raise LoginRefused(
            "email_taken",
            "An account with this email address exists already: log in with your "
            f"password, then link {provider.label} on your account page.",
        )
    status = UserStatus.PENDING_APPROVAL if provider.signup == "approval" else UserStatus.ACTIVE
    name = " ".join(identity.name.split())
    try:
        user = accounts.create_user(
            ctx,
            _free_username(ctx, email),
            email=email,
            full_name="" if full_name_problem(name) else name,
            status=status,
            event=Event.USER_REGISTERED,
        )
    except AccountError as refused:
        raise LoginRefused("signup_refused", str(refused)) from None
    link(ctx, provider, identity, user)
    return user


def resolve(ctx: Context, provider: Provider, identity: VerifiedIdentity) -> User:
    """The user ``identity`` logs in as (linking or signing up as the provider
    allows); LoginRefused otherwise. Status is the caller's to check."""
    # two callbacks of one identity at once make one account, not two
    serial.hold(ctx, f"identity:{identity.issuer}:{identity.subject}")
    linked = find_identity(ctx, identity.issuer, identity.subject)
    if linked is not None:
        user = ctx.db.get(User, linked.user_id)
        assert user is not None  # the foreign key cascades
        linked.email = identity.email[:254]
        return user
    if _may_link_by_email(provider, identity):
        user = accounts.find_user_by_email(ctx, identity.email)
        # only to an account that can log in: a link to a disabled one would be stuck
        if user is not None and user.is_active:
            link(ctx, provider, identity, user)
            return user
    if provider.signup != "off":
        return _sign_up(ctx, provider, identity)
    raise LoginRefused(
        "not_linked",
        f"No account here is linked to this {provider.label} login. Log in with your "
        "password, then link it on your account page.",
    )


def _may_link_by_email(provider: Provider, identity: VerifiedIdentity) -> bool:
    """A verified address, in the plain form camauth's own addresses take: casefolded
    Unicode would match lookalikes (the Kelvin sign's K is an ASCII k)."""
    return (
        provider.link_by_email
        and identity.email_verified
        and bool(identity.email)
        and identity.email.isascii()
        and accounts.email_problem(identity.email) is None
    )


def logged_in(ctx: Context, provider: Provider, user: User, identity: VerifiedIdentity) -> None:
    """The login is complete (after camauth's own second step, when it has one)."""
    now = ctx.clock()
    user.last_login_at = now
    linked = find_identity(ctx, identity.issuer, identity.subject)
    if linked is not None:
        linked.last_login_at = now
    audit.record(ctx, Event.EXTERNAL_LOGIN, target=user, details={"provider": provider.name})
