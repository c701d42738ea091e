"""The administrators' view of accounts: search, filter and page through users,
and everything about one user on a single page (PRODUCT §9).

A list page costs three indexed queries whatever the number of users: the page
of users itself (keyset paging by username), then the lock and the live
sessions of just those users.

A search of three or more characters finds the text anywhere in a username,
address or full name (PostgreSQL's trigram indexes serve it). One or two
characters are too short for trigrams and would match most names anywhere, so
they find the names that *start* with them, from B-tree indexes (migration
0009), and their count stops at ``COUNT_CAP`` ("more than 1,000"): neither reads
every user.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import QueryableAttribute

from ..models import AuditEvent, Lockout, TwoFactorCredential, User, UserStatus, WebSession
from . import lockout, recovery_codes, sessions
from .context import Context
from .paging import Cursor, Page, keyset_page
from .usernames import normalize_username

MAX_SEARCH = 200  # characters; longer than any username, address or name
SHORT_SEARCH = 2  # characters: a search this short or shorter matches the start of names
COUNT_CAP = 1000  # a short search's count stops here: "more than 1,000 users match"


class SearchError(ValueError):
    """A search the console cannot run; the message says why."""


@dataclass(frozen=True)
class UserFilter:
    text: str = ""  # part of a username, email address or full name
    status: UserStatus | None = None


@dataclass(frozen=True)
class MatchCount:
    """How many users match: exactly ``number``, or, if ``more``, more than ``number``
    (a short search stops counting at ``COUNT_CAP``)."""

    number: int
    more: bool = False

    def __str__(self) -> str:
        return f"more than {self.number:,}" if self.more else f"{self.number:,}"


@dataclass(frozen=True)
class UserRow:
    user: User
    locked_until: datetime | None  # the latest lock of any of the username's scopes
    sessions: int  # live sessions


def _escaped(text: str) -> str:
    """``text`` in a LIKE pattern, its own % and _ (and the escape \\) taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _after_prefix(prefix: str) -> str | None:
    """The least string that sorts (by code point) after every string starting with
    ``prefix``, or None if there is none."""
    for position in range(len(prefix) - 1, -1, -1):
        code = ord(prefix[position]) + 1
        code = 0xE000 if code == 0xD800 else code  # surrogates are not characters
        if code <= 0x10FFFF:
            return prefix[:position] + chr(code)
    return None


def _starts_with(
    column: QueryableAttribute[Any], prefix: str, on_postgresql: bool
) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``, as a condition an index range serves."""
    if not on_postgresql:
        # SQLite takes a LIKE to an index only if it has the NOCASE collation; a
        # range of the column's own (binary, code point order) index is the same match
        after = _after_prefix(prefix)
        at_least = column >= prefix
        return at_least if after is None else and_(at_least, column < after)
    # PostgreSQL: LIKE 'ma%' is a range of a text_pattern_ops index, whatever the
    # database's collation
    return column.like(_escaped(prefix) + "%", escape="\\")


def matches_start_only(criteria: UserFilter) -> bool:
    """Whether the search is short enough to find only names starting with it."""
    return 0 < len(normalize_username(criteria.text)) <= SHORT_SEARCH


def _matching(ctx: Context, criteria: UserFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    text = normalize_username(criteria.text)
    if len(text) > MAX_SEARCH:
        raise SearchError(f"Search for at most {MAX_SEARCH} characters.")
    if "\x00" in text:
        raise SearchError("The search contains a character that cannot be searched for.")
    # every searched column has a casefolded *_key twin
    searched = (User.username_key, User.email_key, User.full_name_key)
    folded = text.casefold()
    if matches_start_only(criteria):
        on_postgresql = ctx.on_postgresql
        conditions.append(
            or_(*(_starts_with(column, folded, on_postgresql) for column in searched))
        )
    elif text:
        anywhere = f"%{_escaped(folded)}%"
        conditions.append(or_(*(column.like(anywhere, escape="\\") for column in searched)))
    if criteria.status is not None:
        conditions.append(User.status == criteria.status.value)
    return conditions


def search_users(
    ctx: Context, criteria: UserFilter, cursor: Cursor | None = None, per_page: int = 50
) -> Page[UserRow]:
    """A page of users matching ``criteria``, in username order."""
    query = select(User).where(*_matching(ctx, criteria))
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


def count_users(ctx: Context, criteria: UserFilter) -> MatchCount:
    """How many users match; for a short search, up to ``COUNT_CAP`` and then "more"."""
    conditions = _matching(ctx, criteria)
    if not matches_start_only(criteria):
        query = select(func.count()).select_from(User).where(*conditions)
        return MatchCount(ctx.db.scalar(query) or 0)
    # a short search can match most users: count no further than one past the cap
    first = select(User.id).where(*conditions).limit(COUNT_CAP + 1).subquery()
    found = ctx.db.scalar(select(func.count()).select_from(first)) or 0
    return MatchCount(COUNT_CAP, more=True) if found > COUNT_CAP else MatchCount(found)


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
