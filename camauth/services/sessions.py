"""Server-side sessions: create, look up, end, list, clean up.

The cookie carries a random token; the table keeps only its SHA-256 digest, so
a copy of the database does not let anyone act as a logged-in user.
"""

from __future__ import annotations

import enum
import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, delete, func, or_, select, update

from ..models import DeviceRequest, DeviceRequestStatus, SessionKind, User, WebSession, table_of
from ..settings import Settings
from . import audit
from .audit import Event
from .bulk import execute_bulk
from .context import Context
from .paging import PER_PAGE, Cursor, Page, keyset_page

TOKEN_BYTES = 32  # 256 bits; PRODUCT asks for at least 128


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def lifetimes(settings: Settings, kind: str) -> tuple[timedelta, timedelta]:
    """(idle timeout, absolute timeout) of a session of this kind."""
    if kind == SessionKind.API:
        return settings.api_session_timeouts
    return settings.browser_session_timeouts


def idle_cutoff(settings: Settings, now: datetime, kind: str = SessionKind.BROWSER) -> datetime:
    """Sessions of this kind last seen at or before this have timed out."""
    return now - lifetimes(settings, kind)[0]


def absolute_cutoff(settings: Settings, now: datetime, kind: str = SessionKind.BROWSER) -> datetime:
    """Sessions of this kind created at or before this have timed out."""
    return now - lifetimes(settings, kind)[1]


def expires_at(
    settings: Settings, *, kind: str, created_at: datetime, last_seen_at: datetime
) -> datetime:
    """When a session ends if it is not used again: the earlier of its two timeouts."""
    idle, absolute = lifetimes(settings, kind)
    return min(last_seen_at + idle, created_at + absolute)


def timed_out(
    settings: Settings,
    now: datetime,
    *,
    created_at: datetime,
    last_seen_at: datetime,
    kind: str = SessionKind.BROWSER,
) -> bool:
    """The idle and absolute timeouts, for a session already loaded."""
    idle, absolute = lifetimes(settings, kind)
    return now - last_seen_at >= idle or now - created_at >= absolute


def _live(ctx: Context, kind: SessionKind) -> ColumnElement[bool]:
    now = ctx.clock()
    return and_(
        WebSession.kind == kind.value,
        WebSession.last_seen_at > idle_cutoff(ctx.settings, now, kind),
        WebSession.created_at > absolute_cutoff(ctx.settings, now, kind),
    )


def logged_in_and_live(ctx: Context) -> list[ColumnElement[bool]]:
    """The same rule in SQL: logged-in sessions that have not timed out."""
    return [WebSession.user_id.is_not(None), or_(*(_live(ctx, kind) for kind in SessionKind))]


# Built once: this runs on every request that carries a session cookie.
_LOAD_BY_DIGEST = (
    select(WebSession, User)
    .outerjoin(User, User.id == WebSession.user_id)
    .where(WebSession.token_digest == bindparam("digest"))
)


@dataclass
class LoadedSession:
    row: WebSession
    user: User | None


class Refusal(enum.Enum):
    """Why a stored session may not be used."""

    TIMED_OUT = "timed out"  # idle or absolute timeout: the row is dead
    USER_INACTIVE = "user inactive"  # disabled or pending: the row is dead
    OTHER_IP = "other IP"  # bound to another address: the row lives on for its owner

    @property
    def row_is_dead(self) -> bool:
        return self is not Refusal.OTHER_IP


def refusal(
    settings: Settings,
    now: datetime,
    *,
    created_at: datetime,
    last_seen_at: datetime,
    session_ip: str,
    ip: str,
    user: User | None,
    kind: str = SessionKind.BROWSER,
) -> Refusal | None:
    """The one rule for whether a session may serve this request (None: it may)."""
    if timed_out(settings, now, created_at=created_at, last_seen_at=last_seen_at, kind=kind):
        return Refusal.TIMED_OUT
    if user is not None and not user.is_active:
        return Refusal.USER_INACTIVE
    # an API token is used by tools that move between networks: not bound
    if settings.session_bind_ip and kind == SessionKind.BROWSER and session_ip != ip:
        return Refusal.OTHER_IP
    return None


def load_session(ctx: Context, token: str, ip: str) -> LoadedSession | None:
    """The live session for ``token``, or None if unknown, timed out or bound elsewhere.

    One indexed query fetches the session and its user together. (Web requests
    use the leaner ``session_lookup`` instead; this is the ORM-level equivalent.)
    """
    found = ctx.db.execute(_LOAD_BY_DIGEST, {"digest": token_digest(token)}).first()
    if found is None:
        return None
    row, user = found
    refused = refusal(
        ctx.settings,
        ctx.clock(),
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        session_ip=row.ip,
        ip=ip,
        user=user,
        kind=row.kind,
    )
    return None if refused else LoadedSession(row, user)


def delete_session(ctx: Context, session_id: int) -> None:
    """Delete a session row by id, without audit (logout and expiry do their own)."""
    execute_bulk(ctx.db, delete(WebSession).where(WebSession.id == session_id))


def new_session_values(
    ctx: Context, *, user: User | None, kind: SessionKind, data: dict[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    """A new token (for the cookie, never stored) and the row's values."""
    now = ctx.clock()
    token = new_token()
    return token, {
        "token_digest": token_digest(token),
        "user_id": user.id if user is not None else None,
        "kind": kind.value,
        "created_at": now,
        "last_seen_at": now,
        # an API session was approved, not logged into: it never counts as recent proof
        "authenticated_at": now if user is not None and kind is SessionKind.BROWSER else None,
        "ip": ctx.origin.ip[:45],
        "user_agent": ctx.origin.user_agent[:500],
        # the same form as the web session's change check, so a new row reads as unchanged
        "data": json.dumps(data or {}, separators=(",", ":"), sort_keys=True),
        # what an API session's approval fills in (device_login)
        "client_id": "",
        "hostname": "",
        "scope": "",
    }


def create_session(
    ctx: Context,
    *,
    user: User | None,
    kind: SessionKind = SessionKind.BROWSER,
    data: dict[str, Any] | None = None,
) -> tuple[str, WebSession]:
    """Store a new session as an ORM row, for callers that fill in more of it (an
    approved device login); returns the token (for the cookie, never stored) and
    the row. Logins and visitors use the leaner ``session_start``."""
    token, values = new_session_values(ctx, user=user, kind=kind, data=data)
    row = WebSession(**values)
    ctx.db.add(row)
    ctx.db.flush()
    return token, row


def mark_authenticated(ctx: Context, session_id: int) -> datetime:
    """The person proved who they are again (password, and code): re-authentication
    counts from now. Returns the time stored."""
    now = ctx.clock()
    execute_bulk(
        ctx.db,
        update(WebSession).where(WebSession.id == session_id).values(authenticated_at=now),
    )
    return now


def ended_event(kind: str) -> Event:
    return Event.API_SESSION_ENDED if kind == SessionKind.API else Event.SESSION_ENDED


def end_session(ctx: Context, row: WebSession, *, reason: str = "ended") -> None:
    if row.user_id is not None:
        user = ctx.db.get(User, row.user_id)
        details: dict[str, Any] = {"session": row.id, "reason": reason}
        if row.kind == SessionKind.API:
            details |= {"client_id": row.client_id, "hostname": row.hostname}
        audit.record(ctx, ended_event(row.kind), target=user, details=details)
    ctx.db.delete(row)
    ctx.db.flush()


_SESSIONS = table_of(WebSession)
# A user's sessions of one kind: Core statements built once, for every login
# under ``session.one_per_user`` runs one (``session_start`` on PostgreSQL reads
# it into its own statement as a WITH query).
END_SESSIONS_OF_KIND = delete(_SESSIONS).where(
    _SESSIONS.c.user_id == bindparam("ending_user_id"),
    _SESSIONS.c.kind == bindparam("ending_kind"),
)
_END_SESSIONS_BUT_ONE = END_SESSIONS_OF_KIND.where(_SESSIONS.c.id != bindparam("keeping_id"))


def end_user_sessions(
    ctx: Context,
    user: User,
    *,
    kind: SessionKind | None = None,
    keep_id: int | None = None,
) -> int:
    """End the user's sessions (optionally of one kind, optionally keeping one by id);
    browser and API sessions ended are audited as such."""
    ended = 0
    for each in (kind,) if kind is not None else tuple(SessionKind):
        parameters: dict[str, Any] = {"ending_user_id": user.id, "ending_kind": each.value}
        if keep_id is None:
            count = ctx.execute_write(END_SESSIONS_OF_KIND, parameters).rowcount
        else:
            parameters["keeping_id"] = keep_id
            count = ctx.execute_write(_END_SESSIONS_BUT_ONE, parameters).rowcount
        if count:
            audit.record_at_once(ctx, ended_event(each), target=user, details={"count": count})
        ended += count
    if kind in (None, SessionKind.API):
        # an approved device login not yet collected is a token waiting to be issued
        withdraw_approvals(ctx, DeviceRequest.user_id == user.id)
    return ended


def withdraw_approvals(ctx: Context, whose: ColumnElement[bool]) -> None:
    execute_bulk(
        ctx.db,
        update(DeviceRequest)
        .where(whose, DeviceRequest.status == DeviceRequestStatus.APPROVED.value)
        .values(status=DeviceRequestStatus.DENIED.value),
    )


def end_all_sessions(ctx: Context) -> int:
    return end_all_other_sessions(ctx, keep_id=None)


def live_sessions(ctx: Context, user: User | None = None) -> Sequence[WebSession]:
    """Logged-in sessions that have not timed out, newest activity first."""
    query = (
        select(WebSession).where(*logged_in_and_live(ctx)).order_by(WebSession.last_seen_at.desc())
    )
    if user is not None:
        query = query.where(WebSession.user_id == user.id)
    return ctx.db.scalars(query).all()


def expired(ctx: Context) -> ColumnElement[bool]:
    """Sessions past their idle or absolute timeout: what cleanup deletes."""
    now = ctx.clock()
    # written as "old enough", not "not live", so the last_seen_at index serves it
    return or_(
        *(
            and_(
                WebSession.kind == kind.value,
                or_(
                    WebSession.last_seen_at <= idle_cutoff(ctx.settings, now, kind),
                    WebSession.created_at <= absolute_cutoff(ctx.settings, now, kind),
                ),
            )
            for kind in SessionKind
        )
    )


def delete_expired_sessions(ctx: Context) -> int:
    return execute_bulk(ctx.db, delete(WebSession).where(expired(ctx)))


@dataclass(frozen=True)
class SessionListing:
    session: WebSession
    username: str


SESSION_CURSOR_TYPES = (datetime, int)


def live_sessions_page(
    ctx: Context, cursor: Cursor | None = None, per_page: int = PER_PAGE
) -> Page[SessionListing]:
    """Every user's live sessions, latest activity first, a page at a time."""
    query = (
        select(WebSession, User.username)
        .join(User, User.id == WebSession.user_id)
        .where(*logged_in_and_live(ctx))
    )
    page = keyset_page(
        ctx.db,
        query,
        [WebSession.last_seen_at, WebSession.id],
        lambda row: (row[0].last_seen_at, row[0].id),
        descending=True,
        cursor=cursor,
        per_page=per_page,
    )
    listings = [SessionListing(row[0], row[1]) for row in page.items]
    return Page(listings, page.previous, page.next)


def count_live_sessions(ctx: Context) -> int:
    return ctx.db.scalar(select(func.count()).where(*logged_in_and_live(ctx))) or 0


def find_live_session(ctx: Context, session_id: int) -> WebSession | None:
    """A logged-in session by id, if it has not timed out."""
    row = ctx.db.get(WebSession, session_id)
    if row is None or row.user_id is None:
        return None
    stale = timed_out(
        ctx.settings,
        ctx.clock(),
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        kind=row.kind,
    )
    return None if stale else row


def end_own_session(ctx: Context, user: User, session_id: int, *, current_id: int | None) -> bool:
    """The person ends one of their other sessions (a lost phone, a shared computer).
    False, and nothing done, for one that is not theirs, has ended already, or is
    the one they are using (that is logging out)."""
    if session_id == current_id:
        return False
    row = find_live_session(ctx, session_id)
    if row is None or row.user_id != user.id:
        return False
    end_session(ctx, row, reason="ended_by_owner")
    return True


def end_all_other_sessions(ctx: Context, keep_id: int | None) -> int:
    """End every logged-in session but ``keep_id`` (the administrator's own), and
    withdraw every approved device login not yet collected."""
    ended = 0
    for kind in SessionKind:
        statement = delete(WebSession).where(
            WebSession.user_id.is_not(None), WebSession.kind == kind.value
        )
        if keep_id is not None:
            statement = statement.where(WebSession.id != keep_id)
        count = execute_bulk(ctx.db, statement)
        if count or kind is SessionKind.BROWSER:  # the order itself is always recorded
            audit.record(ctx, ended_event(kind), details={"count": count, "all": True})
        ended += count
    withdraw_approvals(ctx, DeviceRequest.user_id.is_not(None))
    return ended
