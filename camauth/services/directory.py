"""The administrators' view of accounts: search, filter and page through users,
and everything about one user on a single page (PRODUCT §9).

A list page costs three indexed queries whatever the number of users: the page
of users itself (keyset paging by username), then the lock and the live
sessions of just those users.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select

from ..models import AuditEvent, Lockout, TwoFactorCredential, User, UserStatus, WebSession
from . import lockout, recovery_codes, sessions
from .context import Context
from .paging import Cursor, Page, keyset_page
from .usernames import normalize_username

MAX_SEARCH = 200  # characters; longer than any username, address or name


class SearchError(ValueError):
    """A search the console cannot run; the message says why."""


@dataclass(frozen=True)
class UserFilter:
    text: str = ""  # part of a username, email address or full name
    status: UserStatus | None = None


@dataclass(frozen=True)
class UserRow:
    user: User
    locked_until: datetime | None  # the latest lock of any of the username's scopes
    sessions: int  # live sessions


def _like_pattern(text: str) -> str:
    """``text`` as a LIKE pattern matching it anywhere, its own % and _ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matching(criteria: UserFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    text = normalize_username(criteria.text)
    if len(text) > MAX_SEARCH:
        raise SearchError(f"Search for at most {MAX_SEARCH} characters.")
    if "\x00" in text:
        raise SearchError("The search contains a character that cannot be searched for.")
    if text:
        # every searched column has a casefolded *_key twin
        folded = _like_pattern(text.casefold())
        conditions.append(
            or_(
                User.username_key.like(folded, escape="\\"),
                User.email_key.like(folded, escape="\\"),
                User.full_name_key.like(folded, escape="\\"),
            )
        )
    if criteria.status is not None:
        conditions.append(User.status == criteria.status.value)
    return conditions


def search_users(
    ctx: Context, criteria: UserFilter, cursor: Cursor | None = None, per_page: int = 50
) -> Page[UserRow]:
    """A page of users matching ``criteria``, in username order."""
    query = select(User).where(*_matching(criteria))
    page = keyset_page(
        ctx.db,
        query,
        [User.username_key],
        lambda row: (row[0].username_key,),
        descending=False,
        cursor=cursor,
        per_page=per_page,
    )
    users = [row[0] for row in page.items]
    locks = _locked_until(ctx, [user.username_key for user in users])
    counts = _live_session_counts(ctx, [user.id for user in users])
    rows = [UserRow(user, locks.get(user.username_key), counts.get(user.id, 0)) for user in users]
    return Page(rows, page.previous, page.next)


def count_users(ctx: Context, criteria: UserFilter) -> int:
    query = select(func.count()).select_from(User).where(*_matching(criteria))
    return ctx.db.scalar(query) or 0


def _locked_until(ctx: Context, username_keys: Sequence[str]) -> dict[str, datetime]:
    if not username_keys:
        return {}
    query = (
        select(Lockout.username_key, func.max(Lockout.locked_until))
        .where(Lockout.username_key.in_(username_keys), Lockout.locked_until > ctx.clock())
        .group_by(Lockout.username_key)
    )
    return {key: until for key, until in ctx.db.execute(query).all() if until is not None}


def _live_session_counts(ctx: Context, user_ids: Sequence[int]) -> dict[int, int]:
    if not user_ids:
        return {}
    query = (
        select(WebSession.user_id, func.count())
        .where(WebSession.user_id.in_(user_ids), *sessions.logged_in_and_live(ctx))
        .group_by(WebSession.user_id)
    )
    counts = ctx.db.execute(query).all()
    return {user_id: count for user_id, count in counts if user_id is not None}


@dataclass(frozen=True)
class ScopeLock:
    scope: str  # "" for untrusted clients, else a device id
    failures: int
    locked_until: datetime | None


@dataclass(frozen=True)
class UserOverview:
    """What an administrator sees about one user (PRODUCT §9)."""

    user: User
    locks: list[ScopeLock]
    password_age: timedelta | None
    two_factor: TwoFactorCredential | None
    recovery_codes_left: int
    sessions: Sequence[WebSession]
    recent_events: Sequence[AuditEvent] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(lock.failures for lock in self.locks)

    @property
    def locked_until(self) -> datetime | None:
        times = [lock.locked_until for lock in self.locks if lock.locked_until is not None]
        return max(times) if times else None


RECENT_EVENTS = 20


def overview(ctx: Context, user: User) -> UserOverview:
    now = ctx.clock()
    scopes = ctx.db.scalars(
        select(Lockout.scope).where(Lockout.username_key == user.username_key)
    ).all()
    locks = [
        ScopeLock(
            scope,
            lockout.current_failures(ctx, user.username_key, scope),
            lockout.locked_until(ctx, user.username_key, scope),
        )
        for scope in sorted(scopes)
    ]
    credential = ctx.db.scalars(
        select(TwoFactorCredential).where(TwoFactorCredential.user_id == user.id)
    ).first()
    events = ctx.db.scalars(
        select(AuditEvent)
        .where(AuditEvent.target_id == user.id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(RECENT_EVENTS)
    ).all()
    changed = user.password_changed_at
    return UserOverview(
        user=user,
        locks=[lock for lock in locks if lock.failures or lock.locked_until],
        password_age=now - changed if changed is not None else None,
        two_factor=credential,
        recovery_codes_left=recovery_codes.remaining(ctx, user) if credential else 0,
        sessions=sessions.live_sessions(ctx, user),
        recent_events=events,
    )


def users_by_status(ctx: Context) -> dict[str, int]:
    """How many accounts have each status (every status listed, zeros included)."""
    counted = dict(ctx.db.execute(select(User.status, func.count()).group_by(User.status)).all())
    return {status.value: counted.get(status.value, 0) for status in UserStatus}
