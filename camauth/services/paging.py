"""Keyset paging: a page starts after (or ends before) the row the link names.

Offset paging (``LIMIT 50 OFFSET 50000``) reads and throws away every row before
the page, so the console's deep pages of a million audit rows would get slower
the deeper they go. A keyset page reads only its own rows from an index, at any
depth, and rows added meanwhile do not shift what the next page shows.

A link carries a :class:`Cursor`: the sort key of the row it continues from and
a direction, encoded as opaque URL-safe text. A tampered cursor raises
:class:`BadCursor`, which pages answer with a clear 400.
"""

from __future__ import annotations

import base64
import binascii
import enum
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.orm import QueryableAttribute, Session

T = TypeVar("T")
PER_PAGE = 50
MAX_CURSOR = 1000  # characters: a key is one or two short values


SortKey = ColumnElement[Any] | QueryableAttribute[Any]


class BadCursor(ValueError):
    """The page link is damaged or was not made by camauth."""


class Direction(enum.StrEnum):
    AFTER = "after"  # the rows that follow in display order
    BEFORE = "before"  # the rows that precede it


@dataclass(frozen=True)
class Cursor:
    direction: Direction
    key: tuple[Any, ...]

    def encode(self) -> str:
        values = [v.isoformat() if isinstance(v, datetime) else v for v in self.key]
        raw = json.dumps([self.direction.value, values], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, types: Sequence[type]) -> Cursor:
        """Read a cursor whose key has values of ``types`` (str, int or datetime)."""
        if len(text) > MAX_CURSOR:
            raise BadCursor("This page link is too long.")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            direction, values = json.loads(raw)
            if len(values) != len(types):
                raise ValueError
            key = tuple(_typed(value, kind) for value, kind in zip(values, types, strict=True))
            return cls(Direction(direction), key)
        except (ValueError, TypeError, OverflowError, binascii.Error):
            raise BadCursor("This page link is damaged: go back to the first page.") from None


# keys are ids (32-bit integer columns), times, and short texts
MAX_ID = 2**31 - 1


def _typed(value: Any, kind: type) -> Any:
    if kind is datetime:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive time")
        return parsed.astimezone(UTC)  # OverflowError near the years 1 and 9999
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        if not -MAX_ID - 1 <= value <= MAX_ID:
            raise ValueError("out of range")
        return value
    if kind is str and isinstance(value, str) and "\x00" not in value:
        value.encode("utf-8")  # a lone surrogate cannot be sent to the database
        return value
    raise ValueError(f"not a {kind.__name__}")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    previous: Cursor | None  # where the page before this one starts, if there is one
    next: Cursor | None  # where the page after this one starts, if there is one


def keyset_page(
    db: Session,
    query: Select[*tuple[Any, ...]],
    keys: Sequence[SortKey],
    key_of: Callable[[Any], tuple[Any, ...]],
    *,
    descending: bool,
    cursor: Cursor | None = None,
    per_page: int = PER_PAGE,
) -> Page[Any]:
    """One page of ``query``'s rows in the order of ``keys`` (unique together, all
    ascending or all descending); ``key_of(row)`` gives a row's key values."""
    forward = cursor is None or cursor.direction is Direction.AFTER
    # reading backwards (the page before) walks the index the other way, then flips
    read_descending = descending if forward else not descending
    if cursor is not None:
        query = query.where(_beyond(keys, cursor.key, read_descending))
    ordering = [key.desc() if read_descending else key.asc() for key in keys]
    rows = list(db.execute(query.order_by(*ordering).limit(per_page + 1)).all())
    more = len(rows) > per_page
    rows = rows[:per_page]
    if not forward:
        rows.reverse()
    if not rows:
        return Page([], None, None)
    first, last = key_of(rows[0]), key_of(rows[-1])
    has_previous = more if not forward else cursor is not None
    has_next = more if forward else True
    return Page(
        rows,
        Cursor(Direction.BEFORE, first) if has_previous else None,
        Cursor(Direction.AFTER, last) if has_next else None,
    )


def _beyond(
    keys: Sequence[SortKey], values: tuple[Any, ...], descending: bool
) -> ColumnElement[bool]:
    """Rows strictly past ``values`` in the reading order.

    Spelt out column by column ((a < x) or (a = x and b < y)) rather than as a row
    comparison, with the first column's bound repeated on its own, so that both
    PostgreSQL and SQLite see a range on the leading index column.
    """

    def past(key: SortKey, value: Any) -> ColumnElement[bool]:
        return key < value if descending else key > value

    alternatives = []
    for position, (key, value) in enumerate(zip(keys, values, strict=True)):
        equal_before = [k == v for k, v in zip(keys[:position], values[:position], strict=True)]
        alternatives.append(and_(*equal_before, past(key, value)))
    leading = keys[0] <= values[0] if descending else keys[0] >= values[0]
    return and_(leading, or_(*alternatives))
