"""Limits on requests that send mail (password recovery, registration).

Per network address (an IPv6 /64 counts as one): more than
``mail.ip_limit_per_hour`` requests in an hour are refused openly (429), which
reveals nothing about any account. Per account:
after ``mail.account_limit_per_hour`` mails in an hour further requests answer
exactly as before but send nothing, so nobody can flood a person's inbox and the
answer still does not tell whether the account exists.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select

from ..models import MailRequest
from . import serial
from .context import Context

WINDOW = timedelta(hours=1)


class TooManyRequests(Exception):
    """Refused openly: too many mail requests from this address; wait until ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"too many requests until {until.isoformat()}")
        self.until = until


def check_address(ctx: Context) -> None:
    """Raise :class:`TooManyRequests` if the caller's address has asked too often.

    The network's lock is held from here to the end of the transaction, which
    records this request: parallel requests from one network are decided one
    after another, each counting those before it.
    """
    serial.hold(ctx, f"mail-limit:network:{ctx.origin.network}")
    since = ctx.clock() - WINDOW
    count, oldest = ctx.db.execute(
        select(func.count(), func.min(MailRequest.created_at)).where(
            MailRequest.network == ctx.origin.network, MailRequest.created_at > since
        )
    ).one()
    if count >= ctx.settings.mail_ip_limit_per_hour and oldest is not None:
        raise TooManyRequests(oldest + WINDOW)


def account_may_receive(ctx: Context, user_id: int) -> bool:
    """Whether ``user_id`` may get another mail this hour; the account's lock is
    held until the transaction (which records the mail) ends."""
    serial.hold(ctx, f"mail-limit:account:{user_id}")
    since = ctx.clock() - WINDOW
    mailed = ctx.db.scalar(
        select(func.count()).where(
            MailRequest.user_id == user_id,
            MailRequest.mailed.is_(True),
            MailRequest.created_at > since,
        )
    )
    return (mailed or 0) < ctx.settings.mail_account_limit_per_hour


def address_may_receive(ctx: Context, address: str) -> bool:
    """Whether ``address`` may get another sign-up link this hour (sign-ups under new
    usernames must not flood one inbox); its lock is held like an account's."""
    key = address.casefold()
    serial.hold(ctx, f"mail-limit:address:{key}")
    mailed = ctx.db.scalar(
        select(func.count()).where(
            MailRequest.address_key == key,
            MailRequest.mailed.is_(True),
            MailRequest.created_at > ctx.clock() - WINDOW,
        )
    )
    return (mailed or 0) < ctx.settings.mail_account_limit_per_hour


def record(
    ctx: Context, purpose: str, user_id: int | None, *, mailed: bool, address: str | None = None
) -> None:
    ctx.db.add(
        MailRequest(
            purpose=purpose,
            user_id=user_id,
            address_key=address.casefold() if address else None,
            ip=ctx.origin.ip,
            network=ctx.origin.network,
            mailed=mailed,
            created_at=ctx.clock(),
        )
    )


def outside_the_window(ctx: Context) -> ColumnElement[bool]:
    """Requests no limit counts any more: what cleanup deletes."""
    return MailRequest.created_at <= ctx.clock() - WINDOW
