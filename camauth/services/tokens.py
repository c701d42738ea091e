"""Single-use tokens for links sent by mail (password reset, email verification).

The link carries a random 256-bit token; the table keeps its SHA-256 digest. A
token is spent with one conditional UPDATE, so two clicks racing on the same
link cannot both succeed.
"""

from __future__ import annotations

import enum
from datetime import timedelta

from sqlalchemy import ColumnElement, select, update

from ..models import AccountToken, TokenPurpose, User
from .bulk import execute_bulk
from .context import Context
from .sessions import new_token, token_digest

# a real token is 43 characters; anything much longer is not worth hashing
MAX_TOKEN_LENGTH = 200
KEPT_AFTER_EXPIRY = timedelta(days=7)


class LinkProblem(enum.Enum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"


class LinkError(ValueError):
    """A mailed link cannot be used; ``problem`` says why."""

    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def issue(ctx: Context, user: User | None, purpose: TokenPurpose, lifetime: timedelta) -> str:
    """A new token for ``user``; returns the raw token (to be mailed, never stored).

    ``user=None`` stores a decoy that no link can use, for work that must cost the
    same whether or not an account exists.
    """
    token = new_token()
    now = ctx.clock()
    ctx.db.add(
        AccountToken(
            token_digest=token_digest(token),
            purpose=purpose.value,
            user_id=user.id if user is not None else None,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return token


def find(ctx: Context, token: str, purpose: TokenPurpose) -> AccountToken:
    """The usable token row for ``token``, or :class:`LinkError` saying why not."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise LinkError(LinkProblem.UNKNOWN)
    row = ctx.db.scalars(
        select(AccountToken).where(
            AccountToken.token_digest == token_digest(token),
            AccountToken.purpose == purpose.value,
        )
    ).first()
    if row is None or row.user_id is None:
        raise LinkError(LinkProblem.UNKNOWN)
    if row.used_at is not None:
        raise LinkError(LinkProblem.USED)
    if row.expires_at <= ctx.clock():
        raise LinkError(LinkProblem.EXPIRED)
    return row


def spend(ctx: Context, row: AccountToken) -> None:
    """Mark ``row`` used, or raise ``LinkError(USED)`` if another request just did."""
    spent = execute_bulk(
        ctx.db,
        update(AccountToken)
        .where(AccountToken.id == row.id, AccountToken.used_at.is_(None))
        .values(used_at=ctx.clock()),
    )
    if spent != 1:
        raise LinkError(LinkProblem.USED)


def void_unused(ctx: Context, user: User, *purposes: TokenPurpose) -> int:
    """Spend every outstanding token of these purposes (a new password voids old
    links), in one statement."""
    return execute_bulk(
        ctx.db,
        update(AccountToken)
        .where(
            AccountToken.user_id == user.id,
            AccountToken.purpose.in_([purpose.value for purpose in purposes]),
            AccountToken.used_at.is_(None),
        )
        .values(used_at=ctx.clock()),
    )


def long_expired(ctx: Context) -> ColumnElement[bool]:
    """Links expired a week ago or more: what cleanup deletes.

    Kept that long so a late click is told "expired" or "used" rather than "not
    valid", and so unconfirmed sign-ups are recognised by their last link.
    """
    return AccountToken.expires_at <= ctx.clock() - KEPT_AFTER_EXPIRY
