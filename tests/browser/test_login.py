"""Logging in and out in a real browser against a real waitress server (PRODUCT §4, §5, §7)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from ..conftest import GOOD_PASSWORD
from .conftest import LOCKOUT_THRESHOLD, Browsing, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOT = Path("/tmp/camauth-login.png")  # noqa: S108 - a fixed name people look at
SESSION_COOKIE = "camauth_session"
INVALID = "Invalid username or password."
NEW_PASSWORD = "violet lantern mosaic drifting north"
LOGIN_URL = re.compile(r"/login(\?.*)?$")
BOOTSTRAP_PRIMARY = "rgb(13, 110, 253)"


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()


def expect_signed_in(page: Page, username: str) -> None:
    expect(page.get_by_text(f"Signed in as {username}", exact=True)).to_be_visible()


def expect_refused(page: Page, message: str | re.Pattern[str]) -> None:
    expect(page.get_by_role("alert")).to_contain_text(message)
    expect(page).to_have_url(LOGIN_URL)
    expect(page.get_by_text("Signed in as")).to_have_count(0)


def session_cookies(page: Page) -> list[dict]:
    return [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]


def test_login_page_looks_right(page: Page, browsing: Browsing) -> None:
    page.goto("/login")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    expect(page.get_by_label("Username")).to_be_editable()
    expect(page.get_by_label("Password", exact=True)).to_have_attribute("type", "password")
    button = page.get_by_role("button", name="Log in", exact=True)
    # Bootstrap (deform's static files) and camauth.css really applied: CSP let them in
    expect(button).to_have_css("background-color", BOOTSTRAP_PRIMARY)
    expect(page.locator(".narrow")).to_have_css("max-width", "448px")
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 0
    assert browsing.problems.found == []


def test_log_in_and_out(page: Page, live_server: LiveServer, browsing: Browsing) -> None:
    live_server.add_user("alice", password=GOOD_PASSWORD)
    log_in(page, "alice", GOOD_PASSWORD)
    expect_signed_in(page, "alice")

    [cookie] = session_cookies(page)
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["expires"] == -1  # ends with the browser

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(LOGIN_URL)
    expect(page.get_by_role("button", name="Log in", exact=True)).to_be_visible()
    assert session_cookies(page) == []

    # the old token is useless afterwards: put it back and try
    page.context.add_cookies([cookie])
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F$"))
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    assert browsing.problems.found == []


def test_next_page_after_login(page: Page, live_server: LiveServer) -> None:
    live_server.add_user("alice", password=GOOD_PASSWORD)
    page.goto("/account/password")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Faccount%2Fpassword$"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password", exact=True).fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/account/password$"))
    expect(page.get_by_role("heading", name="Change password")).to_be_visible()


@pytest.mark.parametrize("username", ["alice", "nobody"])
def test_wrong_password_gets_the_generic_message(
    page: Page, live_server: LiveServer, browsing: Browsing, username: str
) -> None:
    live_server.add_user("alice", password=GOOD_PASSWORD)
    log_in(page, username, "not the password at all")
    expect_refused(page, INVALID)
    expect(page.get_by_label("Username")).to_have_value(username)
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    assert session_cookies(page) == []
    assert browsing.problems.found == []


def test_lockout_after_threshold_failures(page: Page, live_server: LiveServer) -> None:
    live_server.add_user("alice", password=GOOD_PASSWORD)
    for _ in range(LOCKOUT_THRESHOLD - 1):
        log_in(page, "alice", "wrong password, again")
        expect_refused(page, INVALID)
    log_in(page, "alice", "wrong password, again")
    expect_refused(page, "locked until")

    # while locked even the right password is refused, and says until when
    log_in(page, "alice", GOOD_PASSWORD)
    expect_refused(page, re.compile(r"locked until \d{4}-\d\d-\d\d \d\d:\d\d UTC"))

    live_server.clock.advance(minutes=11)  # threshold failures lock for 10 minutes
    log_in(page, "alice", GOOD_PASSWORD)
    expect_signed_in(page, "alice")


def test_lockout_spares_a_browser_used_before(browsing: Browsing, live_server: LiveServer) -> None:
    """Failures elsewhere lock out untrusted clients, not the person's own browser."""
    live_server.add_user("alice", password=GOOD_PASSWORD)
    own = browsing.new_page()
    log_in(own, "alice", GOOD_PASSWORD)
    expect_signed_in(own, "alice")
    own.get_by_role("button", name="Log out").click()
    expect(own).to_have_url(LOGIN_URL)

    attacker = browsing.new_page()
    for _ in range(LOCKOUT_THRESHOLD):
        log_in(attacker, "alice", "guessing a password")
    expect_refused(attacker, "locked until")

    log_in(own, "alice", GOOD_PASSWORD)
    expect_signed_in(own, "alice")
    log_in(attacker, "alice", GOOD_PASSWORD)
    expect_refused(attacker, "locked until")


def test_first_admin_must_change_password(
    page: Page, live_server: LiveServer, browsing: Browsing
) -> None:
    username, one_time = live_server.add_first_admin()
    log_in(page, username, one_time)
    expect(page).to_have_url(re.compile(r"/account/password(\?.*)?$"))
    expect(page.get_by_text("You must choose a new password before you continue.")).to_be_visible()

    # nothing else is reachable until the password is changed
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/account/password\?next=%2F$"))

    page.get_by_label("Current password").fill(one_time)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect_signed_in(page, username)
    expect(page.get_by_role("status")).to_have_text("Your password has been changed.")

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(LOGIN_URL)
    log_in(page, username, one_time)
    expect_refused(page, INVALID)
    log_in(page, username, NEW_PASSWORD)
    expect_signed_in(page, username)  # straight home: nothing owed any more
    assert browsing.problems.found == []
