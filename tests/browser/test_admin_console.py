"""The administrator console in a real browser (PRODUCT §9, §4, §8), end to end:

an administrator with two-factor logs in, creates a user through Administration →
Users → New user; the user is locked out by wrong passwords in another browser;
the administrator finds them on the Lockouts page and unlocks them; the user logs
in. On the way every console page is saved as a full-page screenshot in
``docs/screenshots/`` (for the README), and no page may break the Content
Security Policy (the dashboard's chart is inline SVG).

The server runs with the default policy (two-factor required for administrators)
and the default lockout threshold (10). Time is the server's fake clock, so the
screenshots show the same times on every run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from camauth.clock import FakeClock
from camauth.models import User, UserStatus
from camauth.services import accounts, lockout, mfa
from camauth.services.context import Origin

from ..conftest import GOOD_PASSWORD, app_context
from .conftest import Browsing, LiveServer, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
THRESHOLD = 10  # camauth.lockout.threshold's default
ADMIN = "root"
USER = "alice"
USER_PASSWORD = "amber kettle orbit sixty lanterns"
WRONG_PASSWORD = "not alice's password at all"
INVALID = "Invalid username or password."
LOCKED = "this account is locked until"
HOUR = timedelta(hours=1)
LOGIN_URL = re.compile(r"/login(\?.*)?$")
USER_URL = re.compile(r"/admin/users/\d+$")

# login failures before anyone logs in: (hours ago, count), spread over usernames and
# addresses that belong to nobody, so the dashboard's chart has something to show
FAILURE_HOURS = [(8, 3), (7, 6), (6, 2), (5, 0), (4, 4), (3, 8), (2, 5), (1, 2)]
GUESSED_NAMES = ["guest", "test", "oracle", "backup", "www"]
GUESSING_IPS = ["203.0.113.7", "198.51.100.23", "192.0.2.200"]

# a securitypolicyviolation listener, installed before any page script could run
# (through the browser's own channel, which the page's CSP does not govern)
CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


# --- server and browsers -----------------------------------------------------------------


@pytest.fixture
def console_server(ini_settings: dict[str, Any], clock: FakeClock) -> Iterator[LiveServer]:
    """The shared test settings, with the policy and lockout threshold at their defaults."""
    assert "camauth.mfa.required_for" not in ini_settings
    assert "camauth.lockout.threshold" not in ini_settings
    with serve(ini_settings, clock) as server:
        yield server


@pytest.fixture
def console_browsing(browser: Browser, console_server: LiveServer) -> Iterator[Browsing]:
    browsing = Browsing(browser, console_server.url)
    yield browsing
    browsing.close()


def new_page(browsing: Browsing) -> Page:
    """A page in a browser context of its own, README-sized, watched for problems."""
    context = browsing.browser.new_context(base_url=browsing.base_url, viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    context.add_init_script(CSP_WATCH)
    browsing.contexts.append(context)
    page = context.new_page()
    browsing.problems.watch(page)
    return page


def csp_violations(page: Page) -> list[str]:
    found = page.evaluate("window.__cspViolations")
    assert isinstance(found, list), "the CSP listener is not installed"
    return [str(item) for item in found]


def screenshot(page: Page, name: str) -> None:
    """A full-page screenshot for the README, after checking the page broke no CSP."""
    assert csp_violations(page) == [], page.url
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
    assert path.stat().st_size > 10_000, path


# --- what is there before the story starts --------------------------------------------------


def seed_failures(server: LiveServer) -> int:
    """Failed logins over the last hours, as the login page records them (no actor,
    a client's address); the clock moves forward through them. Returns how many."""
    clock = server.clock
    first_hours_ago = FAILURE_HOURS[0][0]
    start = clock.now
    ctx = app_context(server.app)
    number = 0
    try:
        for hours_ago, count in FAILURE_HOURS:
            clock.now = start + (first_hours_ago - hours_ago) * HOUR
            for _ in range(count):
                ip = GUESSING_IPS[number % len(GUESSING_IPS)]
                origin = Origin(actor_name="", ip=ip, user_agent="python-requests/2.32")
                guessed = GUESSED_NAMES[number % len(GUESSED_NAMES)]
                lockout.record_failure(replace(ctx, origin=origin), guessed)
                number += 1
        ctx.db.commit()
    finally:
        ctx.db.close()
    clock.now = start + first_hours_ago * HOUR
    return number


def add_users(server: LiveServer) -> str:
    """The administrator (with an authenticator app) and two other accounts;
    returns the administrator's two-factor secret."""
    server.add_user(
        ADMIN,
        password=GOOD_PASSWORD,
        is_admin=True,
        full_name="Rosa Admin",
        email="root@example.org",
    )
    server.add_user(
        "bob", password=GOOD_PASSWORD, full_name="Bob Disabled", status=UserStatus.DISABLED
    )
    server.add_user(
        "carol",
        password=GOOD_PASSWORD,
        full_name="Carol Waiting",
        status=UserStatus.PENDING_APPROVAL,
    )
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # fixed: the screenshots show nothing random
    ctx = app_context(server.app)
    try:
        admin = accounts.find_user(ctx, ADMIN)
        assert isinstance(admin, User)
        mfa.enrol_app(ctx, admin, secret, pyotp.TOTP(secret).at(server.clock.now))
        ctx.db.commit()
    finally:
        ctx.db.close()
    server.clock.advance(seconds=30)  # the enrolling code's time step is used up
    return secret


# --- steps ---------------------------------------------------------------------------------


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()


def expect_signed_in(page: Page, username: str) -> None:
    expect(page.get_by_text(f"Signed in as {username}", exact=True)).to_be_visible()


def expect_heading(page: Page, text: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(text)


def console_menu(page: Page, entry: str) -> None:
    page.get_by_label("Administration").get_by_role("link", name=entry, exact=True).click()


def administrator_logs_in(page: Page, server: LiveServer, secret: str) -> None:
    log_in(page, ADMIN, GOOD_PASSWORD)
    expect(page).to_have_url(re.compile(r"/login/two-factor$"))
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).at(server.clock.now))
    page.get_by_role("button", name="Verify").click()
    expect_signed_in(page, ADMIN)


def create_user(page: Page) -> None:
    """Administration → Users → New user, with a typed password and no forced change."""
    page.get_by_role("link", name="Administration", exact=True).click()
    expect_heading(page, "Dashboard")
    console_menu(page, "Users")
    expect_heading(page, "Users")
    screenshot(page, "admin-users.png")

    page.get_by_role("link", name="New user").click()
    expect_heading(page, "New user")
    page.get_by_label("Username").fill(USER)
    page.get_by_label("Email").fill("alice@example.org")
    page.get_by_label("Full name").fill("Alice Liddell")
    page.get_by_label("Temporary password").fill(USER_PASSWORD)
    force = page.get_by_label("Force a password change at next login")
    expect(force).to_be_checked()  # the safe default
    force.uncheck()
    force.blur()
    expect(page.get_by_label("Administrator", exact=True)).not_to_be_checked()
    screenshot(page, "admin-user-new.png")
    page.get_by_role("button", name="Create user").click()

    expect(page).to_have_url(USER_URL)
    expect(page.get_by_role("status")).to_have_text(f"{USER} was created.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(USER)
    expect(page.locator("#temporary-password")).to_have_count(0)  # it was typed, not made up


def visit_the_user_forms(page: Page) -> None:
    """Edit (and save), reset password, hardware token, a confirmation: each page once."""
    page.get_by_role("link", name="Edit", exact=True).click()
    expect_heading(page, f"Edit {USER}")
    expect(page.get_by_label("Full name")).to_have_value("Alice Liddell")
    page.get_by_label("Full name").fill("Alice P. Liddell")
    screenshot(page, "admin-user-edit.png")
    page.get_by_role("button", name="Save").click()
    expect(page).to_have_url(USER_URL)
    expect(page.get_by_role("status")).to_have_text(f"{USER} was saved.")
    expect(page.locator("table.details")).to_contain_text("Alice P. Liddell")

    page.get_by_role("link", name="Reset password").click()
    expect_heading(page, f"Reset the password of {USER}")
    expect(page.get_by_label("Temporary password")).to_be_editable()
    screenshot(page, "admin-reset-password.png")
    page.get_by_role("link", name=f"Back to {USER}").click()
    expect(page).to_have_url(USER_URL)

    page.get_by_role("link", name="Enrol hardware token").click()
    expect_heading(page, f"Enrol a hardware token for {USER}")
    expect(page.get_by_label("Secret", exact=True)).to_be_editable()
    screenshot(page, "admin-hardware-token.png")
    page.get_by_role("link", name=f"Back to {USER}").click()
    expect(page).to_have_url(USER_URL)

    page.get_by_role("link", name="Delete…").click()
    expect_heading(page, f"Delete {USER}?")
    expect(page.get_by_role("button", name="Delete")).to_be_visible()
    screenshot(page, "admin-confirm-delete.png")
    page.get_by_role("link", name=f"Back to {USER}").click()  # not deleted after all
    expect(page).to_have_url(USER_URL)


def lock_out(page: Page) -> None:
    """Ten wrong passwords from a browser alice never used: her account locks."""
    for attempt in range(1, THRESHOLD + 1):
        log_in(page, USER, WRONG_PASSWORD)
        alert = page.get_by_role("alert")
        if attempt < THRESHOLD:
            expect(alert).to_have_text(INVALID)
        else:
            expect(alert).to_contain_text(LOCKED)
    # now even her password is refused, without being checked
    log_in(page, USER, USER_PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text(
        re.compile(LOCKED + r" \d{4}-\d\d-\d\d \d\d:\d\d UTC")
    )
    expect(page).to_have_url(LOGIN_URL)
    expect(page.get_by_text("Signed in as")).to_have_count(0)


def unlock(page: Page) -> None:
    """Lockouts page: alice is listed; her page says so too; Unlock."""
    console_menu(page, "Lockouts")
    expect_heading(page, "Lockouts")
    row = page.locator(f'#locked tr[data-username="{USER}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text(str(THRESHOLD))
    expect(row).to_contain_text("all untrusted clients")
    screenshot(page, "admin-lockouts.png")

    row.get_by_role("link", name=USER).click()
    expect(page).to_have_url(USER_URL)
    expect(page.locator("#failure-count")).to_contain_text(str(THRESHOLD))
    expect(page.locator("#locked-until")).not_to_contain_text("not locked")
    screenshot(page, "admin-user.png")

    console_menu(page, "Lockouts")
    page.locator(f'#locked tr[data-username="{USER}"]').get_by_role("button", name="Unlock").click()
    expect(page.get_by_role("status")).to_have_text(f"{USER} is unlocked.")
    expect(page.locator(f'#locked tr[data-username="{USER}"]')).to_have_count(0)


# --- the test ------------------------------------------------------------------------------


def test_an_administrator_creates_a_user_and_unlocks_them(
    console_server: LiveServer, console_browsing: Browsing
) -> None:
    server = console_server
    failures = seed_failures(server)
    secret = add_users(server)

    admin = new_page(console_browsing)
    administrator_logs_in(admin, server, secret)

    # the dashboard: its chart is inline SVG, with the failures of the last hours
    admin.get_by_role("link", name="Administration", exact=True).click()
    expect_heading(admin, "Dashboard")
    chart = admin.locator("svg.chart")
    expect(chart).to_be_visible()
    expect(chart.locator("desc")).to_contain_text(f"{failures} failed logins in all")
    # guessed names: every failure is one for an unknown username
    counts = chart.locator("rect.chart-unknown").evaluate_all(
        "bars => bars.map(bar => +bar.dataset.count)"
    )
    # 24 hourly bars, the current hour last: the seeded hours, then this quiet one
    seeded = [count for _hours_ago, count in FAILURE_HOURS]
    assert counts == [0] * (24 - len(seeded) - 1) + seeded + [0], counts
    screenshot(admin, "admin-dashboard.png")
    assert console_browsing.problems.found == []  # nothing refused, no CSP complaint

    create_user(admin)
    visit_the_user_forms(admin)

    user = new_page(console_browsing)
    lock_out(user)

    unlock(admin)

    log_in(user, USER, USER_PASSWORD)
    expect(user).to_have_url(re.compile(r"/$"))
    expect_signed_in(user, USER)

    console_menu(admin, "Sessions")
    expect_heading(admin, "Sessions (2 active)")
    expect(admin.locator("#sessions")).to_contain_text(USER)
    screenshot(admin, "admin-sessions.png")

    console_menu(admin, "Audit log")
    expect_heading(admin, "Audit log")
    audit = admin.locator("#audit")
    for words in (
        "Logged in",
        "Unlocked",
        "Locked out after wrong passwords",
        "Account details changed",
        "Account created",
    ):
        expect(audit.get_by_role("cell", name=words, exact=True).first).to_be_visible()
    screenshot(admin, "admin-audit.png")

    assert csp_violations(user) == []
    # refused logins are 403 documents, which Chromium logs; nothing else went wrong
    assert console_browsing.problems.found == []

    # and the watch would have seen a violation: an inline style is refused
    admin.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">x</p>')")
    admin.wait_for_function("window.__cspViolations.length > 0")
    assert any(found.startswith("style-src") for found in csp_violations(admin))
