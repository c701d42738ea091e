"""The administrator console's users (PRODUCT §2, §3, §8, §9, §10, §15) through the
real forms: the list (search, status filter, paging), a new user, one user's page,
editing, and every action on a user, each audited with the administrator as actor;
refusals (yourself, your own rights) change nothing and say why."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pyotp
import pytest
import webtest
from sqlalchemy import select, update

from camauth.models import (
    AuditEvent,
    Lockout,
    RecoveryCode,
    TwoFactorCredential,
    User,
    UserStatus,
    WebSession,
)
from camauth.services import terms

from ..conftest import GOOD_PASSWORD, app_context, read_mails
from .admin_helpers import (
    ADMIN,
    NEW_USER,
    OTHER_PASSWORD,
    USERS,
    admin_browser,
    alert,
    confirm,
    confirmation,
    console_app,
    events_by,
    find_user,
    form_posting_to,
    make_admin,
    press,
    table_rows,
    user_path,
)
from .conftest import (
    all_rows,
    assert_no_traceback,
    audit_events,
    browser,
    create_user,
    engine_of,
    error_text,
    field_errors,
    flashes,
    get_user,
    location,
    logged_in,
    session_rows,
    submit_login,
)
from .two_factor_helpers import Token, enrol, log_in_with_code, password_step

INVALID_LOGIN = "Invalid username or password."
TYPED_PASSWORD = "violet kettle hums beside the lighthouse"
CHANGE_PASSWORD = "/account/password"
ALICE_EMAIL = "alice@example.org"
CHANGED_SUBJECT = "An administrator changed your account"


@pytest.fixture
def console(app_factory):
    return console_app(app_factory)


@pytest.fixture
def root(console):
    """The administrator's id (the console's actor in every test)."""
    return make_admin(console)


@pytest.fixture
def admin(console, root):
    """The administrator's browser."""
    return admin_browser(console)


@pytest.fixture
def alice(console):
    return create_user(console, "alice", email=ALICE_EMAIL, full_name="Alice Liddell")


def usernames_listed(page: webtest.TestResponse) -> list[str]:
    return [row[0] for row in table_rows(page, "users")]


def match_count(page: webtest.TestResponse) -> str:
    return page.html.select_one("#match-count").get_text(" ", strip=True)


def search(admin: webtest.TestApp, text: str = "", status: str = "") -> webtest.TestResponse:
    """Type into the users page's search form and press Search."""
    form = form_posting_to(admin.get(USERS, status=200), USERS)
    form["q"] = text
    form["status"] = status
    return form.submit(status="*")


def can_log_in(app: Any, username: str, password: str = GOOD_PASSWORD) -> bool:
    response = submit_login(browser(app, ip="198.51.100.7"), username, password, status="*")
    return response.status_int == 303


def shown_temporary_password(page: webtest.TestResponse) -> str | None:
    box = page.html.select_one("#temporary-password code")
    return box.get_text(strip=True) if box is not None else None


def new_user_form(admin: webtest.TestApp, **values: Any) -> webtest.Form:
    form = admin.get(NEW_USER, status=200).forms["new-user"]
    for name, value in values.items():
        form[name] = value
    return form


def detail(page: webtest.TestResponse, label: str) -> str:
    """A row of the user page's Account table, by its heading."""
    for row in page.html.select("table.details tr"):
        if row.th.get_text(strip=True) == label:
            return row.td.get_text(" ", strip=True)
    raise AssertionError(f"no {label!r} row")


def one_event(app: Any, event: str, target: str, actor: str = ADMIN) -> Any:
    rows = events_by(app, event, actor, target)
    assert len(rows) == 1, [
        (r.event, r.actor_name, r.target_name) for r in audit_events(app, event)
    ]
    return rows[0]


def lock_out(app: Any, username: str, times: int = 10) -> None:
    """Wrong passwords from elsewhere until the username's untrusted clients are locked."""
    attacker = browser(app, ip="203.0.113.9")
    for _ in range(times):
        submit_login(attacker, username, "not the password at all", status="*")


def change_password(client: webtest.TestApp, current: str, new: str) -> webtest.TestResponse:
    form = client.get(CHANGE_PASSWORD, status=200).forms["change-password"]
    form["current_password"] = current
    form["new_password"] = new
    form["confirm_password"] = new
    return form.submit("submit", status=303)


# --- the list ---------------------------------------------------------------------


@pytest.fixture
def people(console, root):
    create_user(console, "alice", email="alice@example.org", full_name="Alice Liddell")
    create_user(console, "bob", email="bobby@corp.example", full_name="Robert Paulson")
    create_user(console, "carol", full_name="Carol Danvers")
    create_user(console, "dave_x", email="dave@example.org", full_name="Dave 100% Sure")


@pytest.mark.usefixtures("people")
@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("ALI", ["alice"]),  # username, without case
        ("bobby@corp", ["bob"]),  # email
        ("paulson", ["bob"]),  # full name, without case
        ("Carol Danvers", ["carol"]),
        ("example.org", ["alice", "dave_x"]),
        ("", ["alice", "bob", "carol", "dave_x", ADMIN]),
        ("e_x", ["dave_x"]),  # LIKE's wildcards are taken literally
        ("100%", ["dave_x"]),
        ("0% S", ["dave_x"]),  # as a wildcard "%" would match anything
        ("nobody-has-this", []),
    ],
)
def test_search_matches_username_email_or_full_name(admin, text, found):
    page = search(admin, text)
    assert page.status_int == 200
    assert usernames_listed(page) == found
    assert page.html.select_one("#user-search")["value"] == text
    noun = "user" if len(found) == 1 else "users"
    if text:
        verb = "matches" if len(found) == 1 else "match"
        assert match_count(page) == f"{len(found)} {noun} {verb}."
    else:
        assert match_count(page) == f"{len(found)} {noun}."
    if not found:
        assert "No users match." in page.text


def test_search_without_case_in_an_accented_full_name(admin, console):
    create_user(console, "zoe", full_name="Zoë Ångström")
    assert usernames_listed(search(admin, "ångström")) == ["zoe"]
    assert usernames_listed(search(admin, "ÅNGSTRÖM")) == ["zoe"]


def test_status_filter_lists_only_that_status(admin, console):
    create_user(console, "alice")
    create_user(console, "bob", status=UserStatus.DISABLED)
    create_user(console, "carol", status=UserStatus.PENDING_APPROVAL)
    create_user(console, "dave", status=UserStatus.PENDING_APPROVAL)
    page = search(admin, status="pending_approval")
    assert usernames_listed(page) == ["carol", "dave"]
    assert match_count(page) == "2 users match."
    assert page.html.select_one("#user-status option[selected]")["value"] == "pending_approval"
    assert usernames_listed(search(admin, status="disabled")) == ["bob"]
    assert usernames_listed(search(admin, status="active")) == ["alice", ADMIN]
    # search and status together
    assert usernames_listed(search(admin, "d", status="pending_approval")) == ["dave"]
    assert match_count(search(admin, "d", status="pending_approval")) == (
        "1 user matches: usernames, email addresses and names starting with “d”."
    )
    # the dashboard's numbers link to the same lists
    dashboard = admin.get("/admin", status=200)
    listed = dashboard.click(href=r"^/admin/users\?status=disabled$")
    assert usernames_listed(listed) == ["bob"]


def make_many(app: Any, count: int, prefix: str = "user") -> list[str]:
    """``count`` accounts without passwords (quick), in one transaction."""
    from camauth.services import accounts

    ctx = app_context(app)
    try:
        names = [f"{prefix}{number:03d}" for number in range(count)]
        for name in names:
            accounts.create_user(ctx, name, email=f"{name}@example.org")
        ctx.db.commit()
        return names
    finally:
        ctx.db.close()


def walk(admin: webtest.TestApp, first: webtest.TestResponse, rel: str) -> list[list[str]]:
    """Follow the ``rel`` (next/prev) links from ``first``; the usernames of each page."""
    pages = [usernames_listed(first)]
    page = first
    while True:
        link = page.html.select_one(f'a[rel="{rel}"]')
        if link is None:
            return pages
        page = admin.get(link["href"], status=200)
        pages.append(usernames_listed(page))
        assert len(pages) < 10, "the links go round in circles"


def test_paging_visits_every_user_once_in_order(admin, console):
    names = sorted([*make_many(console, 120), ADMIN])
    first = admin.get(USERS, status=200)
    assert match_count(first) == "121 users."
    assert first.html.select_one('a[rel="prev"]') is None
    forward = walk(admin, first, "next")
    assert [len(page) for page in forward] == [50, 50, 21]
    assert [name for page in forward for name in page] == names
    # and back again from the last page, through the same pages
    last = admin.get(first.html.select_one('a[rel="next"]')["href"], status=200)
    last = admin.get(last.html.select_one('a[rel="next"]')["href"], status=200)
    assert last.html.select_one('a[rel="next"]') is None
    backward = walk(admin, last, "prev")
    assert backward == forward[::-1]


def test_paging_keeps_the_search_and_the_status(admin, console):
    make_many(console, 70, prefix="staff")
    make_many(console, 70, prefix="guest")
    page = search(admin, "staff")
    assert match_count(page) == "70 users match."
    next_link = page.html.select_one('a[rel="next"]')["href"]
    assert "q=staff" in next_link
    second = admin.get(next_link, status=200)
    assert usernames_listed(second) == [f"staff{n:03d}" for n in range(50, 70)]
    assert second.html.select_one("#user-search")["value"] == "staff"
    assert second.html.select_one('a[rel="next"]') is None
    back = admin.get(second.html.select_one('a[rel="prev"]')["href"], status=200)
    assert usernames_listed(back) == [f"staff{n:03d}" for n in range(50)]


def test_the_list_shows_what_each_user_is(admin, console, clock):
    alice = create_user(console, "alice", email=ALICE_EMAIL, full_name="Alice Liddell")
    enrol(console, alice, clock)
    create_user(console, "bob", status=UserStatus.DISABLED)
    create_user(console, "carol")
    logged_in(console, "carol")
    lock_out(console, "bob")
    rows = {row[0]: row for row in table_rows(admin.get(USERS, status=200), "users")}
    assert rows["alice"][1:4] == ["Alice Liddell", ALICE_EMAIL, "active"]
    assert rows["alice"][7] == "on"
    assert rows["bob"][3] == "disabled"
    assert rows["bob"][6] == "2026-01-05 09:10 UTC"  # locked until
    assert rows[ADMIN][4] == "yes"
    assert rows["carol"][5] == "2026-01-05 09:00 UTC"  # last login
    assert rows["carol"][8] == "1"  # sessions
    assert rows["alice"][5] == "never"


# --- a new user ---------------------------------------------------------------------


def test_new_user_with_a_typed_password_logs_in_with_it(admin, console):
    form = new_user_form(
        admin,
        username="Dave",
        email="dave@example.org",
        full_name="Dave Bowman",
        temporary_password=TYPED_PASSWORD,
    )
    form["force_change"] = False
    done = form.submit("submit", status=303)
    dave = find_user(console, "dave")
    assert dave is not None
    assert location(done) == user_path(dave.id)
    page = done.follow(status=200)
    assert flashes(page) == ["Dave was created."]
    assert shown_temporary_password(page) is None  # typed: the administrator knows it
    assert (dave.email, dave.full_name, dave.is_admin) == ("dave@example.org", "Dave Bowman", False)
    assert not dave.must_change_password
    client = browser(console)
    assert location(submit_login(client, "dave", TYPED_PASSWORD)) == "/"
    assert "Signed in as Dave" in client.get("/", status=200).text
    created = one_event(console, "user_created", "Dave")
    assert created.target_id == dave.id
    assert created.details["is_admin"] is False


def test_new_user_password_goes_through_the_policy(admin, console):
    form = new_user_form(admin, username="dave", temporary_password="dave-password-1")
    page = form.submit("submit", status=400)
    assert_no_traceback(page)
    assert "username" in error_text(page).lower()
    assert find_user(console, "dave") is None
    form = new_user_form(admin, username="dave", temporary_password="password1234")
    page = form.submit("submit", status=400)
    assert error_text(page)
    assert find_user(console, "dave") is None
    # and what the person typed is still there, but the password is not
    assert page.forms["new-user"]["username"].value == "dave"
    assert page.forms["new-user"]["temporary_password"].value == ""


def test_generated_password_is_shown_once_and_must_be_changed(admin, console):
    form = new_user_form(admin, username="erin", email="erin@example.org")
    assert form["force_change"].checked  # on unless the administrator says otherwise
    created = form.submit("submit", status=303)  # redirected: a reload creates nobody
    erin = find_user(console, "erin")
    assert erin is not None and erin.must_change_password
    assert location(created) == user_path(erin.id)
    page = created.follow()
    assert page.html.select_one("h1").get_text(" ", strip=True).startswith("erin")
    assert flashes(page) == ["erin was created."]
    password = shown_temporary_password(page)
    assert password is not None and len(password) >= 12
    assert "camauth keeps no readable copy" in page.text
    assert "no-store" in page.headers["Cache-Control"]
    # a reload shows it again (nothing is lost) for reauth_minutes, then never again;
    # the session table holds it sealed, never in plain text
    assert shown_temporary_password(admin.get(user_path(erin.id), status=200)) == password
    assert all(password not in row.data for row in session_rows(console))
    console.registry["camauth.clock"].advance(minutes=5)
    assert shown_temporary_password(admin.get(user_path(erin.id), status=200)) is None
    assert all(
        password not in str(event.details) for event in audit_events(console, "user_created")
    )
    # it works, for a new password of erin's own choosing
    client = browser(console)
    assert location(submit_login(client, "erin", password)) == "/"
    gated = client.get("/", status=303)
    assert location(gated).startswith(CHANGE_PASSWORD)
    assert location(change_password(client, password, OTHER_PASSWORD)) == "/"
    assert "Signed in as erin" in client.get("/", status=200).text
    assert not get_user(console, erin.id).must_change_password


def test_the_generated_password_is_shown_to_nobody_else(console, root, alice):
    make_admin(console, "boss")
    boss = admin_browser(console, "boss")
    admin = admin_browser(console)
    page = new_user_form(admin, username="erin").submit("submit", status=303).follow()
    password = shown_temporary_password(page)
    assert password is not None
    erin = find_user(console, "erin")
    assert erin is not None
    for path in (user_path(alice), USERS, "/admin/audit"):
        assert password not in admin.get(path, status=200).text
    for path in (user_path(erin.id), user_path(alice), USERS, "/admin/audit"):
        assert password not in boss.get(path, status=200).text
    # what the session table holds cannot be opened by another session's cookie: give
    # boss's session the data of the administrator's, and boss still sees nothing
    boss_id = find_user(console, "boss").id
    admin_row = next(row for row in session_rows(console) if row.user_id != boss_id)
    with engine_of(console).begin() as connection:
        connection.execute(
            update(WebSession).where(WebSession.user_id == boss_id).values(data=admin_row.data)
        )
    assert password not in boss.get(user_path(erin.id), status=200).text
    assert shown_temporary_password(admin.get(user_path(erin.id), status=200)) == password


def test_new_administrator(admin, console):
    form = new_user_form(admin, username="frank", temporary_password=TYPED_PASSWORD)
    form["is_admin"] = True
    form["force_change"] = False
    form.submit("submit", status=303)
    frank = find_user(console, "frank")
    assert frank is not None and frank.is_admin
    assert one_event(console, "user_created", "frank").details["is_admin"] is True
    client = logged_in(console, "frank", TYPED_PASSWORD)
    client.get("/admin", status=200)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("username", "ALICE", "That username is already taken."),
        ("email", "Alice@Example.org", "That email address belongs to another account."),
    ],
)
def test_new_user_that_is_taken_keeps_the_form(admin, console, alice, field, value, message):
    values = {
        "username": "newbie",
        "email": "newbie@example.org",
        "full_name": "New Bie",
        "temporary_password": TYPED_PASSWORD,
        field: value,
    }
    form = new_user_form(admin, **values)
    form["is_admin"] = True
    form["force_change"] = False
    page = form.submit("submit", status=400)
    assert_no_traceback(page)
    assert error_text(page) == message
    again = page.forms["new-user"]
    for name, typed in values.items():
        assert again[name].value == ("" if name == "temporary_password" else typed)
    assert again["is_admin"].checked
    assert not again["force_change"].checked
    assert TYPED_PASSWORD not in page.text
    assert find_user(console, "newbie") is None
    assert len(audit_events(console, "user_created")) == 2  # root and alice only


def test_new_user_with_a_bad_username_or_email(admin, console):
    form = new_user_form(admin, username="no spaces please", temporary_password=TYPED_PASSWORD)
    page = form.submit("submit", status=400)
    assert_no_traceback(page)
    assert any("letters, digits" in message for message in field_errors(page))
    assert TYPED_PASSWORD not in page.text  # a password is never sent back
    page = new_user_form(admin, username="gina", email="not-an-address").submit(
        "submit", status=400
    )
    assert error_text(page) or field_errors(page)
    assert find_user(console, "gina") is None


# --- one user's page --------------------------------------------------------------------


def test_user_page_shows_the_account(console, root, clock):
    alice = create_user(console, "alice", email=ALICE_EMAIL, full_name="Alice Liddell")
    ctx = app_context(console)
    try:
        terms.agree_terms(ctx, ctx.db.get(User, alice), "2025-06")
        ctx.db.commit()
    finally:
        ctx.db.close()
    device, _ = enrol(console, alice, clock)
    clock.advance(days=3)
    phone = browser(console, **{"HTTP_USER_AGENT": "AliceBrowser/1.0"})
    log_in_with_code(phone, "alice", device)
    login_time = clock.now
    clock.advance(seconds=1)  # failures after the login's reset of the count
    lock_out(console, "alice", times=10)
    admin = admin_browser(console)
    page = admin.get(user_path(alice), status=200)
    assert detail(page, "Status") == "active"
    assert detail(page, "Full name") == "Alice Liddell"
    assert detail(page, "Email") == ALICE_EMAIL
    assert detail(page, "Last login") == login_time.strftime("%Y-%m-%d %H:%M UTC")
    assert detail(page, "Password") == "changed 2026-01-05 09:00 UTC (3 days ago)"
    assert detail(page, "Terms of use").startswith("revision 2025-06, agreed 2026-01-05")
    assert detail(page, "Two-factor").startswith("on: authenticator app")
    assert "10 recovery codes left" in detail(page, "Two-factor")
    assert detail(page, "Failed logins") == "10 counting toward a lockout"
    until = login_time.replace(minute=login_time.minute + 10).strftime("%Y-%m-%d %H:%M UTC")
    assert detail(page, "Locked until") == f"{until} ( all untrusted clients )"
    [session] = table_rows(page, "user-sessions")
    assert session[:3] == ["browser", "192.0.2.10", "AliceBrowser/1.0"]
    table = page.html.select_one("#events-heading").find_next("table")
    events = {span["title"]: span.get_text() for span in table.select("td span[title]")}
    assert events["user_created"] == "Account created"
    assert events["two_factor_enrolled"] == "Two-factor authentication turned on"
    assert events["login_success"] == "Logged in"
    assert events["login_failure"] == "Failed login"
    assert events["lockout"] == "Locked out after wrong passwords"


def test_a_fresh_user_page(admin, console):
    carol = create_user(console, "carol", password=None)
    page = admin.get(user_path(carol), status=200)
    assert detail(page, "Password") == "none set"
    assert detail(page, "Last login") == "never"
    assert detail(page, "Two-factor") == "off"
    assert detail(page, "Failed logins") == "0"
    assert detail(page, "Locked until") == "not locked"
    assert detail(page, "Terms of use") == "not agreed"
    assert "No active sessions." in page.text


def test_unknown_user_page_is_404(admin):
    page = admin.get(user_path(999), status=404)
    assert_no_traceback(page)


# --- edit ---------------------------------------------------------------------------


def edit(admin: webtest.TestApp, user_id: int, status: int, **values: str) -> Any:
    form = confirmation(admin, user_id, "edit").forms["edit-user"]
    for name, value in values.items():
        form[name] = value
    return form.submit("submit", status=status)


def test_edit_email_and_full_name(admin, console, alice, mail_dir):
    form = confirmation(admin, alice, "edit").forms["edit-user"]
    assert form["email"].value == ALICE_EMAIL  # the current values to change
    assert form["full_name"].value == "Alice Liddell"
    done = edit(admin, alice, 303, email="a.liddell@example.org", full_name="Alice P. Liddell")
    assert location(done) == user_path(alice)
    assert flashes(done.follow()) == ["alice was saved."]
    user = get_user(console, alice)
    assert (user.email, user.full_name) == ("a.liddell@example.org", "Alice P. Liddell")
    edited = one_event(console, "user_edited", "alice")
    assert edited.details == {
        "email": [ALICE_EMAIL, "a.liddell@example.org"],
        "full_name": ["Alice Liddell", "Alice P. Liddell"],
    }
    # the old address is told (a hijacker would change it first)
    [mail] = read_mails(mail_dir)
    assert (mail.to, mail.subject) == (ALICE_EMAIL, CHANGED_SUBJECT)
    assert "changed your account's email address" in mail.body
    assert "logged out" not in mail.body
    # an empty address removes it
    edit(admin, alice, 303, email="")
    assert get_user(console, alice).email is None
    # a new full name alone tells nobody
    edit(admin, alice, 303, full_name="Alice")
    assert len(read_mails(mail_dir)) == 2


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("bob@example.org", "That email address belongs to another account."),
        ("BOB@EXAMPLE.ORG", "That email address belongs to another account."),
        ("alice at example.org", "Enter an email address such as name@example.org."),
    ],
)
def test_edit_refuses_a_taken_or_invalid_email(admin, console, alice, email, message):
    create_user(console, "bob", email="bob@example.org")
    page = edit(admin, alice, 400, email=email, full_name="Changed Name")
    assert_no_traceback(page)
    assert message in (error_text(page) + " ".join(field_errors(page)))
    assert page.forms["edit-user"]["email"].value == email  # as typed, to correct
    user = get_user(console, alice)
    assert (user.email, user.full_name) == (ALICE_EMAIL, "Alice Liddell")
    assert audit_events(console, "user_edited") == []


# --- actions ---------------------------------------------------------------------------


def test_approve(admin, console):
    gina = create_user(console, "gina", status=UserStatus.PENDING_APPROVAL)
    assert not can_log_in(console, "gina")
    done = press(admin, gina, "approve")
    assert location(done) == user_path(gina)
    assert flashes(done.follow()) == ["gina is approved and can log in."]
    assert get_user(console, gina).status == "active"
    assert can_log_in(console, "gina")
    assert one_event(console, "user_approved", "gina").details == {
        "from": "pending_approval",
        "to": "active",
    }


def test_approve_an_address_not_yet_verified(admin, console):
    gina = create_user(console, "gina", status=UserStatus.PENDING_EMAIL)
    press(admin, gina, "approve")
    assert get_user(console, gina).status == "active"
    assert can_log_in(console, "gina")
    assert one_event(console, "user_approved", "gina").details["from"] == "pending_email"


def test_enable(admin, console):
    gina = create_user(console, "gina", status=UserStatus.DISABLED)
    assert not can_log_in(console, "gina")
    done = press(admin, gina, "enable")
    assert flashes(done.follow()) == ["gina is enabled."]
    assert get_user(console, gina).status == "active"
    assert can_log_in(console, "gina")
    one_event(console, "user_enabled", "gina")


def test_unlock(admin, console, alice):
    lock_out(console, "alice")
    refused = submit_login(browser(console, ip="198.51.100.7"), "alice", GOOD_PASSWORD, status=429)
    assert "locked until" in refused.text
    done = press(admin, alice, "unlock")
    assert flashes(done.follow()) == ["alice is unlocked."]
    assert can_log_in(console, "alice")
    one_event(console, "unlock", "alice")
    page = admin.get(user_path(alice), status=200)
    assert detail(page, "Locked until") == "not locked"


def test_force_password_change(admin, console, alice):
    client = logged_in(console, "alice")
    done = press(admin, alice, "force-password-change")
    assert flashes(done.follow()) == ["alice must change their password at their next page view."]
    assert get_user(console, alice).must_change_password
    # at her next page view, in the session she already has
    gated = client.get("/", status=303)
    assert location(gated).startswith(CHANGE_PASSWORD)
    change_password(client, GOOD_PASSWORD, OTHER_PASSWORD)
    client.get("/", status=200)
    one_event(console, "password_change_forced", "alice")
    # once forced, the button is not offered again until she has changed it
    press(admin, alice, "force-password-change")
    page = admin.get(user_path(alice), status=200)
    assert "Must be changed at next login." in detail(page, "Password")
    assert not [f for f in page.forms.values() if f.action.endswith("force-password-change")]


def test_disable_ends_sessions(admin, console, alice):
    client = logged_in(console, "alice")
    assert session_rows(console, alice)
    page = confirmation(admin, alice, "disable")
    assert "All of their sessions end at once" in page.text
    done = page.forms["confirm-disable"].submit("submit", status=303)
    assert flashes(done.follow()) == ["alice is disabled and their sessions have ended."]
    assert get_user(console, alice).status == "disabled"
    assert session_rows(console, alice) == []
    assert location(client.get("/", status=303)).startswith("/login")
    refused = submit_login(browser(console), "alice", GOOD_PASSWORD, status=403)
    assert error_text(refused) == INVALID_LOGIN
    one_event(console, "user_disabled", "alice")


def test_end_sessions(admin, console, alice):
    client = logged_in(console, "alice")
    done = confirm(admin, alice, "end-sessions")
    assert flashes(done.follow()) == ["Every session of alice has ended."]
    assert session_rows(console, alice) == []
    assert location(client.get("/", status=303)).startswith("/login")
    ended = one_event(console, "session_ended", "alice")
    assert ended.details == {"count": 1}
    assert can_log_in(console, "alice")  # the account itself is untouched


def test_remove_two_factor(admin, console, alice, clock, mail_dir):
    device, _ = enrol(console, alice, clock)
    client = browser(console)
    log_in_with_code(client, "alice", device)
    page = admin.get(user_path(alice), status=200)
    assert detail(page, "Two-factor").startswith("on")
    done = confirm(admin, alice, "remove-two-factor")
    assert flashes(done.follow()) == ["Two-factor authentication was removed from alice."]
    assert (
        all_rows(console, select(TwoFactorCredential).where(TwoFactorCredential.user_id == alice))
        == []
    )
    assert session_rows(console, alice) == []
    [mail] = read_mails(mail_dir)
    assert (mail.to, mail.subject) == (ALICE_EMAIL, CHANGED_SUBJECT)
    assert "removed two-factor authentication" in mail.body
    # now the password alone logs her in
    assert location(submit_login(browser(console), "alice", GOOD_PASSWORD)) == "/"
    assert one_event(console, "two_factor_removed", "alice").details == {"by": "administrator"}
    assert "Remove two-factor" not in admin.get(user_path(alice)).text


def test_grant_and_revoke_administrator_rights(admin, console, alice):
    done = confirm(admin, alice, "grant-admin")
    assert flashes(done.follow()) == ["alice is now an administrator."]
    assert get_user(console, alice).is_admin
    alice_browser = logged_in(console, "alice")
    alice_browser.get("/admin", status=200)
    one_event(console, "admin_granted", "alice")
    done = confirm(admin, alice, "revoke-admin")
    assert flashes(done.follow()) == ["alice is no longer an administrator."]
    assert not get_user(console, alice).is_admin
    assert_no_traceback(alice_browser.get("/admin", status=403))
    one_event(console, "admin_revoked", "alice")


def test_delete(admin, console, alice, clock):
    device, _ = enrol(console, alice, clock)  # with a device, recovery codes,
    log_in_with_code(browser(console), "alice", device)  # a session,
    lock_out(console, "alice")  # failures and a lock
    submit_login(browser(console), "alice", GOOD_PASSWORD, status="*")
    page = confirmation(admin, alice, "delete")
    assert "This cannot be undone" in page.text
    done = page.forms["confirm-delete"].submit("submit", status=303)
    assert location(done) == USERS
    listed = done.follow(status=200)
    assert flashes(listed) == ["alice was deleted."]
    assert "alice" not in usernames_listed(listed)
    assert find_user(console, "alice") is None
    assert session_rows(console, alice) == []
    admin.get(user_path(alice), status=404)
    assert not can_log_in(console, "alice")
    deleted = one_event(console, "user_deleted", "alice")
    assert deleted.target_id is None  # the account is gone; its name stays in the log
    for model in (TwoFactorCredential, RecoveryCode):
        assert all_rows(console, select(model).where(model.user_id == alice)) == []
    # a new account of the same name starts with none of it
    create_user(console, "alice")
    assert (
        location(submit_login(browser(console, ip="198.51.100.8"), "alice", GOOD_PASSWORD)) == "/"
    )
    assert [e.target_id for e in audit_events(console, "user_deleted")] == [None]


def test_reset_password_typed(admin, console, alice, mail_dir):
    client = logged_in(console, "alice")
    lock_out(console, "alice")
    form = confirmation(admin, alice, "reset-password").forms["reset-password"]
    form["temporary_password"] = TYPED_PASSWORD
    form["force_change"] = False
    done = form.submit("submit", status=303)
    page = done.follow(status=200)
    assert flashes(page) == ["The password of alice was reset."]
    assert shown_temporary_password(page) is None
    assert session_rows(console, alice) == []  # her sessions ended
    assert location(client.get("/", status=303)).startswith("/login")
    assert detail(page, "Locked until") == "not locked"
    # the lockout is cleared: the new password works at once, the old one not at all
    assert not can_log_in(console, "alice", GOOD_PASSWORD)
    fresh = browser(console)
    assert location(submit_login(fresh, "alice", TYPED_PASSWORD)) == "/"
    fresh.get("/", status=200)  # no change forced
    [mail] = read_mails(mail_dir)
    assert (mail.to, mail.subject) == (ALICE_EMAIL, CHANGED_SUBJECT)
    assert "reset your password" in mail.body
    assert TYPED_PASSWORD not in mail.body
    assert one_event(console, "password_reset", "alice").details == {"force_change": False}


def test_reset_password_generated(admin, console, alice, mail_dir):
    form = confirmation(admin, alice, "reset-password").forms["reset-password"]
    assert form["force_change"].checked
    done = form.submit("submit", status=303)
    assert location(done) == user_path(alice)
    page = done.follow()
    assert flashes(page) == ["The password of alice was reset."]
    password = shown_temporary_password(page)
    assert password is not None
    # a reload shows it again and resets nothing
    assert shown_temporary_password(admin.get(user_path(alice), status=200)) == password
    assert all(password not in row.data for row in session_rows(console))
    # the same form sent again (back button, resubmit; a double click): no second reset
    again = form.submit("submit", status=303)
    assert "was done already" in " ".join(flashes(again.follow()))
    assert len(audit_events(console, "password_reset")) == 1
    [mail] = read_mails(mail_dir)
    assert password not in mail.body
    assert not can_log_in(console, "alice", GOOD_PASSWORD)
    client = browser(console)
    assert location(submit_login(client, "alice", password)) == "/"
    assert location(client.get("/", status=303)).startswith(CHANGE_PASSWORD)
    assert one_event(console, "password_reset", "alice").details == {"force_change": True}


def test_reset_password_of_a_user_without_email_sends_nothing(admin, console, mail_dir):
    carol = create_user(console, "carol")
    form = confirmation(admin, carol, "reset-password").forms["reset-password"]
    form["temporary_password"] = TYPED_PASSWORD
    form.submit("submit", status=303)
    assert read_mails(mail_dir) == []
    assert can_log_in(console, "carol", TYPED_PASSWORD)


def test_reset_password_refuses_a_weak_one(admin, console, alice):
    form = confirmation(admin, alice, "reset-password").forms["reset-password"]
    form["temporary_password"] = "alice-alice-alice"
    page = form.submit("submit", status=400)
    assert_no_traceback(page)
    assert "username" in error_text(page).lower()
    assert page.forms["reset-password"]["temporary_password"].value == ""
    assert can_log_in(console, "alice")
    assert audit_events(console, "password_reset") == []


TOKEN_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def token_form(admin: webtest.TestApp, user_id: int, token: Token, code: str) -> webtest.Form:
    form = confirmation(admin, user_id, "hardware-token").forms["hardware-token"]
    form["secret"] = token.secret
    form["code"] = code
    form["period"] = str(token.period)
    form["algorithm"] = token.algorithm
    return form


def test_enrol_hardware_token(admin, console, alice, clock, mail_dir):
    client = logged_in(console, "alice")
    token = Token(TOKEN_SECRET, clock, period=60, algorithm="sha256", ahead=2)
    code = pyotp.TOTP(TOKEN_SECRET, digest=hashlib.sha256, interval=60).at(
        clock.now.timestamp() + 120
    )
    assert code == token.now()
    done = token_form(admin, alice, token, code).submit("submit", status=303)
    page = done.follow(status=200)
    assert flashes(page) == ["A hardware token is enrolled for alice."]
    assert detail(page, "Two-factor").startswith("on: hardware token")
    assert session_rows(console, alice) == []
    assert location(client.get("/", status=303)).startswith("/login")
    [mail] = read_mails(mail_dir)
    assert "enrolled a hardware token" in mail.body and mail.to == ALICE_EMAIL
    enrolled = one_event(console, "two_factor_enrolled", "alice")
    assert enrolled.details["method"] == "hardware" and enrolled.details["drift"] == 2
    # she now logs in with the token's code
    phone = browser(console)
    password_step(phone, "alice")
    form = phone.get("/login/two-factor", status=200).forms["two-factor"]
    form["code"] = token.next()
    assert location(form.submit("submit", status=303)) == "/"


def test_hardware_token_with_a_hexadecimal_secret_and_eight_digits(admin, console, alice, clock):
    raw = bytes(range(1, 21))
    base32 = base64.b32encode(raw).decode()
    code = pyotp.TOTP(base32, digits=8, digest=hashlib.sha1, interval=30).at(clock.now)
    form = confirmation(admin, alice, "hardware-token").forms["hardware-token"]
    form["secret"] = " ".join(raw.hex()[i : i + 4] for i in range(0, 40, 4))
    form["hexadecimal"] = True
    form["code"] = code
    form["digits"] = "8"
    form["algorithm"] = "sha1"
    form.submit("submit", status=303)
    [credential] = all_rows(
        console, select(TwoFactorCredential).where(TwoFactorCredential.user_id == alice)
    )
    assert (credential.kind, credential.digits) == ("hardware", 8)
    clock.advance(seconds=30)
    phone = browser(console)
    password_step(phone, "alice")
    form = phone.get("/login/two-factor", status=200).forms["two-factor"]
    form["code"] = pyotp.TOTP(base32, digits=8, interval=30).at(clock.now)
    assert location(form.submit("submit", status=303)) == "/"


def test_hardware_token_with_a_wrong_code(admin, console, alice, clock):
    token = Token(TOKEN_SECRET, clock, period=30, algorithm="sha1")
    right = token.now()
    wrong = next(f"{n:06d}" for n in range(1000) if f"{n:06d}" != right)
    page = token_form(admin, alice, token, wrong).submit("submit", status=400)
    assert_no_traceback(page)
    assert error_text(page).startswith("The code does not match the secret")
    assert TOKEN_SECRET not in page.text  # the secret is typed again, not echoed
    again = page.forms["hardware-token"]
    assert again["secret"].value == ""
    assert again["period"].value == "30"
    assert (
        all_rows(console, select(TwoFactorCredential).where(TwoFactorCredential.user_id == alice))
        == []
    )
    assert audit_events(console, "two_factor_enrolled") == []


def test_hardware_token_secret_is_not_echoed_on_any_refusal(admin, console, alice, clock):
    token = Token(TOKEN_SECRET, clock, period=30, algorithm="sha1")
    form = token_form(admin, alice, token, "")  # no code: deform refuses the form
    page = form.submit("submit", status=400)
    assert_no_traceback(page)
    assert TOKEN_SECRET not in page.text
    assert page.forms["hardware-token"]["secret"].value == ""


def test_hardware_token_replaces_an_app_only_when_ticked(admin, console, alice, clock):
    enrol(console, alice, clock)
    token = Token(TOKEN_SECRET, clock, period=30, algorithm="sha1")
    page = token_form(admin, alice, token, token.now()).submit("submit", status=400)
    assert "already has two-factor" in error_text(page)
    form = token_form(admin, alice, token, token.now())
    form["replace"] = True
    form.submit("submit", status=303)
    [credential] = all_rows(
        console, select(TwoFactorCredential).where(TwoFactorCredential.user_id == alice)
    )
    assert credential.kind == "hardware"
    assert one_event(console, "two_factor_enrolled", "alice").details["replaced"] is True
    # the same form sent again (back button, resubmit): no second replacement
    clock.advance(seconds=30)
    form["code"] = token.now()
    again = form.submit("submit", status=303).follow()
    assert "was done already" in " ".join(flashes(again))
    assert len(audit_events(console, "two_factor_enrolled")) == 2  # the app, then the token


# --- refusals --------------------------------------------------------------------------


def assert_refused(page: webtest.TestResponse, message: str) -> None:
    assert page.status_int == 400
    assert_no_traceback(page)
    assert alert(page) == message
    assert not [f for f in page.forms.values() if f.id and f.id.startswith("confirm-")]


@pytest.mark.parametrize(
    ("action", "message", "event"),
    [
        ("delete", "You cannot delete your own account.", "user_deleted"),
        ("disable", "You cannot disable your own account.", "user_disabled"),
        (
            "revoke-admin",
            "You cannot remove your own administrator rights: ask another administrator.",
            "admin_revoked",
        ),
    ],
)
def test_refused_for_yourself(console, root, action, message, event):
    make_admin(console, "boss")  # so it is not the last administrator that protects
    admin = admin_browser(console)
    # not offered on your own page...
    own_page = admin.get(user_path(root), status=200)
    assert not own_page.html.select(f'a[href="{user_path(root, action)}"]')
    # ...and refused when asked for all the same
    page = admin.get(user_path(root, action), status=200)
    refused = page.forms[f"confirm-{action}"].submit("submit", status=400)
    assert_refused(refused, message)
    me = get_user(console, root)
    assert (me.status, me.is_admin) == ("active", True)
    assert audit_events(console, event) == []
    admin.get("/admin", status=200)  # still logged in, still an administrator


def test_no_reset_password_link_for_yourself(admin, console, root):
    page = admin.get(user_path(root), status=200)
    assert not page.html.select(f'a[href="{user_path(root, "reset-password")}"]')
    form = admin.get(user_path(root, "reset-password"), status=200).forms["reset-password"]
    form["temporary_password"] = TYPED_PASSWORD
    refused = form.submit("submit", status=400)
    assert_no_traceback(refused)
    assert "Change password page" in error_text(refused)
    assert can_log_in(console, ADMIN)


def test_approve_of_an_active_user_is_refused(admin, console, alice):
    page = admin.get(user_path(alice), status=200)
    csrf = page.html.select_one('input[name="csrf_token"]')["value"]
    refused = admin.post(user_path(alice, "approve"), {"csrf_token": csrf}, status="*")
    assert refused.status_int in (400, 409), refused.status
    assert_no_traceback(refused)
    assert "alice" in alert(refused)
    assert get_user(console, alice).status == "active"
    assert audit_events(console, "user_approved") == []


def test_the_locks_of_other_usernames_stay(admin, console, alice):
    create_user(console, "bob")
    lock_out(console, "alice")
    lock_out(console, "bob")
    press(admin, alice, "unlock")
    locked = all_rows(console, select(Lockout).where(Lockout.locked_until.is_not(None)))
    assert [lock.username_key for lock in locked] == ["bob"]


def test_get_of_a_one_click_action_changes_nothing(admin, console, alice):
    lock_out(console, "alice")
    response = admin.get(user_path(alice, "unlock"), status=303)
    assert location(response) == user_path(alice)
    assert not can_log_in(console, "alice")
    assert audit_events(console, "unlock") == []


def test_every_action_is_audited_by_the_administrator(admin, console, alice):
    """No action leaves an event without its actor."""
    press(admin, alice, "force-password-change")
    confirm(admin, alice, "disable")
    press(admin, alice, "enable")
    confirm(admin, alice, "grant-admin")
    confirm(admin, alice, "revoke-admin")
    confirm(admin, alice, "delete")
    mine = [
        row.event
        for row in all_rows(console, select(AuditEvent).order_by(AuditEvent.id))
        if row.target_name == "alice" and row.event != "session_ended"
    ]
    assert mine[1:] == [
        "password_change_forced",
        "user_disabled",
        "user_enabled",
        "admin_granted",
        "admin_revoked",
        "user_deleted",
    ]
    for event in mine[1:]:
        one_event(console, event, "alice")
