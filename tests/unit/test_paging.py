"""Keyset paging (services/paging.py): opaque cursors and pages in both directions.

The pages are read from a real table (the audit log, keyed by created_at and id,
as the console's audit page is), so the SQL of both databases is exercised.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from camauth.models import AuditEvent, User
from camauth.services import audit
from camauth.services.audit import Event
from camauth.services.paging import (
    MAX_CURSOR,
    BadCursor,
    Cursor,
    Direction,
    Page,
    keyset_page,
)

KEY_TYPES = (datetime, int)
WHEN = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)


def raw_cursor(payload: object) -> str:
    """What a tampering visitor would put in a page link: any JSON, encoded as camauth does."""
    text = json.dumps(payload)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


# --- cursors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "types"),
    [
        (("alice",), (str,)),
        (("", 0), (str, int)),
        ((WHEN, 42), (datetime, int)),
        ((datetime(2026, 1, 5, tzinfo=UTC), -7), (datetime, int)),
        (("Zoë 用户 'quoted' \"double\" =1+1",), (str,)),
    ],
)
@pytest.mark.parametrize("direction", list(Direction))
def test_a_cursor_survives_its_round_trip_through_a_link(key, types, direction):
    cursor = Cursor(direction, key)
    text = cursor.encode()
    assert re.fullmatch(r"[A-Za-z0-9_-]+", text), "URL-safe, no padding"
    assert Cursor.decode(text, types) == cursor


def test_decoded_times_keep_their_microseconds_and_zone():
    decoded = Cursor.decode(Cursor(Direction.AFTER, (WHEN, 1)).encode(), KEY_TYPES)
    assert decoded.key[0] == WHEN
    assert decoded.key[0].utcoffset() == timedelta(0)


VALID = Cursor(Direction.AFTER, (WHEN, 42)).encode()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "!!!not base64!!!",
        "====",
        "bm90IGpzb24",  # "not json"
        base64.urlsafe_b64encode(b"\xff\xfe\x00garbage").decode(),
        VALID[:-3],  # cut short
        VALID[:5] + ("A" if VALID[5] != "A" else "B") + VALID[6:],  # one character changed
        raw_cursor(None),
        raw_cursor(7),
        raw_cursor("after"),
        raw_cursor([]),
        raw_cursor(["after"]),
        raw_cursor(["after", [WHEN.isoformat(), 42], "extra"]),
        raw_cursor(["sideways", [WHEN.isoformat(), 42]]),
        raw_cursor(["AFTER", [WHEN.isoformat(), 42]]),
        raw_cursor(["after", [WHEN.isoformat()]]),  # too few values
        raw_cursor(["after", [WHEN.isoformat(), 42, 43]]),  # too many
        raw_cursor(["after", [42, WHEN.isoformat()]]),  # swapped
        raw_cursor(["after", [WHEN.isoformat(), "42"]]),  # int as text
        raw_cursor(["after", [WHEN.isoformat(), 42.0]]),  # float
        raw_cursor(["after", [WHEN.isoformat(), True]]),  # bool is not an int here
        raw_cursor(["after", [WHEN.isoformat(), None]]),
        raw_cursor(["after", ["2026-01-05T09:00:00", 42]]),  # naive time
        raw_cursor(["after", ["yesterday", 42]]),
        raw_cursor(["after", [1767603600, 42]]),  # epoch number, not a time
        raw_cursor(["after", None]),
        raw_cursor([None, [WHEN.isoformat(), 42]]),
    ],
)
def test_a_damaged_or_forged_cursor_is_a_bad_cursor(text):
    with pytest.raises(BadCursor):
        Cursor.decode(text, KEY_TYPES)


@pytest.mark.parametrize(
    "values",
    [[42], ["a\x00b"], [None], [["nested"]], [{"a": 1}]],
)
def test_a_string_key_refuses_other_types_and_nul(values):
    with pytest.raises(BadCursor):
        Cursor.decode(raw_cursor(["after", values]), (str,))


def test_a_cursor_longer_than_the_limit_is_refused_before_it_is_read():
    long_key = Cursor(Direction.AFTER, ("x" * MAX_CURSOR,)).encode()
    assert len(long_key) > MAX_CURSOR
    with pytest.raises(BadCursor, match="too long"):
        Cursor.decode(long_key, (str,))
    # just under the limit is read normally
    fits = Cursor(Direction.AFTER, ("x" * 700,))
    assert len(fits.encode()) <= MAX_CURSOR
    assert Cursor.decode(fits.encode(), (str,)) == fits


def test_bad_cursor_messages_are_for_people():
    with pytest.raises(BadCursor) as refused:
        Cursor.decode("garbage", KEY_TYPES)
    assert "first page" in str(refused.value)
    assert "Traceback" not in str(refused.value)
    assert isinstance(refused.value, ValueError)


# --- pages over a real table --------------------------------------------------------


def add_events(ctx, clock, times):
    """One audit row at each of ``times`` (minutes after now; repeats are ties)."""
    start = clock()
    for minutes in times:
        clock.now = start + timedelta(minutes=minutes)
        audit.record(ctx, Event.LOGIN_SUCCESS, target_name=f"at-{minutes}")
    clock.now = start
    ctx.db.commit()


def expected_order(ctx, descending=True):
    rows = ctx.db.execute(select(AuditEvent.created_at, AuditEvent.id)).all()
    ids = [row.id for row in sorted(rows, key=lambda row: (row.created_at, row.id))]
    return list(reversed(ids)) if descending else ids


def page_of(ctx, cursor=None, *, per_page=3, descending=True) -> Page:
    """A page as the console asks for it: the cursor goes through its link text."""
    if cursor is not None:
        cursor = Cursor.decode(cursor.encode(), KEY_TYPES)
    return keyset_page(
        ctx.db,
        select(AuditEvent),
        [AuditEvent.created_at, AuditEvent.id],
        lambda row: (row[0].created_at, row[0].id),
        descending=descending,
        cursor=cursor,
        per_page=per_page,
    )


def ids(page):
    return [row[0].id for row in page.items]


def walk_forward(ctx, **kw):
    pages = [page_of(ctx, **kw)]
    while pages[-1].next is not None:
        assert len(pages) < 100, "paging never ends"
        pages.append(page_of(ctx, pages[-1].next, **kw))
    return pages


def walk_backward(ctx, last, **kw):
    pages = [last]
    while pages[0].previous is not None:
        assert len(pages) < 100, "paging never ends"
        pages.insert(0, page_of(ctx, pages[0].previous, **kw))
    return pages


# ten rows; minutes 5 and 2 hold three rows each, so the id must break the ties
TIMES = [0, 5, 5, 1, 5, 2, 9, 2, 2, 7]


@pytest.mark.parametrize("descending", [True, False])
def test_paging_forward_visits_every_row_once_in_order(ctx, clock, descending):
    add_events(ctx, clock, TIMES)
    pages = walk_forward(ctx, descending=descending)
    assert [len(page.items) for page in pages] == [3, 3, 3, 1]
    assert [row_id for page in pages for row_id in ids(page)] == expected_order(ctx, descending)


@pytest.mark.parametrize("descending", [True, False])
def test_previous_and_next_links_at_first_middle_and_last_page(ctx, clock, descending):
    add_events(ctx, clock, TIMES)
    first, second, third, last = walk_forward(ctx, descending=descending)
    assert first.previous is None
    assert first.next is not None
    for middle in (second, third):
        assert middle.previous is not None
        assert middle.next is not None
    assert last.previous is not None
    assert last.next is None
    # the links name the first and last rows shown
    for page in (second, third, last):
        key_first = (page.items[0][0].created_at, page.items[0][0].id)
        assert page.previous == Cursor(Direction.BEFORE, key_first)
    key_last = (first.items[-1][0].created_at, first.items[-1][0].id)
    assert first.next == Cursor(Direction.AFTER, key_last)


@pytest.mark.parametrize("descending", [True, False])
def test_paging_backward_from_the_last_page_shows_the_same_pages(ctx, clock, descending):
    add_events(ctx, clock, TIMES)
    forward = walk_forward(ctx, descending=descending)
    backward = walk_backward(ctx, forward[-1], descending=descending)
    assert [ids(page) for page in backward] == [ids(page) for page in forward]
    # reached by going back, the first page has no previous but a next link
    assert backward[0].previous is None
    assert backward[0].next is not None
    # and "next" from a page reached backwards continues where it should
    assert ids(page_of(ctx, backward[1].next, descending=descending)) == ids(forward[2])


def test_back_then_forward_again_returns_to_the_same_page(ctx, clock):
    add_events(ctx, clock, TIMES)
    first, second, third, _last = walk_forward(ctx)
    back = page_of(ctx, third.previous)
    assert ids(back) == ids(second)
    assert ids(page_of(ctx, back.next)) == ids(third)
    assert ids(page_of(ctx, back.previous)) == ids(first)


@pytest.mark.parametrize("count", [1, 2, 3])
def test_a_single_page_has_no_links(ctx, clock, count):
    add_events(ctx, clock, range(count))
    page = page_of(ctx)
    assert len(page.items) == count
    assert (page.previous, page.next) == (None, None)


def test_an_exact_multiple_of_the_page_size_has_no_empty_last_page(ctx, clock):
    add_events(ctx, clock, range(6))
    first, second = walk_forward(ctx)
    assert (len(first.items), len(second.items)) == (3, 3)
    assert second.next is None
    assert page_of(ctx, second.previous).previous is None


def test_no_rows_make_an_empty_page_without_links(ctx):
    assert page_of(ctx) == Page([], None, None)
    beyond = Cursor(Direction.AFTER, (WHEN, 10**6))
    assert page_of(ctx, beyond) == Page([], None, None)
    assert page_of(ctx, Cursor(Direction.BEFORE, (WHEN, 1))) == Page([], None, None)


def test_all_rows_with_the_same_time_are_paged_by_id(ctx, clock):
    add_events(ctx, clock, [0] * 8)
    pages = walk_forward(ctx)
    assert [len(page.items) for page in pages] == [3, 3, 2]
    every = [row_id for page in pages for row_id in ids(page)]
    assert every == sorted(every, reverse=True)
    assert len(set(every)) == 8
    assert [ids(page) for page in walk_backward(ctx, pages[-1])] == [ids(p) for p in pages]


def test_rows_added_meanwhile_do_not_shift_the_next_page(ctx, clock):
    add_events(ctx, clock, range(6))
    first = page_of(ctx)
    before = expected_order(ctx)
    add_events(ctx, clock, [10, 11, 12])  # newer: they belong before the first page
    second = page_of(ctx, first.next)
    assert ids(second) == before[3:6]
    # going back from the second page now shows the three rows just before it,
    # and tells that there are newer ones still
    back = page_of(ctx, second.previous)
    assert ids(back) == before[:3]
    assert back.previous is not None
    assert ids(page_of(ctx, back.previous)) == expected_order(ctx)[:3]


def test_a_cursor_from_another_time_zone_names_the_same_moment(ctx, clock):
    add_events(ctx, clock, range(6))
    first = page_of(ctx)
    assert first.next is not None
    at, row_id = first.next.key
    shifted = at.astimezone(timezone(timedelta(hours=-5)))
    elsewhere = Cursor(Direction.AFTER, (shifted, row_id))
    assert ids(page_of(ctx, elsewhere)) == ids(page_of(ctx, first.next))


# A forged cursor that decodes must still give a page (or be refused as BadCursor):
# the pages answer BadCursor with a 400, anything else is a server error.
FORGED_KEYS = [
    pytest.param([WHEN.isoformat(), 2**31], id="id beyond PostgreSQL's integer"),
    pytest.param([WHEN.isoformat(), -(2**31) - 1], id="id below PostgreSQL's integer"),
    pytest.param([WHEN.isoformat(), 2**63], id="id beyond SQLite's integer"),
    pytest.param([WHEN.isoformat(), -(2**63) - 1], id="id below SQLite's integer"),
    pytest.param(["9999-12-31T23:59:59-23:59", 1], id="time past year 9999 in UTC"),
    pytest.param(["0001-01-01T00:00:00+23:59", 1], id="time before year 1 in UTC"),
]


@pytest.mark.parametrize("values", FORGED_KEYS)
def test_a_forged_key_out_of_range_is_a_bad_cursor_not_a_server_error(ctx, clock, values):
    add_events(ctx, clock, range(4))
    try:
        cursor = Cursor.decode(raw_cursor(["after", values]), KEY_TYPES)
    except BadCursor:
        return
    page = keyset_page(
        ctx.db,
        select(AuditEvent),
        [AuditEvent.created_at, AuditEvent.id],
        lambda row: (row[0].created_at, row[0].id),
        descending=True,
        cursor=cursor,
        per_page=3,
    )
    assert len(page.items) <= 3


def test_a_forged_text_key_that_cannot_be_encoded_is_a_bad_cursor_not_a_server_error(ctx):
    forged = raw_cursor(["after", ["\ud800"]])  # a lone surrogate: valid JSON, no UTF-8
    try:
        cursor = Cursor.decode(forged, (str,))
    except BadCursor:
        return
    keyset_page(
        ctx.db,
        select(User),
        [User.username_key],
        lambda row: (row[0].username_key,),
        descending=False,
        cursor=cursor,
    )
