"""Reading the audit log: filter by user, event and time; page; export as CSV.

Every filter is served by an index that also yields the newest-first order
(``models/audit.py``), so pages stay fast over millions of rows; the export
streams rows in batches instead of loading them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select

from ..models import AuditEvent, User
from . import plain_words
from .audit import Event
from .context import Context
from .paging import Cursor, Page, keyset_page
from .usernames import normalize_username, username_key

EVENT_NAMES = tuple(event.value for event in Event)


class AuditFilterError(ValueError):
    """A filter that cannot be applied; the message says why."""


@dataclass(frozen=True)
class AuditFilter:
    username: str = ""  # events about this user, or done by them
    event: str = ""  # one of EVENT_NAMES, or "" for all
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    def __post_init__(self) -> None:
        if self.event and self.event not in EVENT_NAMES:
            raise AuditFilterError("Choose an event type from the list.")
        if len(self.username) > 150 or "\x00" in self.username:
            raise AuditFilterError("Enter a username of at most 150 characters.")
        if self.since and self.until and self.since >= self.until:
            raise AuditFilterError("The start of the time range must come before its end.")


def _conditions(ctx: Context, criteria: AuditFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if criteria.username.strip():
        name = normalize_username(criteria.username)
        key = username_key(name)
        # failures of unknown names carry the typed key; rows about or by a deleted
        # account keep its name, in its own case, after the references are cleared
        lowered = sorted({key, name.lower()})
        about: list[ColumnElement[bool]] = [
            func.lower(AuditEvent.target_name).in_(lowered),
            func.lower(AuditEvent.actor_name).in_(lowered),
        ]
        user_id = ctx.db.scalar(select(User.id).where(User.username_key == key))
        if user_id is not None:
            about += [AuditEvent.target_id == user_id, AuditEvent.actor_id == user_id]
        conditions.append(or_(*about))
    if criteria.event:
        conditions.append(AuditEvent.event == criteria.event)
    if criteria.since is not None:
        conditions.append(AuditEvent.created_at >= criteria.since)
    if criteria.until is not None:
        conditions.append(AuditEvent.created_at < criteria.until)
    return conditions


def _filtered(ctx: Context, criteria: AuditFilter) -> Select[*tuple[Any, ...]]:
    return select(AuditEvent).where(*_conditions(ctx, criteria))


def newest_first(ctx: Context, criteria: AuditFilter) -> Select[*tuple[Any, ...]]:
    """The matching events, newest first."""
    return _filtered(ctx, criteria).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())


def search(
    ctx: Context, criteria: AuditFilter, cursor: Cursor | None = None, per_page: int = 50
) -> Page[AuditEvent]:
    """A page of matching events, newest first."""
    page = keyset_page(
        ctx.db,
        _filtered(ctx, criteria),
        [AuditEvent.created_at, AuditEvent.id],
        lambda row: (row[0].created_at, row[0].id),
        descending=True,
        cursor=cursor,
        per_page=per_page,
    )
    return Page([row[0] for row in page.items], page.previous, page.next)


CURSOR_TYPES = (datetime, int)

CSV_HEADER = [
    "time",
    "event",
    "what",
    "actor",
    "target",
    "ip",
    "user_agent",
    "details",
]

# A cell starting with one of these is a formula to a spreadsheet: a username
# typed at the login form ("=HYPERLINK(...)") would run when the file is opened.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    """``value`` made inert for spreadsheets (OWASP's CSV injection advice)."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def export_rows(ctx: Context, criteria: AuditFilter, batch: int = 1000) -> Iterator[list[str]]:
    """Every matching event as CSV cells, newest first, read ``batch`` rows at a time."""
    query = _filtered(ctx, criteria).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    yield CSV_HEADER
    for event in ctx.db.scalars(query.execution_options(yield_per=batch)):
        cells = [
            event.created_at.isoformat(),
            event.event,
            plain_words.event_words(event.event),
            event.actor_name,
            event.target_name,
            event.ip,
            event.user_agent,
            json.dumps(event.details, sort_keys=True, ensure_ascii=False),
        ]
        yield [csv_cell(cell) for cell in cells]
