"""Device login: a tool without a browser asks for access, a person approves it in
their browser, and the tool exchanges its device code, once, for an API session
(the OAuth 2.0 device authorization grant).

The protocol's refusals are :class:`GrantError` with the OAuth error code; the web
side turns them into the JSON answers the RFC prescribes. Every decision that
counts or changes a request is one conditional statement or made under a named
lock, so parallel polls and double clicks cannot exchange a code twice or slip
past a limit.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update

from ..models import DeviceRequest, DeviceRequestStatus, SessionKind, User
from . import audit, serial, sessions
from .audit import Event
from .bulk import count_rows, execute_bulk
from .context import Context

USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # no vowels: no words; no look-alikes
USER_CODE_LENGTH = 8
DEVICE_CODE_BYTES = 32  # 256 bits
SLOW_DOWN_SECONDS = 5
MAX_FIELD_LENGTH = 200
# requests one network may have made within one expiry period: a tool needs one
REQUESTS_PER_NETWORK = 20
KEPT_FOR = timedelta(days=30)  # decided requests stay listed on the console this long

Status = DeviceRequestStatus


class GrantError(Exception):
    """A refusal with its OAuth error code and a sentence for the person at the tool."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


@dataclass(frozen=True)
class DeviceGrant:
    """What the tool gets back: its secret device code and the code the person types."""

    device_code: str
    user_code: str  # displayed form, XXXX-XXXX
    expires_in: int
    interval: int


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


def display_user_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def normalise_user_code(typed: str) -> str | None:
    """The stored form of a typed code (any case, dashes and spaces ignored), or None
    when it cannot be one."""
    letters = "".join(ch for ch in typed if ch not in "- \t").upper()
    if len(letters) != USER_CODE_LENGTH or not all(ch in USER_CODE_ALPHABET for ch in letters):
        return None
    return letters


def requested_scope(ctx: Context, scope: str | None) -> str:
    """The scope to grant: what was asked (each name allowed), or every allowed one."""
    allowed = ctx.settings.api_scopes
    if not scope or not scope.strip():
        return " ".join(allowed)
    names = list(dict.fromkeys(scope.split()))
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise GrantError(
            "invalid_scope",
            f"Unknown scope {unknown[0][:40]!r}; allowed: {', '.join(allowed)}.",
        )
    return " ".join(names)


def live(ctx: Context) -> ColumnElement[bool]:
    return DeviceRequest.expires_at > ctx.clock()


def _blocked_until(ctx: Context) -> datetime | None:
    """A request from this network reported as suspicious blocks new ones for a while."""
    minutes = ctx.settings.device_report_block_minutes
    if not minutes:
        return None
    since = ctx.clock() - timedelta(minutes=minutes)
    latest = ctx.db.scalar(
        select(func.max(DeviceRequest.decided_at)).where(
            DeviceRequest.network == ctx.origin.network,
            DeviceRequest.status == Status.REPORTED.value,
            DeviceRequest.decided_at > since,
        )
    )
    return latest + timedelta(minutes=minutes) if latest is not None else None


def start(
    ctx: Context, *, client_id: str, scope: str | None, hostname: str = "", message: str = ""
) -> DeviceGrant:
    """A tool asks for access: store the request and hand out its two codes."""
    granted_scope = requested_scope(ctx, scope)
    blocked = _blocked_until(ctx)
    if blocked is not None:
        raise GrantError(
            "access_denied",
            "A device login from this network was reported as suspicious; new requests "
            f"are refused until {blocked:%H:%M} UTC.",
        )
    settings = ctx.settings
    lifetime = timedelta(minutes=settings.device_expires_minutes)
    now = ctx.clock()
    # exact under parallel requests: counted and inserted under the network's lock
    serial.hold(ctx, f"device-requests:{ctx.origin.network}")
    recent = count_rows(
        ctx.db,
        DeviceRequest,
        (DeviceRequest.network == ctx.origin.network) & (DeviceRequest.created_at > now - lifetime),
    )
    if recent >= REQUESTS_PER_NETWORK:
        raise GrantError(
            "slow_down", "Too many device login requests from this network; wait a few minutes."
        )
    device_code = secrets.token_urlsafe(DEVICE_CODE_BYTES)
    row = DeviceRequest(
        device_code_digest=sessions.token_digest(device_code),
        user_code=_unused_user_code(ctx),
        client_id=client_id,
        hostname=hostname,
        message=message,
        scope=granted_scope,
        ip=ctx.origin.ip[:45],
        network=ctx.origin.network,
        user_agent=ctx.origin.user_agent[:500],
        status=Status.PENDING.value,
        created_at=now,
        expires_at=now + lifetime,
        interval_seconds=settings.device_interval_seconds,
    )
    ctx.db.add(row)
    ctx.db.flush()
    audit.record(
        ctx,
        Event.DEVICE_LOGIN_REQUESTED,
        details={"request": row.id, "client_id": client_id, "hostname": hostname},
    )
    return DeviceGrant(
        device_code=device_code,
        user_code=display_user_code(row.user_code),
        expires_in=int(lifetime.total_seconds()),
        interval=row.interval_seconds,
    )


def _unused_user_code(ctx: Context) -> str:
    # 20^8 codes: a clash with a live one is rare; try again when it happens
    while True:
        code = "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))
        taken = ctx.db.scalar(
            select(DeviceRequest.id).where(DeviceRequest.user_code == code, live(ctx))
        )
        if taken is None:
            return code


def pending(ctx: Context, request_id: int) -> DeviceRequest | None:
    """A request still waiting for a decision (not expired), by id."""
    row = ctx.db.get(DeviceRequest, request_id)
    if row is None or row.status != Status.PENDING or row.expires_at <= ctx.clock():
        return None
    return row


def pending_by_user_code(ctx: Context, code: str) -> DeviceRequest | None:
    return ctx.db.scalar(
        select(DeviceRequest).where(
            DeviceRequest.user_code == code,
            DeviceRequest.status == Status.PENDING.value,
            live(ctx),
        )
    )


_EVENTS = {
    Status.APPROVED: Event.DEVICE_LOGIN_APPROVED,
    Status.DENIED: Event.DEVICE_LOGIN_DENIED,
    Status.REPORTED: Event.DEVICE_LOGIN_REPORTED,
}


def decide(ctx: Context, user: User, request_id: int, decision: Status) -> bool:
    """The person approves, denies or reports a pending request. False, and nothing
    done, when it was decided already (a double click, another tab) or has expired."""
    if decision not in _EVENTS:
        raise ValueError(f"not a decision: {decision}")
    now = ctx.clock()
    changed = execute_bulk(
        ctx.db,
        update(DeviceRequest)
        .where(
            DeviceRequest.id == request_id,
            DeviceRequest.status == Status.PENDING.value,
            live(ctx),
        )
        .values(status=decision.value, user_id=user.id, decided_at=now),
    )
    if not changed:
        return False
    row = ctx.db.get(DeviceRequest, request_id)
    assert row is not None
    ctx.db.refresh(row)
    details = {"request": row.id, "client_id": row.client_id, "hostname": row.hostname}
    details |= {"ip": row.ip, "scope": row.scope}
    audit.record(ctx, _EVENTS[decision], target=user, details=details)
    return True


def exchange(ctx: Context, *, device_code: str, client_id: str) -> IssuedToken:
    """The tool polls. Raises :class:`GrantError` until the person has approved; then,
    once, starts the API session and returns its token."""
    row = ctx.db.scalar(
        select(DeviceRequest).where(
            DeviceRequest.device_code_digest == sessions.token_digest(device_code)
        )
    )
    if row is None:
        raise GrantError("invalid_grant", "This device code is not known.")
    if row.client_id != client_id:
        raise GrantError("invalid_grant", "This device code was issued to another client.")
    if row.status == Status.EXCHANGED:
        raise GrantError("invalid_grant", "This device code has been used already.")
    if row.status in (Status.DENIED, Status.REPORTED):
        raise GrantError("access_denied", "The request was denied.")
    now = ctx.clock()
    if row.expires_at <= now:
        raise GrantError("expired_token", "The request expired before it was approved.")
    if not _polled_politely(ctx, row, now):
        raise GrantError("slow_down", f"Poll at most every {row.interval_seconds} seconds.")
    if row.status == Status.PENDING:
        raise GrantError("authorization_pending", "Waiting for the person to approve.")
    user = ctx.db.get(User, row.user_id) if row.user_id is not None else None
    if user is None or not user.is_active:
        raise GrantError("access_denied", "The account that approved this is not active.")
    # approved: one conditional statement makes the exchange happen at most once
    won = execute_bulk(
        ctx.db,
        update(DeviceRequest)
        .where(DeviceRequest.id == row.id, DeviceRequest.status == Status.APPROVED.value)
        .values(status=Status.EXCHANGED.value),
    )
    if not won:
        raise GrantError("invalid_grant", "This device code has been used already.")
    token, session = sessions.create_session(ctx, user=user, kind=SessionKind.API)
    session.client_id, session.hostname, session.scope = row.client_id, row.hostname, row.scope
    ctx.db.flush()
    lifetime = sessions.lifetimes(ctx.settings, SessionKind.API)[1]
    return IssuedToken(token, int(lifetime.total_seconds()), row.scope)


def _polled_politely(ctx: Context, row: DeviceRequest, now: datetime) -> bool:
    """Record this poll if the interval has passed since the last one; otherwise grow
    the interval (the tool must slow down too). Compare-and-set on the last poll's
    time: of two polls at the same moment only one passes."""
    last = row.last_polled_at
    polite = last is None or now - last >= timedelta(seconds=row.interval_seconds)
    if polite:
        unchanged = (
            DeviceRequest.last_polled_at.is_(None)
            if last is None
            else DeviceRequest.last_polled_at == last
        )
        polite = bool(
            execute_bulk(
                ctx.db,
                update(DeviceRequest)
                .where(DeviceRequest.id == row.id, unchanged)
                .values(last_polled_at=now),
            )
        )
    if not polite:
        execute_bulk(
            ctx.db,
            update(DeviceRequest)
            .where(DeviceRequest.id == row.id)
            .values(
                last_polled_at=now,
                interval_seconds=DeviceRequest.interval_seconds + SLOW_DOWN_SECONDS,
            ),
        )
        row.interval_seconds += SLOW_DOWN_SECONDS
    return polite


def requests_of(ctx: Context, user: User, limit: int = 20) -> Sequence[DeviceRequest]:
    """The device requests this person decided, newest first (their console page)."""
    return ctx.db.scalars(
        select(DeviceRequest)
        .where(DeviceRequest.user_id == user.id)
        .order_by(DeviceRequest.created_at.desc(), DeviceRequest.id.desc())
        .limit(limit)
    ).all()


@dataclass(frozen=True)
class Report:
    request: DeviceRequest
    reported_by: str


def recent_reports(ctx: Context, days: int = 7, limit: int = 10) -> list[Report]:
    """Requests reported as suspicious lately, newest first (the console dashboard)."""
    since = ctx.clock() - timedelta(days=days)
    rows = ctx.db.execute(
        select(DeviceRequest, User.username)
        .join(User, User.id == DeviceRequest.user_id)
        .where(DeviceRequest.status == Status.REPORTED.value, DeviceRequest.decided_at > since)
        .order_by(DeviceRequest.decided_at.desc())
        .limit(limit)
    ).all()
    return [Report(row[0], row[1]) for row in rows]


def stale_requests(ctx: Context) -> ColumnElement[bool]:
    """Requests old enough to forget (cleanup)."""
    return DeviceRequest.created_at < ctx.clock() - KEPT_FOR
