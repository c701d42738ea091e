"""The console's view of everyone's sessions (services/sessions.py, PRODUCT §5, §9):
listing live sessions page by page, finding one, and ending all but one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from camauth.models import AuditEvent, SessionKind, WebSession
from camauth.services import sessions
from camauth.services.paging import Cursor

from .conftest import add_user, from_ip


def open_session(ctx, user, kind=SessionKind.BROWSER, ip="192.0.2.10"):
    _, row = sessions.create_session(from_ip(ctx, ip), user=user, kind=kind)
    ctx.db.commit()
    return row


def listed(page):
    return [(entry.session.id, entry.username) for entry in page.items]


@pytest.fixture
def mix(ctx, clock):
    """Live and dead sessions of alice and bob, and an anonymous one; returns the live
    logged-in ones, latest activity first."""
    alice = add_user(ctx, "Alice")
    bob = add_user(ctx, "bob")
    idle = open_session(ctx, alice)  # will be idle for 30 minutes
    ancient = open_session(ctx, bob)  # will be 12 hours old
    clock.advance(hours=11, minutes=59)
    ancient.last_seen_at = clock()
    ctx.db.commit()
    clock.advance(minutes=1)
    live = []
    for user, kind in [
        (alice, SessionKind.BROWSER),
        (bob, SessionKind.API),
        (alice, SessionKind.API),
    ]:
        live.append(open_session(ctx, user, kind))
        clock.advance(seconds=10)
    open_session(ctx, None)  # anonymous: nobody to list
    assert sessions.find_live_session(ctx, idle.id) is None
    return list(reversed(live))


def test_the_listing_shows_live_logged_in_sessions_latest_activity_first(ctx, mix):
    page = sessions.live_sessions_page(ctx)
    assert listed(page) == [
        (mix[0].id, "Alice"),
        (mix[1].id, "bob"),
        (mix[2].id, "Alice"),
    ]
    assert (page.previous, page.next) == (None, None)
    assert sessions.count_live_sessions(ctx) == 3


def test_sessions_leave_the_listing_when_they_time_out(ctx, clock, mix):
    clock.advance(minutes=29, seconds=35)  # the oldest live one is idle over 30 minutes
    assert [entry.session.id for entry in sessions.live_sessions_page(ctx).items] == [
        mix[0].id,
        mix[1].id,
    ]
    assert sessions.count_live_sessions(ctx) == 2


def test_paging_through_sessions_with_equal_activity_times(ctx, clock):
    alice = add_user(ctx)
    rows = []
    for number in range(7):
        if number % 3 == 0:
            clock.advance(seconds=5)
        rows.append(open_session(ctx, alice))
    expected = [row.id for row in sorted(rows, key=lambda r: (r.last_seen_at, r.id), reverse=True)]
    pages = [sessions.live_sessions_page(ctx, per_page=3)]
    while pages[-1].next is not None:
        cursor = Cursor.decode(pages[-1].next.encode(), sessions.SESSION_CURSOR_TYPES)
        pages.append(sessions.live_sessions_page(ctx, cursor, per_page=3))
    assert [[e.session.id for e in p.items] for p in pages] == [
        expected[0:3],
        expected[3:6],
        expected[6:7],
    ]
    back = sessions.live_sessions_page(
        ctx,
        Cursor.decode(pages[2].previous.encode(), sessions.SESSION_CURSOR_TYPES),
        per_page=3,
    )
    assert [e.session.id for e in back.items] == expected[3:6]


def test_no_sessions(ctx):
    add_user(ctx)
    page = sessions.live_sessions_page(ctx)
    assert (page.items, page.previous, page.next) == ([], None, None)
    assert sessions.count_live_sessions(ctx) == 0


def test_find_live_session(ctx, clock):
    alice = add_user(ctx)
    row = open_session(ctx, alice)
    anonymous = open_session(ctx, None)
    assert sessions.find_live_session(ctx, row.id) is row
    assert sessions.find_live_session(ctx, anonymous.id) is None
    assert sessions.find_live_session(ctx, row.id + anonymous.id + 100) is None
    clock.advance(minutes=29, seconds=59)
    assert sessions.find_live_session(ctx, row.id) is row
    clock.advance(seconds=1)  # idle for exactly the timeout
    assert sessions.find_live_session(ctx, row.id) is None


def test_find_live_session_refuses_one_past_the_absolute_timeout(ctx, clock):
    row = open_session(ctx, add_user(ctx))
    clock.advance(hours=11, minutes=59, seconds=59)
    row.last_seen_at = clock()
    ctx.db.commit()
    assert sessions.find_live_session(ctx, row.id) is row
    clock.advance(seconds=1)
    assert sessions.find_live_session(ctx, row.id) is None


def test_end_all_other_sessions_keeps_the_one_named_and_anonymous_ones(ctx):
    root = add_user(ctx, "root", is_admin=True)
    alice = add_user(ctx)
    mine = open_session(ctx, root)
    open_session(ctx, root)
    open_session(ctx, alice)
    open_session(ctx, alice, SessionKind.API)
    anonymous = open_session(ctx, None)
    ended = sessions.end_all_other_sessions(ctx.acting_as(root.id, "root"), mine.id)
    ctx.db.commit()
    assert ended == 3
    assert set(ctx.db.scalars(select(WebSession.id))) == {mine.id, anonymous.id}
    [event] = ctx.db.scalars(select(AuditEvent).where(AuditEvent.event == "session_ended"))
    assert (event.actor_name, event.details) == ("root", {"count": 2, "all": True})
    # the API session is recorded as what it was
    [api] = ctx.db.scalars(select(AuditEvent).where(AuditEvent.event == "api_session_ended"))
    assert (api.actor_name, api.details) == ("root", {"count": 1, "all": True})


def test_end_all_other_sessions_without_one_to_keep_ends_every_logged_in_one(ctx):
    alice = add_user(ctx)
    open_session(ctx, alice)
    open_session(ctx, alice)
    anonymous = open_session(ctx, None)
    assert sessions.end_all_other_sessions(ctx, None) == 2
    ctx.db.commit()
    assert list(ctx.db.scalars(select(WebSession.id))) == [anonymous.id]


def test_an_ended_session_is_no_longer_found(ctx, clock):
    alice = add_user(ctx)
    mine = open_session(ctx, alice).id
    other = open_session(ctx, alice).id
    sessions.end_all_other_sessions(ctx, mine)
    ctx.db.commit()
    ctx.db.expire_all()
    assert sessions.find_live_session(ctx, other) is None
    kept = sessions.find_live_session(ctx, mine)
    assert kept is not None
    assert sessions.count_live_sessions(ctx) == 1
    assert clock() - kept.created_at == timedelta(0)
