"""Reading the audit log: filter by user, event and time; page; export as CSV.

Every filter is served by an index that also yields the newest-first order
(``models/audit.py``), so pages stay fast over millions of rows; the export
streams rows in batches instead of loading them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, cast, func, or_, select

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


# what the export reads: plain columns, so rows come back as tuples (no ORM objects)
_EXPORTED = (
    AuditEvent.created_at,
    AuditEvent.event,
    AuditEvent.actor_name,
    AuditEvent.target_name,
    AuditEvent.ip,
    AuditEvent.user_agent,
    # as stored: most events carry no details, and "{}" needs no decoding and encoding
    cast(AuditEvent.details, Text),
)


def _details_cell(stored: str | None) -> str:
    if stored == "{}":
        return stored
    details = json.loads(stored) if stored is not None else None
    return csv_cell(json.dumps(details, sort_keys=True, ensure_ascii=False))


def export_rows(ctx: Context, criteria: AuditFilter, batch: int = 1000) -> Iterator[list[str]]:
    """Every matching event as CSV cells, newest first, read ``batch`` rows at a time
    (a server-side cursor on PostgreSQL), so a million rows take little memory.

    Rows are read as tuples of columns, not as ORM objects, the details as stored
    (decoded only when not empty), and an event's two cells are made once per event
    name: the export of a big log is mostly this loop."""
    query = (
        select(*_EXPORTED)
        .where(*_conditions(ctx, criteria))
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .execution_options(yield_per=batch)
    )
    yield CSV_HEADER
    named: dict[str, tuple[str, str]] = {}  # event -> its event and what cells
    for created_at, event, actor, target, ip, agent, details in ctx.db.execute(query):
        words = named.get(event)
        if words is None:
            words = named[event] = (csv_cell(event), csv_cell(plain_words.event_words(event)))
        yield [
            created_at.isoformat(),  # starts with the year's digits: never a formula
            *words,
            csv_cell(actor),
            csv_cell(target),
            csv_cell(ip),
            csv_cell(agent),
            _details_cell(details),
        ]


def export_csv(ctx: Context, criteria: AuditFilter, rows_per_chunk: int = 500) -> Iterator[str]:
    """The export as the text of a CSV file, ``rows_per_chunk`` rows at a time, to send
    while it is read. It starts with a byte-order mark: spreadsheets then read the
    file as UTF-8."""
    rows = export_rows(ctx, criteria)
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    while chunk := list(islice(rows, rows_per_chunk)):
        writer.writerows(chunk)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
