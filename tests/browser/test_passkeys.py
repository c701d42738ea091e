"""Passkeys in a real browser (PRODUCT §19): registering one on /account/passkeys
(after confirming the password), removing one (after confirming with a passkey),
logging in with it alone or as the login's second step, and the refusals (a
removed passkey, a counter that went back, someone else's passkey, a cancelled
ceremony); without JavaScript the passkey controls stay hidden and passwords work.

The authenticator is Chromium's virtual one (the DevTools WebAuthn domain, through
a CDP session of the page): it answers at once, as a platform authenticator that
verified its user. WebAuthn wants a secure context and a domain as the relying
party, so the server runs on ``http://localhost:PORT`` with ``camauth.public_url``
naming exactly that address: the port is chosen before the app is made.

A refused ceremony is a JSON answer of 400 or more to the page's ``fetch``, which
the ``Problems`` watcher records: the tests that are about a refusal assert the
refusal is all it found.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from playwright.sync_api import CDPSession, Locator, Page, Route, expect

from camauth.clock import FakeClock

from ..conftest import GOOD_PASSWORD
from .conftest import LOCKOUT_THRESHOLD, Browsing, LiveServer, free_port, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOME_URL = re.compile(r"/$")
LOGIN_URL = re.compile(r"/login(\?.*)?$")
SECOND_STEP_URL = re.compile(r"/login/two-factor$")
PASSKEYS_URL = re.compile(r"/account/passkeys$")
REAUTH_URL = re.compile(r"/account/reauthenticate\?next=%2Faccount%2Fpasskeys$")
REAUTH_MINUTES = 5  # camauth.reauth_minutes' default
CANCELLED = "The passkey request was cancelled or timed out. Try again when you are ready."
UNKNOWN = "This passkey is not registered here. Log in with your password."
NOT_THEIRS = "This passkey is not registered for this account."
COPIED = "This passkey's counter went back, which a copied passkey does: it was refused."


@pytest.fixture
def live_server(ini_settings: dict[str, Any], clock: FakeClock) -> Iterator[LiveServer]:
    """The browser tests' server (this module's ``browsing`` and ``page`` use it) on
    localhost, with the public URL (hence the relying party) naming its port."""
    port = free_port()
    origin = f"http://localhost:{port}"
    settings = {
        **ini_settings,
        "camauth.public_url": origin,
        "camauth.lockout.threshold": str(LOCKOUT_THRESHOLD),
        "camauth.mfa.required_for": "none",
    }
    with serve(settings, clock, port=port) as server:
        yield replace(server, url=origin)


# --- the virtual authenticator -------------------------------------------------------


@dataclass
class Authenticator:
    """A virtual platform authenticator attached to one page."""

    cdp: CDPSession
    id: str

    @classmethod
    def attach(cls, page: Page) -> Authenticator:
        cdp = page.context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        options = {
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": True,
            "hasUserVerification": True,
            "isUserVerified": True,
            "automaticPresenceSimulation": True,
        }
        added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
        return cls(cdp, added["authenticatorId"])

    def credentials(self) -> list[dict[str, Any]]:
        reply = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})
        credentials: list[dict[str, Any]] = reply["credentials"]
        return credentials

    def only_credential(self) -> dict[str, Any]:
        [credential] = self.credentials()
        return credential

    def add(self, credential: dict[str, Any]) -> None:
        self.cdp.send(
            "WebAuthn.addCredential", {"authenticatorId": self.id, "credential": credential}
        )

    def remove(self, credential: dict[str, Any]) -> None:
        self.cdp.send(
            "WebAuthn.removeCredential",
            {"authenticatorId": self.id, "credentialId": credential["credentialId"]},
        )

    def user_verifies(self, verified: bool) -> None:
        """False: the person fails (or declines) the fingerprint or PIN."""
        self.cdp.send(
            "WebAuthn.setUserVerified", {"authenticatorId": self.id, "isUserVerified": verified}
        )


def copy_of(credential: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """What ``WebAuthn.addCredential`` takes to hold the same passkey elsewhere."""
    keys = ("credentialId", "isResidentCredential", "rpId", "privateKey", "userHandle", "signCount")
    return {key: credential[key] for key in keys} | changes


# --- steps -------------------------------------------------------------------------------


def log_in(page: Page, username: str, password: str = GOOD_PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()


def expect_signed_in(page: Page, username: str) -> None:
    expect(page).to_have_url(HOME_URL)
    expect(page.get_by_text(f"Signed in as {username}", exact=True)).to_be_visible()


def expect_not_signed_in(page: Page) -> None:
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(LOGIN_URL)


def passkey_rows(page: Page) -> Locator:
    return page.locator("table#passkey-list tbody tr")


def add_passkey(page: Page, name: str) -> None:
    """On /account/passkeys (recently authenticated): register a passkey called ``name``."""
    expect(page).to_have_url(PASSKEYS_URL)
    form = page.locator("form#passkey-register")
    expect(form).to_be_visible()  # the script showed it
    form.get_by_label("Name").fill(name)
    form.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_role("status")).to_have_text(f"Passkey “{name}” added.")
    expect(page).to_have_url(PASSKEYS_URL)
    expect(passkey_rows(page).filter(has_text=name)).to_have_count(1)


def new_user_with_passkey(
    browsing: Browsing, live_server: LiveServer, username: str, name: str
) -> tuple[Page, Authenticator]:
    """``username`` (made here) logged in on a page of their own, with a passkey
    called ``name`` in the page's authenticator."""
    live_server.add_user(username, password=GOOD_PASSWORD)
    page = browsing.new_page()
    authenticator = Authenticator.attach(page)
    log_in(page, username)
    expect_signed_in(page, username)
    page.goto("/account/passkeys")
    add_passkey(page, name)
    return page, authenticator


def log_in_with_passkey(page: Page) -> None:
    page.goto("/login")
    button = page.get_by_role("button", name="Log in with a passkey")
    expect(button).to_be_visible()
    button.click()


def passkey_message(page: Page) -> Locator:
    return page.locator("[data-passkey-message]")


def refused_fetch(live_server: LiveServer, path: str, status: int = 403) -> str:
    """What the ``Problems`` watcher records for a refused ceremony's answer."""
    return f"{status} for {live_server.url}{path}"


# --- tests -------------------------------------------------------------------------------


def test_register_a_passkey(page: Page, live_server: LiveServer, browsing: Browsing) -> None:
    live_server.add_user("alice", password=GOOD_PASSWORD)
    authenticator = Authenticator.attach(page)
    log_in(page, "alice")
    expect_signed_in(page, "alice")

    # a login some minutes old must confirm the password first
    live_server.clock.advance(minutes=REAUTH_MINUTES + 1)
    page.goto("/account/passkeys")
    expect(page).to_have_url(REAUTH_URL)
    page.get_by_label("Password", exact=True).fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(PASSKEYS_URL)
    expect(page.get_by_role("heading", name="Passkeys")).to_be_visible()
    expect(page.locator("#no-passkeys")).to_have_text("You have no passkey yet.")
    expect(page.locator("[data-passkey-unavailable]")).to_be_hidden()
    assert authenticator.credentials() == []

    # a name is needed before the browser is asked (blanks are no name)
    register = page.locator("form#passkey-register")
    register.get_by_label("Name").fill("   ")
    page.get_by_role("button", name="Add a passkey").click()
    expect(passkey_message(page)).to_have_text(
        "Give the passkey a name, such as the device it is on."
    )
    assert authenticator.credentials() == []

    add_passkey(page, "work laptop")
    expect(passkey_rows(page)).to_have_count(1)
    row = passkey_rows(page).first
    expect(row.locator("td[data-label='Name']")).to_have_text("work laptop")
    expect(row.locator("td[data-label='Last used']")).to_have_text("never")
    expect(page.locator("#no-passkeys")).to_have_count(0)
    expect(passkey_message(page)).to_have_text("")

    credential = authenticator.only_credential()
    assert credential["isResidentCredential"] is True
    assert credential["rpId"] == "localhost"
    assert credential["userHandle"]  # the random handle camauth made for alice

    # the options name the passkeys alice has: this authenticator does not make another
    register.get_by_label("Name").fill("work laptop again")
    page.get_by_role("button", name="Add a passkey").click()
    expect(passkey_message(page)).to_have_text("This passkey is registered already.")
    expect(page.get_by_role("button", name="Add a passkey")).to_be_enabled()
    expect(passkey_rows(page)).to_have_count(1)
    assert authenticator.only_credential()["credentialId"] == credential["credentialId"]
    assert browsing.problems.found == []


def test_log_in_with_a_passkey_alone(live_server: LiveServer, browsing: Browsing) -> None:
    _alice, authenticator = new_user_with_passkey(browsing, live_server, "alice", "phone")
    credential = authenticator.only_credential()

    # another browser holding the same passkey (as a synced passkey would be)
    page = browsing.new_page()
    other = Authenticator.attach(page)
    other.add(copy_of(credential))
    log_in_with_passkey(page)
    expect_signed_in(page, "alice")
    assert other.only_credential()["signCount"] > credential["signCount"]

    page.goto("/account/passkeys")
    expect(page).to_have_url(PASSKEYS_URL)  # a passkey login is a recent authentication
    expect(passkey_rows(page).first.locator("td[data-label='Last used']")).not_to_have_text("never")
    assert browsing.problems.found == []


def test_passkey_as_the_second_step(live_server: LiveServer, browsing: Browsing) -> None:
    page, _authenticator = new_user_with_passkey(browsing, live_server, "alice", "phone")
    log_out(page)

    log_in(page, "alice")
    expect(page).to_have_url(SECOND_STEP_URL)
    expect(page.get_by_text("Confirm with your passkey.")).to_be_visible()
    expect(page.locator("[data-passkey-unavailable]")).to_be_hidden()
    expect_not_signed_in(page)
    page.get_by_role("button", name="Use a passkey").click()
    expect_signed_in(page, "alice")
    assert browsing.problems.found == []


def test_a_removed_passkey_is_refused(live_server: LiveServer, browsing: Browsing) -> None:
    page, authenticator = new_user_with_passkey(browsing, live_server, "alice", "phone")
    # a second passkey, "on another device": this authenticator holds one at a time
    phone = authenticator.only_credential()
    authenticator.remove(phone)
    add_passkey(page, "blue key")
    expect(passkey_rows(page)).to_have_count(2)
    blue_key = authenticator.only_credential()
    authenticator.remove(blue_key)
    authenticator.add(copy_of(phone))

    # some minutes later: alice confirms it is her with a passkey (her second
    # factor; a password alone is not enough) before the removal
    live_server.clock.advance(minutes=REAUTH_MINUTES + 1)
    remove_phone = passkey_rows(page).filter(has_text="phone").get_by_role("button", name="Remove")
    remove_phone.click()
    expect(page).to_have_url(REAUTH_URL)
    expect(page.get_by_label("Password", exact=True)).to_have_count(0)
    page.get_by_role("button", name="Confirm with a passkey").click()
    expect(page).to_have_url(PASSKEYS_URL)
    expect(passkey_rows(page)).to_have_count(2)  # nothing removed yet
    remove_phone.click()
    expect(page.get_by_role("status")).to_have_text("Passkey removed.")
    expect(page).to_have_url(PASSKEYS_URL)
    expect(passkey_rows(page)).to_have_count(1)
    expect(passkey_rows(page).filter(has_text="phone")).to_have_count(0)
    log_out(page)

    # the authenticator still offers the removed passkey
    log_in_with_passkey(page)
    expect(passkey_message(page)).to_have_text(UNKNOWN)
    expect(page.get_by_role("alert")).to_have_text(UNKNOWN)
    expect(page).to_have_url(LOGIN_URL)
    expect_not_signed_in(page)
    button = page.get_by_role("button", name="Log in with a passkey")
    expect(button).to_be_enabled()
    assert browsing.problems.found == [refused_fetch(live_server, "/login/passkey")]

    # the passkey kept still logs in
    authenticator.remove(phone)
    authenticator.add(copy_of(blue_key))
    button.click()
    expect_signed_in(page, "alice")
    assert browsing.problems.found == [refused_fetch(live_server, "/login/passkey")]


def test_a_counter_that_went_back_is_refused(live_server: LiveServer, browsing: Browsing) -> None:
    page, authenticator = new_user_with_passkey(browsing, live_server, "alice", "phone")
    log_out(page)
    log_in_with_passkey(page)
    expect_signed_in(page, "alice")
    log_out(page)

    # a copy of the passkey made before that login: its counter is behind the server's
    used = authenticator.only_credential()
    assert used["signCount"] >= 1
    authenticator.remove(used)
    authenticator.add(copy_of(used, signCount=used["signCount"] - 1))

    log_in_with_passkey(page)
    expect(passkey_message(page)).to_contain_text(COPIED)
    expect(page).to_have_url(LOGIN_URL)
    expect_not_signed_in(page)
    assert browsing.problems.found == [refused_fetch(live_server, "/login/passkey")]


def test_another_users_passkey_is_refused_at_the_second_step(
    live_server: LiveServer, browsing: Browsing
) -> None:
    alice, _alices = new_user_with_passkey(browsing, live_server, "alice", "alice's phone")
    log_out(alice)
    page, bobs = new_user_with_passkey(browsing, live_server, "bob", "bob's phone")
    log_out(page)

    # the options name alice's passkeys only, so the browser would not even offer
    # bob's: allow any, as a tampered page would, for bob's passkey to reach the server
    def allow_any_passkey(route: Route) -> None:
        response = route.fetch()
        options = response.json()
        assert len(options["allowCredentials"]) == 1
        assert options["allowCredentials"][0]["id"] != bobs.only_credential()["credentialId"]
        route.fulfill(response=response, body=json.dumps({**options, "allowCredentials": []}))

    page.route("**/login/two-factor/passkey/options", allow_any_passkey)
    log_in(page, "alice")
    expect(page).to_have_url(SECOND_STEP_URL)
    page.get_by_role("button", name="Use a passkey").click()
    expect(passkey_message(page)).to_have_text(NOT_THEIRS)
    expect(page).to_have_url(SECOND_STEP_URL)
    expect_not_signed_in(page)
    page.goto("/")
    expect(page).to_have_url(LOGIN_URL)
    assert browsing.problems.found == [refused_fetch(live_server, "/login/two-factor/passkey")]


def test_a_cancelled_ceremony_can_be_tried_again(
    live_server: LiveServer, browsing: Browsing
) -> None:
    page, authenticator = new_user_with_passkey(browsing, live_server, "alice", "phone")
    log_out(page)

    authenticator.user_verifies(False)  # the person cancels the fingerprint prompt
    log_in_with_passkey(page)
    expect(passkey_message(page)).to_have_text(CANCELLED)
    expect(page.get_by_role("alert")).to_have_text(CANCELLED)
    button = page.get_by_role("button", name="Log in with a passkey")
    expect(button).to_be_enabled()
    expect(page).to_have_url(LOGIN_URL)
    expect_not_signed_in(page)

    authenticator.user_verifies(True)
    button.click()
    expect_signed_in(page, "alice")
    assert browsing.problems.found == []


def test_without_javascript(live_server: LiveServer, browsing: Browsing) -> None:
    """The passkey controls stay hidden and say why; passwords still log in."""
    live_server.add_user("carol", password=GOOD_PASSWORD)
    page = browsing.new_page(java_script_enabled=False)

    page.goto("/login")
    expect(page.locator("[data-passkey]")).to_be_hidden()
    expect(page.get_by_role("button", name="Log in with a passkey")).to_have_count(0)
    log_in(page, "carol")
    expect_signed_in(page, "carol")

    page.goto("/account/passkeys")
    expect(page).to_have_url(PASSKEYS_URL)
    expect(page.locator("form#passkey-register")).to_be_hidden()
    expect(page.get_by_role("button", name="Add a passkey")).to_have_count(0)
    expect(page.locator("[data-passkey-unavailable]")).to_be_visible()
    expect(page.locator("[data-passkey-unavailable]")).to_have_text(
        "Adding a passkey needs a browser with JavaScript that supports passkeys."
    )

    # with a passkey (added in a browser with JavaScript) the second step says what it needs
    carols = browsing.new_page()
    Authenticator.attach(carols)
    log_in(carols, "carol")
    expect_signed_in(carols, "carol")
    carols.goto("/account/passkeys")
    add_passkey(carols, "phone")
    page.goto("/")  # the first second factor ended the sessions opened without it
    expect(page).to_have_url(LOGIN_URL)
    log_in(page, "carol")
    expect(page).to_have_url(SECOND_STEP_URL)
    expect(page.locator("[data-passkey]")).to_be_hidden()
    expect(page.get_by_role("button", name="Use a passkey")).to_have_count(0)
    expect(page.locator("[data-passkey-unavailable]")).to_be_visible()
    expect(page.locator("[data-passkey-unavailable]")).to_have_text(
        "Your account's second factor is a passkey: "
        "use a browser with JavaScript that supports passkeys."
    )
    expect_not_signed_in(page)
    assert browsing.problems.found == []
    # axe-core is a script: in a page where scripts are off it never finishes, so the
    # after-test check cannot look at this page (test_a_browser_without_passkeys
    # checks these states with scripts on)
    page.close()


def test_a_browser_without_passkeys(live_server: LiveServer, browsing: Browsing) -> None:
    """Where the browser has no WebAuthn the script leaves everything as it was
    without JavaScript."""
    live_server.add_user("carol", password=GOOD_PASSWORD)
    page = browsing.new_page()
    page.add_init_script("delete window.PublicKeyCredential;")

    page.goto("/login")
    expect(page.locator("[data-passkey]")).to_be_hidden()
    log_in(page, "carol")
    expect_signed_in(page, "carol")
    page.goto("/account/passkeys")
    expect(page).to_have_url(PASSKEYS_URL)
    expect(page.locator("form#passkey-register")).to_be_hidden()
    expect(page.locator("[data-passkey-unavailable]")).to_be_visible()
    assert browsing.problems.found == []
