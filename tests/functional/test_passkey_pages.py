"""Passkeys through the pages and the JSON endpoints static/passkeys.js calls
(PRODUCT §19): registering on /account/passkeys, renaming and removing, the login's
second step, logging in without a password, lockout, policy and the challenge.

The browser's part is played by tests/webauthn_authenticator.py; the requests are
the ones the script sends: JSON bodies, the page's CSRF token in X-CSRF-Token."""

from __future__ import annotations

import json
from typing import Any

import webtest
from sqlalchemy import select

from camauth.models.passkey import Passkey

from ..conftest import GOOD_PASSWORD
from ..webauthn_authenticator import SoftAuthenticator
from .conftest import (
    all_rows,
    audit_events,
    browser,
    create_user,
    failure_count,
    flashes,
    location,
    logged_in,
    session_rows,
    submit_login,
)
from .two_factor_helpers import enrol

PAGE = "/account/passkeys"
OPTIONS = "/account/passkeys/options"
LOGIN_OPTIONS = "/login/passkey/options"
LOGIN = "/login/passkey"
SECOND_STEP_PAGE = "/login/two-factor"
SECOND_OPTIONS = "/login/two-factor/passkey/options"
SECOND_STEP = "/login/two-factor/passkey"
# no camauth.public_url in the test settings: the development relying party
RP_ID = "localhost"
ORIGIN = "http://localhost:6543"
EXPIRED = "The passkey request has expired or was already used. Try again."
NO_PENDING_LOGIN = "Your login was not finished in time. Log in again."
NOT_THEIRS = "This passkey is not registered for this account."
STALE = 6  # minutes: past reauth_minutes (5)


# --- helpers (test_passkey_hostile.py uses them too) --------------------------------


def device() -> SoftAuthenticator:
    return SoftAuthenticator(rp_id=RP_ID, origin=ORIGIN)


def csrf_of(page: webtest.TestResponse) -> str:
    field = page.html.select_one('input[name="csrf_token"]')
    assert field is not None, "no CSRF token on the page"
    return str(field["value"])


def post_json(
    client: webtest.TestApp, url: str, body: Any, csrf: str | None, status: Any = 200
) -> webtest.TestResponse:
    """POST as the script does; ``body`` bytes go as they are, anything else as JSON."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"X-CSRF-Token": csrf} if csrf is not None else {}
    return client.post(url, raw, headers=headers, content_type="application/json", status=status)


def refusal(response: webtest.TestResponse) -> str:
    """The message of a JSON refusal, after checking its shape."""
    assert 400 <= response.status_int < 500, response.status
    assert response.content_type == "application/json"
    body = response.json
    assert set(body) == {"error", "message"} and body["error"] and body["message"]
    return str(body["message"])


def registration_answer(
    client: webtest.TestApp, authenticator: SoftAuthenticator, **kw: Any
) -> tuple[str, dict[str, Any]]:
    """(CSRF token, the browser's answer) of a registration ceremony on the page."""
    csrf = csrf_of(client.get(PAGE, status=200))
    options = post_json(client, OPTIONS, {}, csrf)
    return csrf, authenticator.register(options.text, **kw)


def register(
    client: webtest.TestApp, authenticator: SoftAuthenticator, name: str = "Laptop"
) -> webtest.TestResponse:
    csrf, answer = registration_answer(client, authenticator)
    return post_json(client, PAGE, {"name": name, "credential": answer}, csrf)


def user_with_passkey(app: Any, username: str) -> tuple[int, SoftAuthenticator, webtest.TestApp]:
    """A new user with a passkey registered on the page: their id, the passkey's
    device, and the browser that registered it (still logged in)."""
    user_id = create_user(app, username)
    authenticator = device()
    client = logged_in(app, username)
    register(client, authenticator)
    return user_id, authenticator, client


def to_second_step(app: Any, username: str, **kw: Any) -> webtest.TestApp:
    client = browser(app)
    assert location(submit_login(client, username, GOOD_PASSWORD, **kw)) == SECOND_STEP_PAGE
    return client


def second_step(
    client: webtest.TestApp, authenticator: SoftAuthenticator, status: Any = 200, **kw: Any
) -> webtest.TestResponse:
    csrf = csrf_of(client.get(SECOND_STEP_PAGE, status=200))
    options = post_json(client, SECOND_OPTIONS, {}, csrf)
    answer = authenticator.assert_(options.text, **kw)
    return post_json(client, SECOND_STEP, {"credential": answer}, csrf, status=status)


def passwordless_answer(
    client: webtest.TestApp, authenticator: SoftAuthenticator, **kw: Any
) -> tuple[str, dict[str, Any]]:
    csrf = csrf_of(client.get("/login", status=200))
    options = post_json(client, LOGIN_OPTIONS, {}, csrf)
    return csrf, authenticator.assert_(options.text, **kw)


def passwordless(
    client: webtest.TestApp, authenticator: SoftAuthenticator, status: Any = 200, **kw: Any
) -> webtest.TestResponse:
    csrf, answer = passwordless_answer(client, authenticator, **kw)
    return post_json(client, LOGIN, {"credential": answer}, csrf, status=status)


def signed_in_as(client: webtest.TestApp) -> str | None:
    home = client.get("/", status="*")
    if home.status_int != 200 or "Signed in as" not in home.text:
        return None
    return home.html.get_text(" ").split("Signed in as", 1)[1].split()[0]


def stored_passkeys(app: Any, user_id: int | None = None) -> list[Passkey]:
    query = select(Passkey).order_by(Passkey.id)
    if user_id is not None:
        query = query.where(Passkey.user_id == user_id)
    return all_rows(app, query)


def listed(page: webtest.TestResponse) -> list[list[str]]:
    rows = page.html.select("#passkey-list tbody tr")
    return [[td.get_text(" ", strip=True) for td in row.select("td")[:3]] for row in rows]


# --- the account page ------------------------------------------------------------------


def test_the_page_asks_for_a_recent_login(app: Any, clock: Any) -> None:
    create_user(app, "alice")
    client = logged_in(app, "alice")
    page = client.get(PAGE, status=200)
    assert page.html.select_one('form[data-passkey="register"]').has_attr("hidden")
    assert "You have no passkey yet." in page.text
    csrf = csrf_of(page)
    clock.advance(minutes=STALE)

    asked = client.get(PAGE, status=303)
    assert location(asked) == "/account/reauthenticate?next=%2Faccount%2Fpasskeys"
    assert "Confirm it is you" in refusal(post_json(client, OPTIONS, {}, csrf, status=403))
    refusal(post_json(client, PAGE, {"name": "x", "credential": {}}, csrf, status=403))
    assert stored_passkeys(app) == []


def test_register_lists_the_passkey_and_ends_other_sessions(app_factory: Any, clock: Any) -> None:
    app = app_factory(**{"session.one_per_user": "false"})  # so there are others to end
    alice = create_user(app, "alice")
    elsewhere = logged_in(app, "alice")
    client = logged_in(app, "alice")
    assert len(session_rows(app, alice)) == 2

    authenticator = device()
    assert register(client, authenticator, "Work laptop").json == {"redirect": PAGE}
    page = client.get(PAGE, status=200)
    assert flashes(page) == ["Passkey “Work laptop” added."]
    [[name, added, used]] = listed(page)
    assert (name, used) == ("Work laptop", "never")
    assert clock.now.strftime("%Y-%m-%d") in added
    [event] = audit_events(app, "passkey_added")
    assert (event.target_id, event.details) == (alice, {"name": "Work laptop"})
    # the first second factor: the other session is over, this one stays
    assert len(session_rows(app, alice)) == 1
    assert signed_in_as(elsewhere) is None
    assert signed_in_as(client) == "alice"
    # a second passkey ends nothing
    other = to_second_step(app, "alice")
    second_step(other, authenticator)
    register(client, device(), "Phone")
    assert [p.name for p in stored_passkeys(app, alice)] == ["Work laptop", "Phone"]
    assert signed_in_as(other) == "alice"
    assert len(session_rows(app, alice)) == 2


def test_rename_and_remove(app: Any) -> None:
    alice, _, client = user_with_passkey(app, "alice")
    [passkey] = stored_passkeys(app, alice)
    page = client.get(PAGE, status=200)

    form = next(f for f in page.forms.values() if f.action == f"{PAGE}/{passkey.id}/rename")
    form["name"] = "  Blue   key "
    after = form.submit(status=303).follow()
    assert flashes(after) == ["Passkey renamed to “Blue key”."]
    assert [row[0] for row in listed(after)] == ["Blue key"]

    # without the CSRF token: refused, nothing changed
    client.post(f"{PAGE}/{passkey.id}/remove", {}, status=400)
    client.post(f"{PAGE}/{passkey.id}/rename", {"name": "Hacked"}, status=400)
    assert [p.name for p in stored_passkeys(app, alice)] == ["Blue key"]

    remove = next(f for f in after.forms.values() if f.action.endswith("/remove"))
    gone = remove.submit(status=303).follow()
    assert flashes(gone) == ["Passkey removed."]
    assert "You have no passkey yet." in gone.text
    assert stored_passkeys(app, alice) == []
    [event] = audit_events(app, "passkey_removed")
    assert (event.target_id, event.details) == (alice, {"name": "Blue key"})


def test_someone_elses_passkey_cannot_be_renamed_or_removed(app: Any) -> None:
    bob, _, _ = user_with_passkey(app, "bob")
    [bobs] = stored_passkeys(app, bob)
    create_user(app, "alice")
    client = logged_in(app, "alice")
    csrf = csrf_of(client.get(PAGE))

    for path, fields in (
        (f"{PAGE}/{bobs.id}/remove", {}),
        (f"{PAGE}/{bobs.id}/rename", {"name": "mine now"}),
        (f"{PAGE}/{bobs.id + 1000}/remove", {}),
    ):
        response = client.post(path, {"csrf_token": csrf, **fields}, status="*")
        assert 400 <= response.status_int < 500, path
        assert "Laptop" not in response.text  # bob's passkey is not shown
    [after] = stored_passkeys(app, bob)
    assert (after.id, after.name) == (bobs.id, "Laptop")
    assert audit_events(app, "passkey_removed") == []


# --- the second step -------------------------------------------------------------------


def test_the_second_step_offers_the_passkey(app: Any, clock: Any) -> None:
    user_with_passkey(app, "alice")
    both, _, _ = user_with_passkey(app, "bob")
    enrol(app, both, clock)

    for username, codes in (("alice", False), ("bob", True)):
        page = to_second_step(app, username).get(SECOND_STEP_PAGE, status=200)
        offer = page.html.select_one('[data-passkey="login"]')
        assert offer is not None and offer.has_attr("hidden")
        assert (offer["data-options-url"], offer["data-url"]) == (SECOND_OPTIONS, SECOND_STEP)
        assert offer.select_one("button").get_text(strip=True) == "Use a passkey"
        assert ("two-factor" in page.forms) is codes
        assert (page.html.select_one('input[name="code"]') is not None) is codes


def test_password_then_passkey_logs_in(app: Any) -> None:
    alice, authenticator, _ = user_with_passkey(app, "alice")
    client = to_second_step(app, "alice", next_path="/account/profile")
    assert signed_in_as(client) is None

    assert second_step(client, authenticator).json == {"redirect": "/account/profile"}
    assert signed_in_as(client) == "alice"
    [event] = audit_events(app, "passkey_login")
    assert (event.target_id, event.details) == (alice, {"name": "Laptop"})
    success = audit_events(app, "login_success")[-1]
    assert success.target_id == alice and success.details["two_factor"] == "passkey"
    [passkey] = stored_passkeys(app, alice)
    assert passkey.sign_count == 1 and passkey.last_used_at is not None
    assert listed(client.get(PAGE))[0][2] != "never"


# --- without a password ----------------------------------------------------------------


def test_passwordless_login(app: Any) -> None:
    alice, authenticator, _ = user_with_passkey(app, "alice")
    client = browser(app)
    page = client.get("/login", status=200)
    block = page.html.select_one('[data-passkey="login"]')
    assert block is not None and block.has_attr("hidden")
    assert (block["data-options-url"], block["data-url"]) == (LOGIN_OPTIONS, LOGIN)
    assert block.select_one("button").get_text(strip=True) == "Log in with a passkey"

    assert passwordless(client, authenticator).json == {"redirect": "/"}
    assert signed_in_as(client) == "alice"
    assert [e.target_id for e in audit_events(app, "passkey_login")] == [alice]
    success = audit_events(app, "login_success")[-1]
    assert success.details == {"device": "untrusted", "two_factor": "passkey", "password": "none"}


def test_passwordless_can_be_switched_off(app_factory: Any) -> None:
    app = app_factory(**{"passkeys.passwordless": "false"})
    _, authenticator, _ = user_with_passkey(app, "alice")
    client = browser(app)
    page = client.get("/login", status=200)
    assert page.html.select_one('[data-passkey="login"]') is None
    assert "Log in with a passkey" not in page.text
    csrf = csrf_of(page)
    post_json(client, LOGIN_OPTIONS, {}, csrf, status=404)
    answer = authenticator.assert_(json.dumps({"challenge": "AAAA", "rpId": RP_ID}))
    post_json(client, LOGIN, {"credential": answer}, csrf, status=404)
    assert signed_in_as(client) is None
    # the second step still works
    assert second_step(to_second_step(app, "alice"), authenticator).json == {"redirect": "/"}


# --- lockout -------------------------------------------------------------------------


def test_wrong_passkeys_at_the_second_step_lock_the_account(app_factory: Any) -> None:
    app = app_factory(**{"lockout.threshold": "3"})
    _, alices, _ = user_with_passkey(app, "alice")
    _, bobs, _ = user_with_passkey(app, "bob")
    client = to_second_step(app, "alice")

    for _ in range(2):
        wrong = second_step(client, bobs, status=403, credential_id=bobs.credentials[0].id)
        assert refusal(wrong) == NOT_THEIRS
    locked = second_step(client, bobs, status=429, credential_id=bobs.credentials[0].id)
    assert "locked until" in refusal(locked)
    assert failure_count(app, "alice") == 3
    assert len(audit_events(app, "lockout")) == 1
    # the half-done login is over; the right passkey and password are refused now
    csrf = csrf_of(client.get("/login"))
    assert refusal(post_json(client, SECOND_OPTIONS, {}, csrf, status=400)) == NO_PENDING_LOGIN
    assert submit_login(browser(app), "alice", GOOD_PASSWORD, status=429)
    assert "locked until" in refusal(passwordless(browser(app), alices, status=429))
    assert signed_in_as(client) is None


# --- policy and the challenge ----------------------------------------------------------


def test_a_passkey_is_a_second_factor_for_the_policy(app_factory: Any) -> None:
    app = app_factory(**{"mfa.required_for": "all"})
    create_user(app, "bob")
    bob = browser(app)
    submit_login(bob, "bob", GOOD_PASSWORD)
    assert location(bob.get("/", status=303)).startswith("/account/two-factor")

    create_user(app, "alice")
    client = browser(app)
    submit_login(client, "alice", GOOD_PASSWORD)
    # who owes a second factor may add a passkey, and owes nothing after
    authenticator = device()
    register(client, authenticator)
    assert signed_in_as(client) == "alice"
    later = to_second_step(app, "alice")
    assert second_step(later, authenticator).json == {"redirect": "/"}
    assert signed_in_as(later) == "alice"


def test_a_registration_answer_works_once(app: Any) -> None:
    alice = create_user(app, "alice")
    client = logged_in(app, "alice")
    csrf, answer = registration_answer(client, device())
    body = {"name": "Laptop", "credential": answer}
    post_json(client, PAGE, body, csrf, status=200)
    assert refusal(post_json(client, PAGE, body, csrf, status=400)) == EXPIRED
    assert len(stored_passkeys(app, alice)) == 1
    assert len(audit_events(app, "passkey_added")) == 1


def test_a_login_answer_works_once(app: Any) -> None:
    _, authenticator, _ = user_with_passkey(app, "alice")
    client = browser(app)
    csrf, answer = passwordless_answer(client, authenticator)
    post_json(client, LOGIN, {"credential": answer}, csrf, status=200)
    csrf = csrf_of(client.get("/"))  # a new token came with the login
    assert refusal(post_json(client, LOGIN, {"credential": answer}, csrf, status=400)) == EXPIRED
    assert len(audit_events(app, "passkey_login")) == 1


def test_the_challenge_expires_after_five_minutes(app: Any, clock: Any) -> None:
    _, authenticator, _ = user_with_passkey(app, "alice")
    client = browser(app)
    csrf, answer = passwordless_answer(client, authenticator)
    clock.advance(minutes=5)
    assert refusal(post_json(client, LOGIN, {"credential": answer}, csrf, status=400)) == EXPIRED
    assert signed_in_as(client) is None
    assert audit_events(app, "passkey_login") == []

    csrf, answer = passwordless_answer(client, authenticator)
    clock.advance(minutes=4, seconds=59)
    post_json(client, LOGIN, {"credential": answer}, csrf, status=200)
    assert signed_in_as(client) == "alice"
