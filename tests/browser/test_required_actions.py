"""Required actions in a real browser: a deep link, login, change password, agree to
the terms, and the original destination (PRODUCT §6, §7, §15)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ..conftest import GOOD_PASSWORD
from .conftest import Browsing, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REVISION = "2026-01"
NEW_PASSWORD = "violet lantern mosaic drifting north"
LOGIN_URL = re.compile(r"/login(\?.*)?$")


@pytest.fixture
def ini_settings(ini_settings: dict[str, Any]) -> dict[str, Any]:
    """The shared settings plus a terms revision: ``live_server`` (tests/browser/conftest.py)
    builds its app from these, so this module's server asks for agreement to the terms."""
    return {**ini_settings, "camauth.terms.revision": REVISION}


def fill_login(page: Page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()


def fill_change_password(page: Page, current: str, new: str) -> None:
    page.get_by_label("Current password").fill(current)
    page.get_by_label("New password", exact=True).fill(new)
    page.get_by_label("Confirm new password").fill(new)
    page.get_by_role("button", name="Change password").click()


def test_deep_link_through_password_change_and_terms(
    page: Page, live_server: LiveServer, browsing: Browsing
) -> None:
    """/?from=mail → login → forced change (one refusal first) → I agree → /?from=mail."""
    live_server.add_user("alice", password=GOOD_PASSWORD, must_change_password=True)
    page.goto("/?from=mail")
    expect(page).to_have_url(re.compile(r"/login\?next=%2F%3Ffrom%3Dmail$"))
    fill_login(page, "alice", GOOD_PASSWORD)

    expect(page).to_have_url(re.compile(r"/account/password\?next=%2F%3Ffrom%3Dmail$"))
    expect(page.get_by_text("You must choose a new password before you continue.")).to_be_visible()
    fill_change_password(page, GOOD_PASSWORD, "password1234")
    expect(page.get_by_role("alert")).to_contain_text(
        "This password is on lists of commonly used and leaked passwords"
    )
    fill_change_password(page, GOOD_PASSWORD, NEW_PASSWORD)

    expect(page).to_have_url(re.compile(r"/account/terms\?next=%2F%3Ffrom%3Dmail$"))
    expect(page.get_by_role("status")).to_have_text("Your password has been changed.")
    expect(page.get_by_role("heading", name="Terms of use")).to_be_visible()
    expect(page.get_by_text(f"Please read the terms of use (revision {REVISION})")).to_be_visible()
    page.get_by_role("button", name="I agree").click()

    expect(page).to_have_url(re.compile(r"/\?from=mail$"))
    expect(page.get_by_text("Signed in as alice", exact=True)).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(
        "Thank you: you have agreed to the terms of use."
    )
    page.reload()
    expect(page.get_by_text("Signed in as alice", exact=True)).to_be_visible()
    expect(page.get_by_role("status")).to_have_count(0)  # a flash is shown once

    # nothing is owed any more: the next login goes straight to its destination
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(LOGIN_URL)
    fill_login(page, "alice", NEW_PASSWORD)
    expect(page.get_by_text("Signed in as alice", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/$"))
    assert browsing.problems.found == []


def test_owing_user_can_reach_only_the_action_and_log_out(
    page: Page, live_server: LiveServer, browsing: Browsing
) -> None:
    """While the password change is owed, the terms page and home send the browser back
    to it; the Log out button on that page works."""
    live_server.add_user("bob", password=GOOD_PASSWORD, must_change_password=True)
    page.goto("/login")
    fill_login(page, "bob", GOOD_PASSWORD)
    expect(page).to_have_url(re.compile(r"/account/password\?next=%2F$"))

    page.goto("/account/terms")
    expect(page).to_have_url(re.compile(r"/account/password\?next=%2Faccount%2Fterms$"))
    page.goto("/?tab=reports")
    expect(page).to_have_url(re.compile(r"/account/password\?next=%2F%3Ftab%3Dreports$"))
    expect(page.get_by_text("Signed in as")).to_have_count(0)

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(LOGIN_URL)
    page.goto("/account/password")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Faccount%2Fpassword$"))
    assert browsing.problems.found == []
