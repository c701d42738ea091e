"""The console over a big installation, through the real pages: a search of one or
two characters finds the names that start with it, says so, and counts no further
than ``directory.COUNT_CAP``; the audit CSV comes out byte for byte as specified."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import webtest

from camauth.models import AuditEvent
from camauth.services import directory

from ..conftest import app_context
from .admin_helpers import (
    AUDIT_CSV,
    USERS,
    admin_browser,
    console_app,
    form_posting_to,
    make_admin,
    table_rows,
)
from .conftest import create_user


@pytest.fixture
def console(app_factory):
    return console_app(app_factory)


@pytest.fixture
def admin(console):
    make_admin(console)
    return admin_browser(console)


def search(admin: webtest.TestApp, text: str) -> webtest.TestResponse:
    """Type into the users page's search form and press Search."""
    form = form_posting_to(admin.get(USERS, status=200), USERS)
    form["q"] = text
    return form.submit(status=200)


def listed(page: webtest.TestResponse) -> list[str]:
    return [row[0] for row in table_rows(page, "users")]


def match_count(page: webtest.TestResponse) -> str:
    return page.html.select_one("#match-count").get_text(" ", strip=True)


STARTING_WITH = "usernames, email addresses and names starting with “{}”."


def test_a_short_search_lists_names_starting_with_it_and_says_so(admin, console, monkeypatch):
    create_user(console, "stella", full_name="Stella Ray")
    create_user(console, "estrid", email="ST@example.org")  # the address starts with it
    create_user(console, "aline", full_name="Stina Berg")  # the full name does
    create_user(console, "austin", full_name="Austin Storm")  # only further in
    create_user(console, "best", email="best@example.org")
    page = search(admin, "st")
    assert listed(page) == ["aline", "estrid", "stella"]
    assert match_count(page) == "3 users match: " + STARTING_WITH.format("st")
    # the form says beforehand how a short search works
    field = page.html.select_one("#user-search")
    assert field["aria-describedby"] == "user-search-help"
    assert page.html.select_one("#user-search-help").get_text(" ", strip=True) == (
        "Three or more characters find usernames, email addresses and names that "
        "contain them; one or two characters find only those that start with them."
    )
    # past the cap the count says "more than"; the list still has every match
    monkeypatch.setattr(directory, "COUNT_CAP", 2)
    page = search(admin, " ST ")
    assert match_count(page) == "More than 2 users match: " + STARTING_WITH.format("ST")
    assert listed(page) == ["aline", "estrid", "stella"]
    # three characters: anywhere, and counted exactly
    page = search(admin, "sti")
    assert listed(page) == ["aline", "austin"]
    assert match_count(page) == "2 users match."


# --- the audit CSV, byte for byte -----------------------------------------------------------


def add_event(app, at: datetime, **fields) -> None:
    ctx = app_context(app)
    try:
        ctx.db.add(AuditEvent(created_at=at, event="user_edited", **fields))
        ctx.db.commit()
    finally:
        ctx.db.close()


EXPECTED_CSV = (
    "\ufefftime,event,what,actor,target,ip,user_agent,details\r\n"
    "2026-01-05T08:30:00.123456+00:00,user_edited,Account details changed,'@evil,plain,"
    '2001:db8::1,"line 1\nline 2","{""new"": {""email"": ""a@b.example""}, '
    '""old"": [""x"", ""=y""]}"\r\n'
    "2026-01-05T08:30:00.123456+00:00,user_edited,Account details changed,root,'-2+3,"
    "2001:db8::1,'+1+1,{}\r\n"
    "2026-01-05T08:00:00+00:00,user_edited,Account details changed,'=cmd|' /C calc'!A0,"
    'Zoë 😀,192.0.2.10,"Mozilla ""Fox"", 128","{""a"": ""Zoë ✓"", ""b"": 1}"\r\n'
)


def test_the_audit_csv_is_exactly_the_expected_bytes(admin, console):
    add_event(
        console,
        datetime(2026, 1, 5, 8, 0, tzinfo=UTC),
        actor_name="=cmd|' /C calc'!A0",
        target_name="Zoë 😀",
        ip="192.0.2.10",
        user_agent='Mozilla "Fox", 128',
        details={"b": 1, "a": "Zoë ✓"},
    )
    half_past = datetime(2026, 1, 5, 8, 30, 0, 123456, tzinfo=UTC)
    add_event(
        console,
        half_past,
        actor_name="root",
        target_name="-2+3",
        ip="2001:db8::1",
        user_agent="+1+1",
        details={},
    )
    add_event(  # the same moment, a later id: listed first
        console,
        half_past,
        actor_name="@evil",
        target_name="plain",
        ip="2001:db8::1",
        user_agent="line 1\nline 2",
        details={"old": ["x", "=y"], "new": {"email": "a@b.example"}},
    )
    exported = admin.get(AUDIT_CSV, params={"event": "user_edited"}, status=200)
    assert exported.body == EXPECTED_CSV.encode("utf-8")
    assert exported.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert exported.headers["Content-Disposition"] == (
        'attachment; filename="camauth-audit-20260105-0900.csv"'
    )


def test_an_audit_csv_of_nothing_is_the_header_alone(admin):
    exported = admin.get(AUDIT_CSV, params={"event": "user_deleted"}, status=200)
    header = "\ufefftime,event,what,actor,target,ip,user_agent,details\r\n"
    assert exported.body == header.encode("utf-8")
