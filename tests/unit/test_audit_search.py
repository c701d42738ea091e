"""Reading the audit log (services/audit_search.py, PRODUCT §9, §10): filters, paging, CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy

from camauth.models import AuditEvent
from camauth.services import accounts, audit, audit_search, lockout
from camauth.services.audit import Event
from camauth.services.audit_search import (
    CSV_HEADER,
    CURSOR_TYPES,
    AuditFilter,
    AuditFilterError,
    csv_cell,
)
from camauth.services.paging import Cursor

from .conftest import add_user, from_ip

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


# --- the filter ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw",
    [
        {"event": "no_such_event"},
        {"event": "LOGIN_SUCCESS"},  # names are lower case, as stored
        {"event": " login_success"},
        {"username": "x" * 151},
        {"username": "ali\x00ce"},
        {"since": T0, "until": T0},  # an empty range
        {"since": T0 + timedelta(seconds=1), "until": T0},
    ],
)
def test_a_filter_that_cannot_be_applied_is_refused_with_a_message(kw):
    with pytest.raises(AuditFilterError) as refused:
        AuditFilter(**kw)
    assert str(refused.value)


@pytest.mark.parametrize("event", [event.value for event in Event])
def test_every_event_type_can_be_chosen(event):
    assert AuditFilter(event=event).event == event


def test_the_longest_username_and_a_one_microsecond_range_are_fine():
    AuditFilter(username="x" * 150)
    AuditFilter(since=T0, until=T0 + timedelta(microseconds=1))
    AuditFilter(since=T0)
    AuditFilter(until=T0)


# --- search -------------------------------------------------------------------------


def record(ctx, event, **kw):
    audit.record(ctx, event, **kw)
    ctx.db.commit()


def matching(ctx, **kw):
    """Every matching event as (event, target name, actor name), newest first."""
    page = audit_search.search(ctx, AuditFilter(**kw), per_page=1000)
    assert page.next is None
    return [(e.event, e.target_name, e.actor_name) for e in page.items]


@pytest.fixture
def story(ctx, clock):
    """An administrator (root) creates alice and bob; alice, later an admin, disables
    bob; failures for alice and for a name with no account."""
    root = add_user(ctx, "root", is_admin=True)
    as_root = ctx.acting_as(root.id, "root")
    clock.advance(minutes=1)
    alice = accounts.create_user(as_root, "Alice", password=None)
    clock.advance(minutes=1)
    bob = accounts.create_user(as_root, "bob", password=None)
    clock.advance(minutes=1)
    accounts.set_admin(as_root, alice, True)
    clock.advance(minutes=1)
    accounts.set_status(ctx.acting_as(alice.id, "Alice"), bob, accounts.UserStatus.DISABLED)
    clock.advance(minutes=1)
    lockout.record_failure(ctx, "alice", user=alice)
    clock.advance(minutes=1)
    lockout.record_failure(ctx, "ghost")
    ctx.db.commit()
    return root, alice, bob


def test_search_by_username_finds_events_about_and_by_that_user(ctx, story):
    assert matching(ctx, username="alice") == [
        ("login_failure", "Alice", "system"),
        ("user_disabled", "bob", "Alice"),  # done by alice
        ("admin_granted", "Alice", "root"),
        ("user_created", "Alice", "root"),
    ]


FULLWIDTH_ALICE = "\uff41\uff4c\uff49\uff43\uff45"


@pytest.mark.parametrize("typed", ["ALICE", " alice ", "Alice", FULLWIDTH_ALICE])
def test_search_by_username_ignores_case_and_compatibility_forms(ctx, story, typed):
    assert len(matching(ctx, username=typed)) == 4


def test_search_by_a_username_with_no_account(ctx, story):
    assert matching(ctx, username="Ghost") == [("login_failure", "ghost", "system")]
    assert matching(ctx, username="nobody") == []


def test_search_leaves_out_other_users_events(ctx, story):
    assert matching(ctx, username="bob") == [
        ("user_disabled", "bob", "Alice"),
        ("user_created", "bob", "root"),
    ]


def test_a_blank_username_filters_nothing(ctx, story):
    assert len(matching(ctx, username="   ")) == len(matching(ctx)) == 7


@pytest.mark.parametrize("typed", ["Bob", "bob", "BOB"])
def test_events_about_a_deleted_account_are_found_by_its_name(ctx, clock, typed):
    root = add_user(ctx, "root", is_admin=True)
    as_root = ctx.acting_as(root.id, "root")
    bob = add_user(ctx, "Bob")
    lockout.record_failure(ctx, bob.username_key, user=bob)
    clock.advance(minutes=1)
    accounts.delete_user(as_root, bob)
    ctx.db.commit()
    assert matching(ctx, username=typed) == [
        ("user_deleted", "Bob", "root"),
        ("login_failure", "Bob", "system"),
        ("user_created", "Bob", "system"),
    ]


def test_events_done_by_a_deleted_administrator_are_found_by_its_name(ctx, clock):
    root = add_user(ctx, "root", is_admin=True)
    deputy = add_user(ctx, "deputy", is_admin=True)
    bob = add_user(ctx, "bob")
    clock.advance(minutes=1)
    accounts.set_status(ctx.acting_as(deputy.id, "deputy"), bob, accounts.UserStatus.DISABLED)
    clock.advance(minutes=1)
    accounts.delete_user(ctx.acting_as(root.id, "root"), deputy)
    ctx.db.commit()
    assert ("user_disabled", "bob", "deputy") in matching(ctx, username="deputy")


def test_search_by_event(ctx, story):
    assert matching(ctx, event="user_created") == [
        ("user_created", "bob", "root"),
        ("user_created", "Alice", "root"),
        ("user_created", "root", "system"),
    ]
    assert matching(ctx, event="user_created", username="bob") == [("user_created", "bob", "root")]
    assert matching(ctx, event="logout") == []


def test_search_by_time_since_inclusive_until_exclusive(ctx, clock):
    for minute in range(6):
        clock.now = T0 + timedelta(minutes=minute)
        record(ctx, Event.LOGOUT, target_name=f"m{minute}")
    names = [
        target
        for _, target, _ in matching(
            ctx, since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=4)
        )
    ]
    assert names == ["m3", "m2", "m1"]
    assert [t for _, t, _ in matching(ctx, since=T0 + timedelta(minutes=5))] == ["m5"]
    assert [t for _, t, _ in matching(ctx, until=T0 + timedelta(minutes=1))] == ["m0"]
    just_after = T0 + timedelta(minutes=2, microseconds=1)
    assert [t for _, t, _ in matching(ctx, since=just_after)] == ["m5", "m4", "m3"]


def test_paging_newest_first_through_ties_both_ways(ctx, clock):
    for number in range(11):
        if number % 4 == 0:
            clock.advance(seconds=1)  # runs of rows sharing a time
        record(ctx, Event.LOGOUT, target_name=f"n{number}")
    record(ctx, Event.LOGIN_SUCCESS, target_name="other")  # filtered out
    criteria = AuditFilter(event="logout")
    pages = [audit_search.search(ctx, criteria, per_page=3)]
    while pages[-1].next is not None:
        cursor = Cursor.decode(pages[-1].next.encode(), CURSOR_TYPES)
        pages.append(audit_search.search(ctx, criteria, cursor, per_page=3))
    shown = [[e.target_name for e in page.items] for page in pages]
    assert [name for page in shown for name in page] == [f"n{n}" for n in range(10, -1, -1)]
    assert [len(page) for page in shown] == [3, 3, 3, 2]
    assert pages[0].previous is None
    back = [pages[-1]]
    while back[0].previous is not None:
        cursor = Cursor.decode(back[0].previous.encode(), CURSOR_TYPES)
        back.insert(0, audit_search.search(ctx, criteria, cursor, per_page=3))
    assert [[e.target_name for e in page.items] for page in back] == shown


# --- CSV export ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x","y")'],
)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(value):
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["", "alice", "a=b", "1+1", "'quoted", "{}", "2026-01-05"])
def test_other_cells_are_left_alone(value):
    assert csv_cell(value) == value


def exported(ctx, criteria=None, **kw):
    return list(audit_search.export_rows(ctx, criteria or AuditFilter(), **kw))


def test_export_has_the_header_and_every_row_newest_first(ctx, clock):
    for number in range(7):
        if number % 3 == 0:
            clock.advance(seconds=1)
        record(ctx, Event.LOGOUT, target_name=f"n{number}")
    rows = exported(ctx, batch=2)
    assert rows[0] == CSV_HEADER
    assert [row[4] for row in rows[1:]] == [f"n{n}" for n in range(6, -1, -1)]
    assert all(len(row) == len(CSV_HEADER) for row in rows)


def test_export_cells_hold_the_events_fields(ctx, clock):
    root = add_user(ctx, "root", is_admin=True)
    who = from_ip(ctx, "192.0.2.10", "Firefox/128").acting_as(root.id, "root")
    details = {"reason": "Zoë's request", "count": 2}
    record(who, Event.USER_EDITED, target_name="bob", details=details)
    [header, row, _created_root] = exported(ctx)
    cells = dict(zip(header, row, strict=True))
    assert cells == {
        "time": clock().isoformat(),
        "event": "user_edited",
        "what": "Account details changed",
        "actor": "root",
        "target": "bob",
        "ip": "192.0.2.10",
        "user_agent": "Firefox/128",
        "details": json.dumps(details, sort_keys=True, ensure_ascii=False),
    }
    assert json.loads(cells["details"]) == details


def test_export_neutralises_formulas_typed_by_visitors(ctx):
    hostile = from_ip(ctx, "192.0.2.10", '=HYPERLINK("http://evil.example/","click")')
    lockout.record_failure(hostile, "@evil")  # usernames may start with @ or -
    lockout.record_failure(hostile, "-2+3")
    ctx.db.commit()
    rows = exported(ctx, AuditFilter(event="login_failure"))[1:]
    assert [row[4] for row in rows] == ["'-2+3", "'@evil"]
    assert all(row[6] == "'" + hostile.origin.user_agent for row in rows)
    # a spreadsheet reading the file sees text starting with a quote, never a formula
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    for line in csv.reader(io.StringIO(buffer.getvalue())):
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in line)


def test_export_applies_the_filter(ctx, story):
    rows = exported(ctx, AuditFilter(username="bob"))
    assert [row[1] for row in rows[1:]] == ["user_disabled", "user_created"]
    assert exported(ctx, AuditFilter(username="nobody")) == [CSV_HEADER]


def test_export_reads_rows_as_tuples_in_batches(ctx, clock):
    """A big export makes no ORM object per event, and reads a batch at a time (a
    server-side cursor on PostgreSQL) rather than the whole result at once."""
    for number in range(5):
        record(ctx, Event.LOGOUT, target_name=f"n{number}")
    ctx.db.expunge_all()
    options: list[dict] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        if "FROM audit_events" in statement:
            options.append(dict(context.execution_options))

    engine = ctx.db.get_bind()
    sqlalchemy.event.listen(engine, "before_cursor_execute", seen)
    try:
        rows = exported(ctx, batch=2)
    finally:
        sqlalchemy.event.remove(engine, "before_cursor_execute", seen)
    assert [row[4] for row in rows[1:]] == ["n4", "n3", "n2", "n1", "n0"]
    assert not [thing for thing in ctx.db.identity_map.values() if isinstance(thing, AuditEvent)]
    [used] = options
    assert used.get("yield_per") == 2
    assert used.get("stream_results") is True


def test_export_csv_is_the_rows_written_as_csv_in_chunks(ctx, clock):
    for number in range(5):
        record(ctx, Event.LOGOUT, target_name=f"=n{number},")
    chunks = list(audit_search.export_csv(ctx, AuditFilter(), rows_per_chunk=2))
    assert len(chunks) == 3  # the header and 5 rows, 2 a chunk
    text = "".join(chunks)
    assert text.startswith("\ufeff")
    buffer = io.StringIO()
    csv.writer(buffer).writerows(exported(ctx))
    assert text == "\ufeff" + buffer.getvalue()
    assert '"\'=n4,"' in text
