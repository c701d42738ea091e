"""The console's other pages (PRODUCT §4, §5, §9, §10): lockouts (locked usernames
with or without an account, throttled IPs, unlock), live sessions (end one, end all
others, paging), the audit log (filters, paging, CSV export) and the dashboard
(numbers and the failures chart), through the real pages."""

from __future__ import annotations

import csv
import io
import json
from base64 import urlsafe_b64encode
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import webtest
from sqlalchemy import select

from camauth.models import AuditEvent, Lockout, UserStatus
from camauth.services import audit
from camauth.services.audit import Event

from ..conftest import GOOD_PASSWORD, app_context, login
from .admin_helpers import (
    ADMIN,
    AUDIT,
    AUDIT_CSV,
    LOCKOUTS,
    SESSIONS,
    USERS,
    admin_browser,
    alert,
    console_app,
    events_by,
    form_posting_to,
    make_admin,
    open_session,
    table_rows,
)
from .conftest import (
    all_rows,
    assert_no_traceback,
    audit_events,
    browser,
    create_user,
    flashes,
    location,
    logged_in,
    logout,
    session_rows,
    submit_login,
)
from .two_factor_helpers import enrol, password_step

WRONG = "not the password at all"


@pytest.fixture
def console(app_factory):
    return console_app(app_factory)


@pytest.fixture
def root(console):
    return make_admin(console)


@pytest.fixture
def admin(console, root):
    return admin_browser(console)


def fail_login(app: Any, username: str, ip: str = "203.0.113.9", agent: str = "") -> None:
    environ = {"HTTP_USER_AGENT": agent} if agent else {}
    response = submit_login(browser(app, ip=ip, **environ), username, WRONG, status="*")
    assert response.status_int in (403, 429), response.status


def locks_in_force(app: Any) -> list[str]:
    rows = all_rows(app, select(Lockout).where(Lockout.locked_until.is_not(None)))
    return sorted(row.username_key for row in rows)


def unlock_button(page: webtest.TestResponse, username: str) -> webtest.Form:
    """The Unlock button in the row of ``username`` on the lockouts page."""
    forms = [
        form
        for form in {id(f): f for f in page.forms.values()}.values()
        if "username" in form.fields and form["username"].value == username
    ]
    assert forms, f"no Unlock button for {username}"
    assert all(form.action == "/admin/lockouts/unlock" for form in forms)
    return forms[0]  # one per locked scope of the username; each unlocks them all


def cursor(direction: str, values: list[Any]) -> str:
    raw = json.dumps([direction, values]).encode()
    return urlsafe_b64encode(raw).decode().rstrip("=")


# --- lockouts -----------------------------------------------------------------------------


def test_lockouts_lists_locked_usernames_with_and_without_an_account(console, root, clock):
    create_user(console, "alice")
    for number in range(10):
        fail_login(console, "alice", ip=f"203.0.113.{number % 4 + 1}")
        clock.advance(seconds=1)
    ghost_until = (clock.now + timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M:%S")
    for _ in range(10):
        fail_login(console, "ghost", ip="198.51.100.66")
    clock.advance(seconds=1)
    fail_login(console, "carol")  # a failure, but no lock
    admin = admin_browser(console)
    page = admin.get(LOCKOUTS, status=200)
    rows = {row[0]: row for row in table_rows(page, "locked")}
    assert sorted(rows) == ["alice", "ghost (no account)"]
    alice, ghost = rows["alice"], rows["ghost (no account)"]
    assert alice[1:5] == [
        "all untrusted clients",
        "10",
        "2026-01-05 09:10 UTC",
        # the latest three addresses, newest first
        "203.0.113.2, 203.0.113.1, 203.0.113.4",
    ]
    assert ghost[1:5] == ["all untrusted clients", "10", ghost_until[:16] + " UTC", "198.51.100.66"]
    assert ghost_until == "2026-01-05 09:10:10"
    # alice's name links to her page; ghost has none
    assert page.html.select_one('tr[data-username="alice"] a')["href"].startswith("/admin/users/")
    assert page.html.select_one('tr[data-username="ghost"] a') is None
    assert (
        page.html.select_one("#locked-heading").get_text(" ", strip=True) == "Locked usernames (2)"
    )
    failures = table_rows(page, "failures")
    assert failures[0][1:3] == ["carol", "none"]
    assert len(failures) == 21


def test_locks_that_have_ended_are_not_listed(console, root, clock):
    for _ in range(10):
        fail_login(console, "ghost")
    clock.advance(minutes=10, seconds=1)
    page = admin_browser(console).get(LOCKOUTS, status=200)
    assert table_rows(page, "locked") == []
    assert "Nobody is locked out." in page.text


def test_unlock_from_the_lockouts_page_for_a_username_without_account(console, root, clock):
    for _ in range(10):
        fail_login(console, "ghost")
        fail_login(console, "casper")
    assert locks_in_force(console) == ["casper", "ghost"]
    admin = admin_browser(console)
    page = admin.get(LOCKOUTS, status=200)
    done = unlock_button(page, "ghost").submit(status=303)
    assert location(done) == LOCKOUTS
    page = done.follow(status=200)
    assert flashes(page) == ["ghost is unlocked."]
    assert [r[0] for r in table_rows(page, "locked")] == ["casper (no account)"]
    assert locks_in_force(console) == ["casper"]
    [unlocked] = events_by(console, "unlock", ADMIN, "ghost")
    assert unlocked.target_id is None
    # and its failures count from zero again: one more is not a lock
    fail_login(console, "ghost")
    assert locks_in_force(console) == ["casper"]


def test_unlock_a_user_from_the_lockouts_page(console, root):
    alice = create_user(console, "alice")
    for _ in range(10):
        fail_login(console, "alice")
    admin = admin_browser(console)
    page = admin.get(LOCKOUTS, status=200)
    unlock_button(page, "alice").submit(status=303)
    assert submit_login(browser(console), "alice", GOOD_PASSWORD).status_int == 303
    [unlocked] = events_by(console, "unlock", ADMIN, "alice")
    assert unlocked.target_id == alice


def test_unlock_without_a_username(console, root):
    admin = admin_browser(console)
    page = admin.get(LOCKOUTS, status=200)
    token = page.html.select_one('input[name="csrf_token"]')["value"]
    refused = admin.post("/admin/lockouts/unlock", {"csrf_token": token}, status=400)
    assert_no_traceback(refused)
    assert alert(refused) == "Say which username to unlock."
    assert audit_events(console, "unlock") == []


def test_throttled_ips_are_listed(app_factory, clock):
    app = console_app(app_factory, **{"lockout.ip_threshold": "5"})
    make_admin(app)
    start = clock.now
    for number in range(6):
        fail_login(app, f"sprayed{number}", ip="198.51.100.99")
        clock.advance(minutes=1)
    fail_login(app, "other", ip="198.51.100.1")
    admin = admin_browser(app, ip="192.0.2.10")
    page = admin.get(LOCKOUTS, status=200)
    until = (start + timedelta(minutes=15)).strftime("%Y-%m-%d %H:%M UTC")
    assert table_rows(page, "throttled") == [["198.51.100.99", "6", until, "Lift"]]
    assert locks_in_force(app) == []  # no username was locked: the address waits
    dashboard = admin.get("/admin", status=200)
    assert "1 IP address throttled." in dashboard.text
    # once the failures leave the window, the address is free again
    clock.advance(minutes=15)
    assert table_rows(admin.get(LOCKOUTS, status=200), "throttled") == []


def test_lift_ends_a_throttle_now_and_the_person_there_logs_in(app_factory, clock):
    app = console_app(app_factory, **{"lockout.ip_threshold": "5"})
    make_admin(app)
    create_user(app, "alice")
    for number in range(6):
        fail_login(app, f"sprayed{number}", ip="198.51.100.99")
    office = browser(app, ip="198.51.100.99")
    login(office, "alice", GOOD_PASSWORD, status=429)
    admin = admin_browser(app, ip="192.0.2.10")
    page = admin.get(LOCKOUTS, status=200)
    [lift] = [form for form in page.forms.values() if form.action == "/admin/lockouts/lift"]
    assert lift["network"].value == "198.51.100.99"
    done = lift.submit(status=303)
    assert location(done) == LOCKOUTS
    after = done.follow()
    assert "The throttle of 198.51.100.99 is lifted." in flashes(after)
    assert table_rows(after, "throttled") == []
    assert len(audit_events(app, "ip_unthrottled")) == 1
    login(office, "alice", GOOD_PASSWORD, status=303)
    # the same form again (back button, resubmit): nothing more is recorded
    again = lift.submit(status=303).follow()
    assert "198.51.100.99 was not throttled: nothing was changed." in flashes(again)
    assert len(audit_events(app, "ip_unthrottled")) == 1


@pytest.mark.parametrize("network", ["", "nonsense", "10.0.0.0/8"])
def test_lift_refuses_what_no_throttle_counts(console, root, network):
    admin = admin_browser(console)
    page = admin.get(LOCKOUTS, status=200)
    token = page.forms[0]["csrf_token"].value if "csrf_token" in page.forms[0].fields else ""
    refused = admin.post(
        "/admin/lockouts/lift", {"csrf_token": token, "network": network}, status=400
    )
    assert "Say which address to lift the throttle of." in refused.text


# --- sessions -----------------------------------------------------------------------------


def test_sessions_page_lists_every_live_session(console, root, clock):
    create_user(console, "alice")
    bob = create_user(console, "bob")
    logged_in(console, "alice", ip="198.51.100.1", HTTP_USER_AGENT="AliceFox/1.0")
    open_session(console, bob, ip="198.51.100.3", user_agent="Old/1.0")
    # bob's browser session goes idle for good; an API session lasts for days
    open_session(
        console,
        bob,
        kind="api",
        ip="198.51.100.2",
        user_agent="camauth-cli/2.0",
        client_id="backup-tool",
        hostname="nas.example.org",
    )
    clock.advance(minutes=31)
    logged_in(console, "alice", ip="198.51.100.1", HTTP_USER_AGENT="AliceFox/1.0")
    admin = admin_browser(console)
    page = admin.get(SESSIONS, status=200)
    rows = table_rows(page, "sessions")
    assert {row[0]: row[1:4] for row in rows} == {
        "root you, here": ["browser", "192.0.2.10", "unknown"],
        "bob": ["api", "198.51.100.2", "backup-tool on nas.example.org camauth-cli/2.0"],
        "alice": ["browser", "198.51.100.1", "AliceFox/1.0"],
    }
    assert "(3 active)" in page.text
    assert "Old/1.0" not in page.text


def test_end_one_session_through_its_confirmation(console, root):
    alice = create_user(console, "alice")
    client = logged_in(console, "alice", ip="198.51.100.1")
    [row] = session_rows(console, alice)
    admin = admin_browser(console)
    page = admin.get(SESSIONS, status=200).click(href=f"^/admin/sessions/{row.id}/end$")
    assert "End this browser session of alice (from 198.51.100.1)?" in page.text
    done = page.forms["end-session"].submit("submit", status=303)
    assert location(done) == SESSIONS
    assert flashes(done.follow(status=200)) == ["The session has ended."]
    assert session_rows(console, alice) == []
    assert location(client.get("/", status=303)).startswith("/login")
    [ended] = events_by(console, "session_ended", ADMIN, "alice")
    assert ended.details == {"session": row.id, "reason": "ended by administrator"}
    # it is gone: its page is a 404 now, not a second ending
    assert_no_traceback(admin.get(f"/admin/sessions/{row.id}/end", status=404))


def test_end_all_other_sessions_keeps_the_administrators_own(console, root):
    alice = create_user(console, "alice")
    make_admin(console, "boss")
    alice_browser = logged_in(console, "alice")
    boss_browser = admin_browser(console, "boss")
    open_session(console, alice, kind="api")
    admin = admin_browser(console)
    [own] = session_rows(console, root)
    page = admin.get(SESSIONS, status=200).click(href="^/admin/sessions/end-all$")
    assert "Your own session stays." in page.text
    done = page.forms["end-all-sessions"].submit("submit", status=303)
    assert flashes(done.follow(status=200)) == ["3 sessions ended."]
    assert [row.id for row in session_rows(console)] == [own.id]
    for client in (alice_browser, boss_browser):
        assert location(client.get("/", status=303)).startswith("/login")
    admin.get(SESSIONS, status=200)
    [ended] = [e for e in audit_events(console, "session_ended") if e.details.get("all")]
    assert (ended.actor_name, ended.details["count"]) == (ADMIN, 2)
    [api] = [e for e in audit_events(console, "api_session_ended") if e.details.get("all")]
    assert (api.actor_name, api.details["count"]) == (ADMIN, 1)


def test_ending_your_own_session_logs_you_out(console, root):
    admin = admin_browser(console)
    [own] = session_rows(console, root)
    page = admin.get(f"/admin/sessions/{own.id}/end", status=200)
    done = page.forms["end-session"].submit("submit", status=303)
    assert location(done) == "/login"
    assert session_rows(console, root) == []
    assert location(admin.get("/admin", status=303)).startswith("/login")


def test_sessions_paging_visits_each_once(console, root, clock):
    for number in range(60):
        user = create_user(console, f"user{number:02d}", password=None)
        open_session(console, user, ip=f"198.51.100.{number}")
        clock.advance(seconds=1)
    admin = admin_browser(console)
    page = admin.get(SESSIONS, status=200)
    assert "(61 active)" in page.text
    seen: list[str] = []
    pages = 0
    while True:
        pages += 1
        seen += [row[0] for row in table_rows(page, "sessions")]
        link = page.html.select_one('a[rel="next"]')
        if link is None:
            break
        page = admin.get(link["href"], status=200)
    assert pages == 2
    # newest activity first: the administrator, then user59 down to user00
    assert seen == ["root you, here", *[f"user{n:02d}" for n in range(59, -1, -1)]]
    back = admin.get(page.html.select_one('a[rel="prev"]')["href"], status=200)
    assert len(table_rows(back, "sessions")) == 50


# --- audit log ------------------------------------------------------------------------------


def record_events(app: Any, count: int, event: Event, target: str, clock: Any) -> None:
    """``count`` events about ``target``, a minute apart, as another process logged them."""
    ctx = app_context(app)
    try:
        for _ in range(count):
            audit.record(ctx, event, target_name=target)
            clock.advance(minutes=1)
        ctx.db.commit()
    finally:
        ctx.db.close()


def filter_audit(admin: webtest.TestApp, status: int = 200, **values: str) -> Any:
    form = form_posting_to(admin.get(AUDIT, status=200), AUDIT)
    for name, value in values.items():
        form[name] = value
    return form.submit(status=status)


def audit_rows(page: webtest.TestResponse) -> list[list[str]]:
    """The audit table's rows, the event as its machine name (the title of the words
    shown, which test_events_are_shown_in_words checks)."""
    rows = table_rows(page, "audit")
    names = [
        span["title"] for span in page.html.select("table#audit tbody tr td:nth-of-type(2) span")
    ]
    return [[row[0], name, *row[2:]] for row, name in zip(rows, names, strict=True)]


def test_events_are_shown_in_words_with_the_machine_name_on_hover(console, history):
    page = admin_browser(console).get(AUDIT, status=200)
    shown = [row[1] for row in table_rows(page, "audit")]
    assert {"Logged in", "Account created", "Failed login"} <= set(shown)
    names = [row[1] for row in audit_rows(page)]
    assert shown[names.index("login_success")] == "Logged in"
    option = page.html.select_one('#audit-event option[value="device_login_reported"]')
    assert option.get_text() == "Device login reported as suspicious"


@pytest.fixture
def history(console, root, clock):
    """alice logs in at 09:00; ghost fails at 10:00; bob is created at 11:00."""
    create_user(console, "alice")
    logged_in(console, "alice")
    clock.advance(hours=1)
    fail_login(console, "ghost", agent="GhostAgent")
    clock.advance(hours=1)
    create_user(console, "bob")
    clock.advance(minutes=1)


def test_audit_filters_by_user(console, history):
    admin = admin_browser(console)
    page = filter_audit(admin, user="ALICE")
    events = [(row[1], row[3]) for row in audit_rows(page)]
    assert events == [("login_success", "alice"), ("user_created", "alice")]
    assert page.html.select_one("#audit-user")["value"] == "ALICE"
    ghost = [(row[1], row[3], row[4]) for row in audit_rows(filter_audit(admin, user="ghost"))]
    assert ghost == [("login_failure", "ghost", "203.0.113.9")]
    # what the administrator did shows under their name too (they are the actor)
    alice = admin.get(f"{USERS}?q=alice").click(href=r"^/admin/users/\d+$")
    force = next(f for f in alice.forms.values() if f.action.endswith("/force-password-change"))
    force.submit(status=303)
    done_by_root = [(row[1], row[2], row[3]) for row in audit_rows(filter_audit(admin, user=ADMIN))]
    forced = ("password_change_forced", ADMIN, "alice")
    assert done_by_root[:2] == [forced, ("login_success", ADMIN, ADMIN)]
    assert forced in [
        (row[1], row[2], row[3]) for row in audit_rows(filter_audit(admin, user="alice"))
    ]


def test_audit_filters_by_event_and_time(console, history):
    admin = admin_browser(console)
    page = filter_audit(admin, event="user_created")
    assert [row[3] for row in audit_rows(page)] == ["bob", "alice", ADMIN]
    assert page.html.select_one("#audit-event option[selected]")["value"] == "user_created"
    page = filter_audit(admin, since="2026-01-05T09:30", until="2026-01-05T11:00")
    assert [row[1] for row in audit_rows(page)] == ["login_failure"]
    page = filter_audit(admin, since="2026-01-05T10:00")  # inclusive
    assert [row[1] for row in audit_rows(page)][-1] == "login_failure"
    page = filter_audit(admin, until="2026-01-05T10:00")  # exclusive
    assert "login_failure" not in [row[1] for row in audit_rows(page)]
    page = filter_audit(admin, event="user_created", since="2026-01-05T10:30")
    assert [row[3] for row in audit_rows(page)] == ["bob"]
    page = filter_audit(admin, user="alice", event="lockout")
    assert audit_rows(page) == [] and "No events match." in page.text


def test_audit_paging_visits_each_event_once(console, root, clock):
    record_events(console, 120, Event.LOGIN_FAILURE, "ghost", clock)
    admin = admin_browser(console)
    page = filter_audit(admin, user="ghost")
    seen = []
    while True:
        seen += [row[0] for row in audit_rows(page)]
        link = page.html.select_one('a[rel="next"]')
        if link is None:
            break
        assert "user=ghost" in link["href"]
        page = admin.get(link["href"], status=200)
    expected = [
        f"{datetime(2026, 1, 5, 9, 0, tzinfo=UTC) + timedelta(minutes=n):%Y-%m-%d %H:%M} UTC"
        for n in range(119, -1, -1)
    ]
    assert seen == expected
    back = admin.get(page.html.select_one('a[rel="prev"]')["href"], status=200)
    assert [row[0] for row in audit_rows(back)] == expected[50:100]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"since": "yesterday"}, "From: enter a date and time such as 2026-11-23T14:30."),
        ({"until": "2026-13-45T99:99"}, "Until: enter a date and time such as 2026-11-23T14:30."),
        (
            {"since": "2026-01-06T00:00", "until": "2026-01-05T00:00"},
            "The start of the time range must come before its end.",
        ),
        ({"user": "x" * 151}, "Enter a username of at most 150 characters."),
    ],
)
def test_bad_audit_filters_are_refused_with_the_values_kept(console, root, values, message):
    admin = admin_browser(console)
    page = admin.get(AUDIT, params={"user": "alice", **values}, status=400)
    assert_no_traceback(page)
    assert alert(page) == message
    typed = {"user": "alice", **values}
    assert page.html.select_one("#audit-user")["value"] == typed["user"]
    for name in ("since", "until"):
        assert page.html.select_one(f"#audit-{name}")["value"] == typed.get(name, "")
    assert page.html.select_one("table#audit") is None
    csv_page = admin.get(AUDIT_CSV, params=typed, status=400)
    assert_no_traceback(csv_page)
    assert alert(csv_page) == message
    assert audit_events(console, "audit_exported") == []


def test_unknown_event_type_is_refused(console, root):
    page = admin_browser(console).get(AUDIT, params={"event": "nope"}, status=400)
    assert_no_traceback(page)
    assert alert(page) == "Choose an event type from the list."


@pytest.mark.parametrize(
    "after",
    [
        "not-a-cursor!",
        cursor("after", ["2026-01-05T09:00:00+00:00"]),  # a value short
        cursor("after", ["2026-01-05T09:00:00+00:00", "12"]),  # text for the id
        cursor("after", ["2026-01-05T09:00:00", 12]),  # no time zone
        cursor("sideways", ["2026-01-05T09:00:00+00:00", 12]),
        cursor("after", ["2026-01-05T09:00:00+00:00", True]),
        urlsafe_b64encode(b"\xff\xfe").decode(),
        "A" * 2000,
    ],
)
def test_tampered_audit_cursor_is_a_400(console, root, after):
    admin = admin_browser(console)
    page = admin.get(AUDIT, params={"after": after}, status=400)
    assert_no_traceback(page)
    assert "page link" in alert(page)


@pytest.mark.parametrize(
    "after",
    [
        cursor("after", ["2026-01-05T09:00:00+00:00", 2**70]),  # beyond any integer column
        cursor("after", ["0001-01-01T00:00:00+01:00", 1]),  # before the year 1 in UTC
        cursor("before", ["9999-12-31T23:59:59-01:00", 1]),  # after the year 9999 in UTC
    ],
)
def test_out_of_range_audit_cursor_is_not_a_500(console, root, after):
    admin = admin_browser(console)
    page = admin.get(AUDIT, params={"after": after}, status="*")
    assert page.status_int in (200, 400), page.status
    assert_no_traceback(page)


@pytest.mark.parametrize(
    "values",
    [{"since": "0001-01-01T00:00+01:00"}, {"until": "9999-12-31T23:59-01:00"}],
)
def test_out_of_range_audit_times_are_not_a_500(console, root, values):
    admin = admin_browser(console)
    page = admin.get(AUDIT, params=values, status="*")
    assert page.status_int in (200, 400), page.status
    assert_no_traceback(page)
    exported = admin.get(AUDIT_CSV, params=values, status="*")
    assert exported.status_int in (200, 400), exported.status


# --- CSV export ---------------------------------------------------------------------------


def read_csv(response: webtest.TestResponse) -> list[list[str]]:
    text = response.body.decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_export_of_the_filtered_rows(console, history):
    admin = admin_browser(console)
    page = filter_audit(admin, event="user_created", since="2026-01-05T08:00")
    exported = page.click(href=r"^/admin/audit\.csv\?")
    assert exported.status_int == 200
    assert exported.content_type == "text/csv"
    disposition = exported.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert 'filename="camauth-audit-' in disposition
    assert exported.headers["Cache-Control"] == "no-store"
    rows = read_csv(exported)
    header = ["time", "event", "what", "actor", "target", "ip", "user_agent", "details"]
    assert rows[0] == header
    assert [(row[1], row[2], row[4]) for row in rows[1:]] == [
        ("user_created", "Account created", "bob"),
        ("user_created", "Account created", "alice"),
        ("user_created", "Account created", ADMIN),
    ]
    assert rows[1][0] == "2026-01-05T11:00:00+00:00"
    assert json.loads(rows[1][7]) == {"is_admin": False, "status": "active"}
    [exported_event] = audit_events(console, "audit_exported")
    assert exported_event.actor_name == ADMIN
    assert exported_event.details == {"event": "user_created", "since": "2026-01-05T08:00"}


def test_csv_export_neutralises_formulas(console, root):
    fail_login(console, "-2", agent="=cmd|' /C calc'!A0")
    fail_login(console, "@sum", agent="@SUM(1+1)*cmd|' /C calc'!A0")
    fail_login(console, "plain", agent="+1+1")
    admin = admin_browser(console)
    rows = read_csv(admin.get(AUDIT_CSV, params={"event": "login_failure"}, status=200))
    cells = {row[4]: row for row in rows[1:]}
    assert cells["'-2"][6] == "'=cmd|' /C calc'!A0"
    assert cells["'@sum"][6] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert cells["plain"][6] == "'+1+1"
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_csv_export_of_everything(console, history):
    admin = admin_browser(console)
    rows = read_csv(admin.get(AUDIT, status=200).click(href=r"^/admin/audit\.csv$"))
    in_table = all_rows(console, select(AuditEvent).order_by(AuditEvent.id))
    # the export's own event is recorded in the same request, before its rows are read
    assert len(rows) - 1 == len(in_table)
    assert {row[1] for row in rows[1:]} >= {"user_created", "login_success", "login_failure"}


# --- dashboard --------------------------------------------------------------------------------


def dashboard_numbers(page: webtest.TestResponse) -> dict[str, str]:
    numbers = {
        cell["data-status"]: cell.get_text(strip=True)
        for cell in page.html.select("td[data-status]")
    }
    numbers["locked"] = page.html.select_one("#locked-count").get_text(strip=True)
    numbers["sessions"] = page.html.select_one("#live-sessions").get_text(strip=True)
    return numbers


def test_dashboard_numbers(console, root, clock):
    create_user(console, "alice")
    create_user(console, "bob")
    create_user(console, "carol", status=UserStatus.DISABLED)
    create_user(console, "dave", status=UserStatus.PENDING_APPROVAL)
    create_user(console, "erin", status=UserStatus.PENDING_APPROVAL)
    create_user(console, "frank", status=UserStatus.PENDING_EMAIL)
    logged_in(console, "alice")
    for _ in range(10):
        fail_login(console, "bob")
        fail_login(console, "ghost")
    # a login halfway through its second step is no active session
    gina = create_user(console, "gina")
    enrol(console, gina, clock)
    password_step(browser(console), "gina")
    assert any(row.user_id is None for row in session_rows(console))
    admin = admin_browser(console)
    page = admin.get("/admin", status=200)
    assert dashboard_numbers(page) == {
        "active": "4",
        "disabled": "1",
        "pending_approval": "2",
        "pending_email": "1",
        "locked": "2",
        "sessions": "2",
    }
    listed = [
        item.get_text(" ", strip=True) for item in page.html.select("#locked-heading ~ ul li")
    ]
    assert sorted(item.split(" ")[0] for item in listed) == ["bob", "ghost"]


def at(clock: Any, moment: datetime) -> None:
    clock.now = moment


def test_dashboard_chart_counts_failures_per_hour(console, root, clock):
    day = datetime(2026, 1, 5, tzinfo=UTC)
    failures = {
        day.replace(hour=9): 2,  # before the chart's first hour
        day.replace(hour=9, minute=59, second=59): 1,  # a second before it
        day.replace(hour=10): 1,  # its first hour's first moment
        day.replace(hour=10, minute=59, second=59): 1,
        day.replace(hour=11): 3,
        day.replace(hour=21, minute=30): 4,
        day.replace(day=6, hour=9): 1,  # the current hour
        day.replace(day=6, hour=9, minute=30): 2,  # now
    }
    number = 0
    for moment, count in failures.items():
        at(clock, moment)
        for _ in range(count):
            number += 1
            fail_login(console, f"ghost{number}")
    assert clock.now == day.replace(day=6, hour=9, minute=30)
    admin = admin_browser(console)
    page = admin.get("/admin", status=200)
    bars = page.html.select("svg.chart rect.chart-unknown")
    assert len(bars) == 24
    counts = [int(bar["data-count"]) for bar in bars]
    expected = [0] * 24
    expected[0], expected[1], expected[11], expected[23] = 2, 3, 4, 3
    assert counts == expected
    assert {bar["data-count"] for bar in page.html.select("svg.chart rect.chart-known")} == {"0"}
    titles = [title.get_text() for title in page.html.select("svg.chart a.chart-bar title")]
    assert titles[0] == (
        "2026-01-05 10:00-11:00 UTC: 2 failed logins (0 for existing usernames, 2 for unknown ones)"
    )
    assert titles[23].startswith("2026-01-06 09:00-10:00 UTC: 3 failed logins")
    assert "(12 in all, times in UTC)" in page.text
    # the tallest bar reaches the top of the scale; the empty ones have no height
    heights = [float(bar["height"]) for bar in bars]
    assert heights[11] == max(heights) and heights[2] == 0.0
    assert heights[0] == pytest.approx(heights[11] / 2, abs=0.2)
    # round ticks, the current hour named, each bar a link to its failures in the audit log
    ticks = [text.get_text() for text in page.html.select("svg.chart > text.chart-label")]
    assert ticks == ["0", "1", "2", "3", "4"]
    assert page.html.select_one("svg.chart text.chart-now").get_text() == "now"
    link = page.html.select("svg.chart a.chart-bar")[11]["href"]
    assert link == (
        "/admin/audit?event=login_failure&since=2026-01-05T21%3A00&until=2026-01-05T22%3A00"
    )
    shown = table_rows(admin.get(link, status=200), "audit")
    assert len(shown) == 4


def test_dashboard_chart_stacks_existing_on_unknown_usernames_over_7_and_30_days(
    console, root, clock
):
    create_user(console, "alice")
    for _ in range(3):
        fail_login(console, "alice")
    for _ in range(5):
        fail_login(console, "nobody")
    admin = admin_browser(console)
    for period, bars in (("7d", 28), ("30d", 30)):
        page = admin.get("/admin", params={"period": period}, status=200)
        known = [int(r["data-count"]) for r in page.html.select("svg.chart rect.chart-known")]
        unknown = [int(r["data-count"]) for r in page.html.select("svg.chart rect.chart-unknown")]
        assert (len(known), known[-1], unknown[-1], sum(known) + sum(unknown)) == (bars, 3, 5, 8)
        current = page.html.select_one('nav[aria-label="Period of the chart"] [aria-current]')
        assert current["href"] == f"/admin?period={period}"
        ticks = [int(t.get_text()) for t in page.html.select("svg.chart > text.chart-label")]
        assert ticks == [0, 2, 4, 6, 8]
        last = page.html.select("svg.chart a.chart-bar")[-1]
        known_rect = last.select_one("rect.chart-known")
        unknown_rect = last.select_one("rect.chart-unknown")
        # stacked: the existing usernames' part sits on the unknown ones'
        top_of_unknown = float(unknown_rect["y"])
        assert float(known_rect["y"]) + float(known_rect["height"]) == pytest.approx(
            top_of_unknown, abs=0.2
        )
    odd = admin.get("/admin", params={"period": "1y"}, status=200)
    assert len(odd.html.select("svg.chart a.chart-bar")) == 24


def test_dashboard_chart_on_a_quiet_day(console, root):
    page = admin_browser(console).get("/admin", status=200)
    counts = [int(bar["data-count"]) for bar in page.html.select("svg.chart rect.chart-unknown")]
    assert counts == [0] * 24
    ticks = [text.get_text() for text in page.html.select("svg.chart > text.chart-label")]
    assert ticks == ["0", "1", "2", "3", "4"]


def test_lockouts_show_device_locks_and_unlock_clears_both_kinds(console, root, clock):
    alice = create_user(console, "alice")
    own = logged_in(console, "alice", ip="198.51.100.1")  # her browser: a trusted device
    logout(own)
    clock.advance(seconds=1)
    for _ in range(10):
        submit_login(own, "alice", WRONG, status="*")  # she forgot it, on her own browser
        fail_login(console, "alice", ip="203.0.113.66")  # and someone elsewhere tries
    admin = admin_browser(console)
    page = admin.get(LOCKOUTS, status=200)
    scopes = sorted(row[1] for row in table_rows(page, "locked"))
    assert scopes == ["all untrusted clients", "one trusted device"]
    user_page = admin.get(f"/admin/users/{alice}", status=200)
    assert user_page.html.select_one("#failure-count").get_text(" ", strip=True).startswith("20")
    locked = user_page.html.select_one("#locked-until").get_text(" ", strip=True)
    assert "all untrusted clients" in locked and "one trusted device" in locked
    unlock_button(page, "alice").submit(status=303)
    assert locks_in_force(console) == []
    assert table_rows(admin.get(LOCKOUTS, status=200), "locked") == []
    assert location(submit_login(own, "alice", GOOD_PASSWORD)) == "/"


def test_audit_finds_a_deleted_users_events_by_name(console, history):
    admin = admin_browser(console)
    alice = admin.get(f"{USERS}?q=alice").click(href=r"^/admin/users/\d+$")
    alice.click(href=r"/delete$").forms["confirm-delete"].submit("submit", status=303)
    for typed in ("alice", "ALICE", " Alice "):
        events = [(row[1], row[3]) for row in audit_rows(filter_audit(admin, user=typed))]
        assert events == [
            ("user_deleted", "alice"),
            ("login_success", "alice"),
            ("user_created", "alice"),
        ], typed
    # and the export of them says the same
    rows = read_csv(admin.get(AUDIT_CSV, params={"user": "Alice"}, status=200))
    assert [(row[1], row[4]) for row in rows[1:]] == [
        ("user_deleted", "alice"),
        ("login_success", "alice"),
        ("user_created", "alice"),
    ]
