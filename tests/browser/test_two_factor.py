"""Two-factor authentication in a real browser (PRODUCT §8, §15): enrolling an
authenticator app from the QR code page, the login's second step, recovery codes,
and the policy that sends administrators to set it up.

Codes are computed with pyotp from the secret the page shows, at the server's
fake clock: time moves by ``live_server.clock.advance``, never by sleeping.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
import segno
from playwright.sync_api import Browser, Page, expect

from camauth.clock import FakeClock

from ..conftest import GOOD_PASSWORD
from .conftest import Browsing, LiveServer, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LOGIN_URL = re.compile(r"/login(\?.*)?$")
SECOND_STEP_URL = re.compile(r"/login/two-factor$")
RECOVERY_STEP_URL = re.compile(r"/login/recovery-code$")
SETUP_URL = re.compile(r"/account/two-factor(\?.*)?$")
CODES_URL = re.compile(r"/account/two-factor/recovery-codes(\?.*)?$")
GROUPED_SECRET = re.compile(r"^[A-Z2-7]{4}( [A-Z2-7]{4})*( [A-Z2-7]{1,3})?$")
RECOVERY_CODE = re.compile(r"^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$")
ISSUER = "camauth"  # camauth.mfa.issuer's default


# --- a server with the default policy (required_for=admins) --------------------------


@pytest.fixture
def admins_server(ini_settings: dict[str, Any], clock: FakeClock) -> Iterator[LiveServer]:
    """The shared settings with camauth.mfa.required_for left at its default (admins)."""
    assert "camauth.mfa.required_for" not in ini_settings
    with serve(ini_settings, clock) as server:
        yield server


@pytest.fixture
def admins_browsing(browser: Browser, admins_server: LiveServer) -> Iterator[Browsing]:
    browsing = Browsing(browser, admins_server.url)
    yield browsing
    browsing.close()


# --- steps -------------------------------------------------------------------------------


def log_in(page: Page, username: str, password: str = GOOD_PASSWORD) -> None:
    page.goto("/login")
    fill_login(page, username, password)


def fill_login(page: Page, username: str, password: str = GOOD_PASSWORD) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()


def expect_signed_in(page: Page, username: str) -> None:
    expect(page.get_by_text(f"Signed in as {username}", exact=True)).to_be_visible()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(LOGIN_URL)


def read_setup_page(page: Page, username: str) -> str:
    """Check the set-up page (an inline SVG QR code of the otpauth URI, the secret as
    text in groups of four) and return the secret."""
    expect(page.get_by_role("heading", name="Set up two-factor authentication")).to_be_visible()
    secret_element = page.locator("#two-factor-secret")
    expect(secret_element).to_be_visible()
    shown = secret_element.inner_text().strip()
    assert GROUPED_SECRET.match(shown), shown
    secret = shown.replace(" ", "")
    assert len(secret) >= 26, secret  # at least 128 bits

    # inline markup (no <img>, no external service), and it encodes this very secret
    svg = page.locator(".qr-code svg")
    expect(svg).to_have_count(1)
    expect(svg).to_be_visible()
    assert page.locator(".qr-code img").count() == 0
    path = svg.locator("path.qrline").get_attribute("d")
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)
    assert f"secret={secret}" in uri
    assert path in {qr_path(uri, error) for error in "lmqh"}, "the QR code is not the secret's"
    return secret


def qr_path(uri: str, error: str) -> str:
    """The dark modules of ``uri``'s QR code as segno draws them (one SVG path)."""
    svg = segno.make(uri, error=error).svg_inline()
    match = re.search(r'class="qrline"[^>]* d="([^"]+)"', svg)
    assert match, svg
    return match.group(1)


def enable(page: Page, secret: str, clock: FakeClock) -> list[str]:
    """Enter the current code, click Enable; return the recovery codes shown."""
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).at(clock.now))
    page.get_by_role("button", name="Enable").click()
    expect(page).to_have_url(CODES_URL)
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Two-factor authentication is on.")
    items = page.locator("ul.recovery-codes li")
    expect(items).to_have_count(10)
    codes = [text.strip() for text in items.all_inner_texts()]
    assert all(RECOVERY_CODE.match(code) for code in codes), codes
    assert len(set(codes)) == 10
    return codes


def enrol_from_nav(page: Page, username: str, clock: FakeClock) -> tuple[str, list[str]]:
    """From any page: the Two-factor link, enable, and confirm the codes were saved."""
    page.get_by_role("link", name="Two-factor", exact=True).click()
    expect(page).to_have_url(SETUP_URL)
    secret = read_setup_page(page, username)
    codes = enable(page, secret, clock)
    page.get_by_role("button", name="I have saved these codes").click()
    expect(page).to_have_url(re.compile(r"/account/two-factor$"))
    expect(
        page.get_by_role("heading", name="Two-factor authentication", exact=True)
    ).to_be_visible()
    expect(page.locator("#recovery-codes-left")).to_have_text("10")
    return secret, codes


def expect_second_step(page: Page) -> None:
    expect(page).to_have_url(SECOND_STEP_URL)
    expect(page.get_by_label("Authentication code")).to_be_editable()
    expect(page.get_by_role("button", name="Verify")).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_have_count(0)


# --- tests -------------------------------------------------------------------------------


def test_enrol_an_app_then_log_in_with_a_code(
    page: Page, live_server: LiveServer, browsing: Browsing
) -> None:
    clock = live_server.clock
    live_server.add_user("alice", password=GOOD_PASSWORD)
    log_in(page, "alice")
    expect_signed_in(page, "alice")

    page.goto("/account/two-factor")
    secret = read_setup_page(page, "alice")
    page.reload()  # the secret waits in the session: reloading shows the same one
    assert read_setup_page(page, "alice") == secret
    codes = enable(page, secret, clock)
    page.get_by_role("button", name="I have saved these codes").click()
    expect(page).to_have_url(re.compile(r"/account/two-factor$"))
    expect(page.locator("#recovery-codes-left")).to_have_text("10")
    # the codes were shown once: the page does not show them again
    page.goto("/account/two-factor/recovery-codes")
    expect(page).to_have_url(re.compile(r"/account/two-factor$"))
    expect(page.get_by_text(codes[0])).to_have_count(0)

    log_out(page)
    log_in(page, "alice")
    expect_second_step(page)

    # the enrolling code's step is used up; the next step's code is the one to enter
    clock.advance(seconds=30)
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).at(clock.now))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect_signed_in(page, "alice")
    assert browsing.problems.found == []


def test_second_step_refuses_a_wrong_and_a_used_code(
    page: Page, live_server: LiveServer, browsing: Browsing
) -> None:
    clock = live_server.clock
    live_server.add_user("alice", password=GOOD_PASSWORD)
    log_in(page, "alice")
    secret, _codes = enrol_from_nav(page, "alice", clock)
    used = pyotp.TOTP(secret).at(clock.now)
    log_out(page)

    log_in(page, "alice")
    expect_second_step(page)
    page.get_by_label("Authentication code").fill(used)  # the code that enabled it
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("That code has already been used")
    expect_second_step(page)

    wrong = "000000" if used != "000000" else "111111"
    clock.advance(seconds=30)
    page.get_by_label("Authentication code").fill(wrong)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_have_text("That code is not correct.")
    expect_second_step(page)

    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).at(clock.now))
    page.get_by_role("button", name="Verify").click()
    expect_signed_in(page, "alice")
    # refused codes are 403 documents, which Chromium logs; nothing else went wrong
    assert browsing.problems.found == []


def test_log_in_with_a_recovery_code(
    page: Page, live_server: LiveServer, browsing: Browsing
) -> None:
    clock = live_server.clock
    live_server.add_user("carol", password=GOOD_PASSWORD)
    log_in(page, "carol")
    expect_signed_in(page, "carol")
    _secret, codes = enrol_from_nav(page, "carol", clock)
    log_out(page)

    log_in(page, "carol")
    expect_second_step(page)
    page.get_by_role("link", name="Use a recovery code instead").click()
    expect(page).to_have_url(RECOVERY_STEP_URL)
    # typing is forgiving: lower case, without the dashes
    page.get_by_label("Recovery code").fill(codes[3].replace("-", "").lower())
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/$"))
    expect_signed_in(page, "carol")
    expect(page.get_by_role("status")).to_contain_text(
        "You logged in with a recovery code; 9 of your codes are left."
    )
    page.get_by_role("link", name="Two-factor", exact=True).click()
    expect(page.locator("#recovery-codes-left")).to_have_text("9")
    log_out(page)

    # each code works once
    log_in(page, "carol")
    page.get_by_role("link", name="Use a recovery code instead").click()
    page.get_by_label("Recovery code").fill(codes[3])
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_have_text("That is not one of your unused recovery codes.")
    expect(page).to_have_url(RECOVERY_STEP_URL)
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    page.get_by_label("Recovery code").fill(codes[4])
    page.get_by_role("button", name="Verify").click()
    expect_signed_in(page, "carol")
    expect(page.get_by_role("status")).to_contain_text("8 of your codes are left")
    assert browsing.problems.found == []


def test_administrator_sets_up_two_factor_right_after_login(
    admins_server: LiveServer, admins_browsing: Browsing
) -> None:
    """Under the default policy an administrator without two-factor is sent to set it
    up first, and then on to the page originally asked for."""
    clock = admins_server.clock
    admins_server.add_user("root", password=GOOD_PASSWORD, is_admin=True)
    page = admins_browsing.new_page()

    page.goto("/?from=mail")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F%3Ffrom%3Dmail$"))
    fill_login(page, "root")
    expect(page).to_have_url(re.compile(r"/account/two-factor\?next=%2F%3Ffrom%3Dmail$"))
    expect(page.get_by_text("Your account must use two-factor authentication")).to_be_visible()
    # nothing else is reachable meanwhile
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/account/two-factor\?next=%2F$"))
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    page.goto("/?from=mail")
    expect(page).to_have_url(re.compile(r"/account/two-factor\?next=%2F%3Ffrom%3Dmail$"))

    secret = read_setup_page(page, "root")
    enable(page, secret, clock)
    expect(page).to_have_url(re.compile(r"/recovery-codes\?next=%2F%3Ffrom%3Dmail$"))
    page.get_by_role("button", name="I have saved these codes").click()
    expect(page).to_have_url(re.compile(r"/\?from=mail$"))
    expect_signed_in(page, "root")

    # the next login asks for a code, and needs nothing else
    log_out(page)
    page.goto("/?from=mail")
    fill_login(page, "root")
    expect_second_step(page)
    clock.advance(seconds=30)
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).at(clock.now))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/\?from=mail$"))
    expect_signed_in(page, "root")
    assert admins_browsing.problems.found == []


def test_ordinary_user_is_not_asked_under_the_default_policy(
    admins_server: LiveServer, admins_browsing: Browsing
) -> None:
    admins_server.add_user("dave", password=GOOD_PASSWORD)
    page = admins_browsing.new_page()
    page.goto("/?from=mail")
    fill_login(page, "dave")
    expect(page).to_have_url(re.compile(r"/\?from=mail$"))
    expect_signed_in(page, "dave")
    assert admins_browsing.problems.found == []
