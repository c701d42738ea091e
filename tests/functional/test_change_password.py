"""Changing one's own password through the real form (PRODUCT §3, §5, §15)."""

from __future__ import annotations

from typing import Any

import pytest
import webtest
from sqlalchemy import select

from camauth.models import UNTRUSTED_SCOPE, LoginFailure, SessionKind
from camauth.services import accounts, sessions
from camauth.web.device import DEVICE_COOKIE
from camauth.web.session import SESSION_COOKIE

from ..conftest import GOOD_PASSWORD, app_context, read_mails
from .conftest import (
    all_rows,
    assert_no_traceback,
    audit_events,
    browser,
    create_user,
    error_text,
    failure_count,
    field_errors,
    flashes,
    get_user,
    location,
    logged_in,
    session_rows,
    submit_login,
)

NEW_PASSWORD = "granite otter plays the kazoo at dawn"
EMAIL = "wanderer@example.org"
CHANGED_FLASH = "Your password has been changed."
WRONG_CURRENT = "Your current password is not correct."
LOCKED_LOGIN = (
    "Too many failed attempts: logging in to this account is locked until 2026-01-05 09:10 UTC."
)
LOCKED_CHANGE = "Too many failed attempts: try again after 2026-01-05 09:10 UTC."


def submit_change(
    client: webtest.TestApp,
    current: str,
    new: str,
    confirm: str | None = None,
    *,
    next_path: str | None = None,
    status: int | str = "*",
) -> webtest.TestResponse:
    params = {"next": next_path} if next_path is not None else {}
    form = client.get("/account/password", params=params).forms["change-password"]
    form["current_password"] = current
    form["new_password"] = new
    form["confirm_password"] = new if confirm is None else confirm
    return form.submit("submit", status=status)


# --- the page ------------------------------------------------------------------------


def test_page_has_the_documented_labels_and_button(app):
    """PRODUCT §15: Current password, New password, Confirm new password, Change password."""
    create_user(app, "alice")
    page = logged_in(app).get("/account/password", status=200)
    form = page.forms["change-password"]
    labels = [
        page.html.find("label", attrs={"for": form[name].id}).get_text(strip=True)
        for name in ("current_password", "new_password", "confirm_password")
    ]
    assert labels == ["Current password", "New password", "Confirm new password"]
    for name in ("current_password", "new_password", "confirm_password"):
        assert form[name].attrs["type"] == "password"
    assert form["current_password"].attrs["autocomplete"] == "current-password"
    assert form["new_password"].attrs["autocomplete"] == "new-password"
    button = page.html.select_one("form#change-password button[type=submit]")
    assert button.get_text(strip=True) == "Change password"
    assert "You must choose a new password" not in page.text


def test_anonymous_visitor_is_sent_to_login(testapp):
    """The page needs a login; the way back is remembered."""
    response = testapp.get("/account/password", status=303)
    assert location(response) == "/login?next=%2Faccount%2Fpassword"


# --- refusals ------------------------------------------------------------------------

SHORT = "Use at least 12 characters; a few unrelated words make a long password easy to remember."
COMMON = (
    "This password is on lists of commonly used and leaked passwords, so attackers try it "
    "first. Choose another: a few unrelated words work well."
)
ADD_WORDS = "Add another word or two. Uncommon words are better."

# (new password, its confirmation, the message in the page's alert)
POLICY_REFUSALS = {
    "too-short": ("tiny walrus", None, SHORT),
    "contains-username": (
        "alice plays the purple tuba",
        None,
        "Do not use your username in your password.",
    ),
    "contains-username-other-case": (
        "Quiet ALICE climbs granite peaks",
        None,
        "Do not use your username in your password.",
    ),
    "contains-email-local-part": (
        "the Wanderer paints blue lanterns",
        None,
        "Do not use your email address in your password.",
    ),
    "common": ("password1234", None, COMMON),
    "similar-to-common": ("Password123!", None, COMMON),
    "very-easy": (
        "aaaaaaaaaaaa",
        None,
        'This password would be very easy to guess. Repeats like "aaa" are easy to guess. '
        f"{ADD_WORDS} Avoid repeated words and characters.",
    ),
    "easy": ("kitchentable", None, f"This password would be easy to guess. {ADD_WORDS}"),
    "fairly-easy": (
        "horsebattery",
        None,
        f"This password would be fairly easy to guess. {ADD_WORDS}",
    ),
    "same-as-current": (
        GOOD_PASSWORD,
        None,
        "Choose a new password that differs from the current one.",
    ),
}


@pytest.fixture
def alice(app) -> int:
    return create_user(app, "alice", email=EMAIL)


def assert_nothing_changed(app: Any, user_id: int, before: Any, mail_dir: Any) -> None:
    after = get_user(app, user_id)
    assert after.password_hash == before.password_hash
    assert after.password_changed_at == before.password_changed_at
    assert after.must_change_password == before.must_change_password
    assert audit_events(app, "password_changed") == []
    assert read_mails(mail_dir) == []


@pytest.mark.parametrize("case", sorted(POLICY_REFUSALS))
def test_policy_refusals_say_what_to_do(app, alice, mail_dir, case):
    """Each refusal is a 400 with its own message; nothing changes, nothing is echoed."""
    new, confirm, message = POLICY_REFUSALS[case]
    before = get_user(app, alice)
    client = logged_in(app)
    page = submit_change(client, GOOD_PASSWORD, new, confirm, status=400)
    assert_no_traceback(page)
    assert error_text(page) == message
    assert field_errors(page) == []
    form = page.forms["change-password"]
    assert [form[name].value for name in ("current_password", "new_password")] == ["", ""]
    assert new not in page.text
    assert GOOD_PASSWORD not in page.text
    assert_nothing_changed(app, alice, before, mail_dir)
    assert failure_count(app) == 0  # only a wrong current password counts as a failure
    assert "Signed in as alice" in client.get("/", status=200).text


def test_mismatched_confirmation_is_a_field_error(app, alice, mail_dir):
    """The confirmation differs: deform marks that field; nothing changes."""
    before = get_user(app, alice)
    client = logged_in(app)
    page = submit_change(client, GOOD_PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!", status=400)
    assert_no_traceback(page)
    assert field_errors(page) == ["The two new passwords do not match."]
    assert NEW_PASSWORD not in page.text
    assert_nothing_changed(app, alice, before, mail_dir)


def test_too_long_new_password_is_a_field_error(app, alice, mail_dir):
    """More than 1024 characters: a clear limit on both new-password fields."""
    before = get_user(app, alice)
    client = logged_in(app)
    page = submit_change(client, GOOD_PASSWORD, "y" * 1025, status=400)
    assert_no_traceback(page)
    assert field_errors(page) == ["Use at most 1024 characters."] * 2
    assert_nothing_changed(app, alice, before, mail_dir)


def test_exactly_the_maximum_length_is_accepted(app, alice):
    """1024 characters is allowed (zxcvbn judges the beginning of a long password)."""
    client = logged_in(app)
    longest = (NEW_PASSWORD + " ") * 30
    longest = longest[:1024]
    assert location(submit_change(client, GOOD_PASSWORD, longest)) == "/"
    assert location(submit_login(browser(app, ip="192.0.2.11"), "alice", longest)) == "/"


def test_wrong_current_password_is_refused_and_recorded(app, alice, mail_dir):
    """A wrong current password: 400, the message, and a login failure (reason
    current_password) in the audit log and the failure table."""
    before = get_user(app, alice)
    client = logged_in(app)
    page = submit_change(client, "not my current password", NEW_PASSWORD, status=400)
    assert_no_traceback(page)
    assert error_text(page) == WRONG_CURRENT
    assert "not my current password" not in page.text
    assert_nothing_changed(app, alice, before, mail_dir)
    [failure] = all_rows(app, select(LoginFailure))
    assert (failure.username_key, failure.reason, failure.user_exists) == (
        "alice",
        "current_password",
        True,
    )
    assert failure.scope != UNTRUSTED_SCOPE  # counted for this browser's device cookie
    [event] = audit_events(app, "login_failure")
    assert event.target_id == alice
    assert event.details["reason"] == "current_password"
    # the session goes on
    assert "Signed in as alice" in client.get("/", status=200).text


def test_empty_fields_are_form_errors(app, alice, mail_dir):
    """An empty form is refused field by field, not as a wrong password."""
    before = get_user(app, alice)
    client = logged_in(app)
    page = submit_change(client, "", "", status=400)
    assert_no_traceback(page)
    assert field_errors(page) == ["Required"] * 3
    assert failure_count(app) == 0
    assert_nothing_changed(app, alice, before, mail_dir)


# --- success -------------------------------------------------------------------------


@pytest.fixture
def several_sessions_app(app_factory):
    return app_factory(**{"session.one_per_user": "false"})


def test_success_ends_other_sessions_and_rotates_this_one(several_sessions_app, clock, mail_dir):
    """Success: 303 home with the flash; every other session (browser and API) ends;
    this one goes on under a new token; the flag is cleared and the time set; audited;
    a mail tells the owner."""
    app = several_sessions_app
    user_id = create_user(app, "alice", email=EMAIL, must_change_password=True)
    other = logged_in(app, ip="192.0.2.11")
    own = logged_in(app)
    ctx = app_context(app)
    try:
        user = accounts.get_user(ctx, user_id)
        sessions.create_session(ctx, user=user, kind=SessionKind.API)
        ctx.db.commit()
    finally:
        ctx.db.close()
    assert len(session_rows(app, user_id)) == 3
    old_token = own.cookies[SESSION_COOKIE]

    clock.advance(minutes=3)
    response = submit_change(own, GOOD_PASSWORD, NEW_PASSWORD)
    assert location(response) == "/"
    home = response.follow(status=200)
    assert flashes(home) == [CHANGED_FLASH]
    assert "Signed in as alice" in home.text
    assert flashes(own.get("/", status=200)) == []  # shown once

    [row] = session_rows(app, user_id)
    assert row.kind == SessionKind.BROWSER.value
    assert own.cookies[SESSION_COOKIE] != old_token
    stale = browser(app)
    stale.set_cookie(SESSION_COOKIE, old_token)
    assert location(stale.get("/", status=303)) == "/login?next=%2F"
    assert location(other.get("/", status=303)) == "/login?next=%2F"

    user = get_user(app, user_id)
    assert user.password_changed_at == clock()
    assert not user.must_change_password
    [event] = audit_events(app, "password_changed")
    assert (event.target_id, event.actor_id, event.actor_name) == (user_id, user_id, "alice")
    [mail] = read_mails(mail_dir)
    assert (mail.to, mail.subject) == (EMAIL, "Your password was changed")
    assert "every other session of your account has been logged out" in mail.body
    assert mail.link("/password/forgot") == "/password/forgot"

    submit_login(browser(app), "alice", GOOD_PASSWORD, status=403)
    assert location(submit_login(browser(app), "alice", NEW_PASSWORD)) == "/"


def test_success_goes_to_a_local_next(app, alice):
    """?next= on the page is where a successful change goes."""
    client = logged_in(app)
    target = "/account/terms?from=mail&x=1"
    response = submit_change(client, GOOD_PASSWORD, NEW_PASSWORD, next_path=target)
    assert location(response) == target


@pytest.mark.parametrize("target", ["//evil.example", "https://evil.example/", "javascript:x"])
def test_success_ignores_a_foreign_next(app, alice, target):
    """A next that leaves the site (on the page or posted) is dropped: home instead."""
    client = logged_in(app)
    page = client.get("/account/password", params={"next": target})
    form = page.forms["change-password"]
    assert form["next"].value == ""
    form["current_password"] = GOOD_PASSWORD
    form["new_password"] = NEW_PASSWORD
    form["confirm_password"] = NEW_PASSWORD
    form["next"] = target
    assert location(form.submit("submit")) == "/"


def test_user_without_email_changes_password_without_a_mail(app, mail_dir):
    """No address, no mail; the change itself works."""
    create_user(app, "alice")
    client = logged_in(app)
    assert location(submit_change(client, GOOD_PASSWORD, NEW_PASSWORD)) == "/"
    assert read_mails(mail_dir) == []
    assert location(submit_login(browser(app), "alice", NEW_PASSWORD)) == "/"


def test_success_voids_a_reset_link_mailed_earlier(app, alice, mail_dir):
    """A reset link asked for before the change no longer works after it."""
    anonymous = browser(app, ip="198.51.100.7")
    form = anonymous.get("/password/forgot").forms["forgot-password"]
    form["login"] = "alice"
    form.submit("submit", status=303)
    [reset_mail] = read_mails(mail_dir)
    link = reset_mail.link("/password/reset/")
    assert "reset-password" in anonymous.get(link, status=200).forms

    client = logged_in(app)
    assert location(submit_change(client, GOOD_PASSWORD, NEW_PASSWORD)) == "/"
    page = anonymous.get(link, status=410)
    assert "This link was already used" in page.text
    assert "reset-password" not in page.forms


# --- lockout -------------------------------------------------------------------------


@pytest.fixture
def locking_app(app_factory):
    return app_factory(**{"lockout.threshold": "3"})


def test_wrong_current_passwords_lock_the_account(locking_app, clock, mail_dir):
    """Threshold 3: the third wrong current password locks; then even the right one is
    refused, the login from this browser is locked too, and it ends 10 minutes later."""
    app = locking_app
    user_id = create_user(app, "alice", email=EMAIL)
    client = logged_in(app)
    for _ in range(3):
        page = submit_change(client, "a wrong guess at it", NEW_PASSWORD, status=400)
        assert error_text(page) == WRONG_CURRENT
    [lock] = audit_events(app, "lockout")
    assert (lock.target_id, lock.details["reason"]) == (user_id, "current_password")

    before = get_user(app, user_id)
    page = submit_change(client, GOOD_PASSWORD, NEW_PASSWORD, status=400)
    assert error_text(page) == LOCKED_CHANGE
    assert_nothing_changed(app, user_id, before, mail_dir)
    assert failure_count(app, "alice") == 3  # refused unchecked, not counted again

    token = client.get("/").html.find("input", attrs={"name": "csrf_token"})["value"]
    client.post("/logout", {"csrf_token": token}, status=303)
    locked = submit_login(client, "alice", GOOD_PASSWORD, status=429)
    assert error_text(locked) == LOCKED_LOGIN

    clock.advance(minutes=9)
    submit_login(client, "alice", GOOD_PASSWORD, status=429)
    clock.advance(minutes=1)
    assert location(submit_login(client, "alice", GOOD_PASSWORD)) == "/"
    assert location(submit_change(client, GOOD_PASSWORD, NEW_PASSWORD)) == "/"


def test_wrong_current_passwords_count_with_failed_logins(locking_app):
    """Two wrong current passwords and one wrong login from the same browser reach the
    threshold together: the page is no way around the lockout."""
    app = locking_app
    create_user(app, "alice")
    client = logged_in(app)
    for _ in range(2):
        submit_change(client, "a wrong guess at it", NEW_PASSWORD, status=400)
    token = client.get("/").html.find("input", attrs={"name": "csrf_token"})["value"]
    client.post("/logout", {"csrf_token": token}, status=303)
    submit_login(client, "alice", "another wrong guess", status=429)
    assert error_text(submit_login(client, "alice", GOOD_PASSWORD, status=429)) == LOCKED_LOGIN
    reasons = sorted(event.details["reason"] for event in audit_events(app, "login_failure"))
    assert reasons == ["current_password", "current_password", "password"]


def test_stolen_session_guessing_locks_untrusted_logins(locking_app):
    """A stolen session cookie without the owner's device cookie guesses under the
    untrusted scope: that locks logins from unknown browsers, not the owner's own."""
    app = locking_app
    create_user(app, "alice")
    owner = logged_in(app)
    thief = browser(app, ip="203.0.113.66")
    thief.set_cookie(SESSION_COOKIE, owner.cookies[SESSION_COOKIE])
    for _ in range(3):
        page = submit_change(thief, "a wrong guess at it", NEW_PASSWORD, status=400)
        assert error_text(page) == WRONG_CURRENT
    assert error_text(submit_change(thief, GOOD_PASSWORD, NEW_PASSWORD, status=400)) == (
        LOCKED_CHANGE
    )
    [failure, *_] = all_rows(app, select(LoginFailure))
    assert failure.scope == UNTRUSTED_SCOPE
    stranger = browser(app, ip="198.51.100.7")
    assert error_text(submit_login(stranger, "alice", GOOD_PASSWORD, status=429)) == LOCKED_LOGIN
    # the owner's browser (its device cookie) still logs in and can change the password
    fresh_owner = browser(app)
    fresh_owner.set_cookie(DEVICE_COOKIE, owner.cookies[DEVICE_COOKIE])
    assert location(submit_login(fresh_owner, "alice", GOOD_PASSWORD)) == "/"
    assert location(submit_change(fresh_owner, GOOD_PASSWORD, NEW_PASSWORD)) == "/"


# --- helping the person choose (rules first, strength after a try, password managers) ------


def test_the_rules_are_shown_before_the_first_try(app, alice):
    page = logged_in(app).get("/account/password", status=200)
    help_text = page.html.select_one("#change-password").get_text(" ", strip=True)
    assert "At least 12 characters, not your username or email address" in help_text
    assert page.html.select_one("#password-strength") is None  # nothing tried yet


def test_a_weak_password_is_answered_with_its_strength(app, alice):
    page = submit_change(logged_in(app), GOOD_PASSWORD, "qwertyuiopasdf", status=400)
    meter = page.html.select_one("#password-strength meter")
    assert meter is not None and meter["max"] == "4"
    shown = page.html.select_one("#password-strength").get_text(" ", strip=True)
    assert f"({meter['value']} of 4)" in shown
    assert "to guess" in shown


def test_a_password_manager_learns_which_account_the_new_password_is_for(app, alice):
    page = logged_in(app).get("/account/password", status=200)
    field = page.html.select_one('#change-password input[name="username"]')
    assert (field["value"], field["autocomplete"], field.get("type")) == (
        "alice",
        "username",
        "text",
    )
    assert field.has_attr("hidden") and field.has_attr("readonly")
    new = page.html.select_one('input[name="new_password"]')
    current = page.html.select_one('input[name="current_password"]')
    assert (current["autocomplete"], new["autocomplete"]) == ("current-password", "new-password")
    # what is posted in it changes nothing: the account is the logged-in one
    form = page.forms["change-password"]
    form["username"] = "root"
    form["current_password"] = GOOD_PASSWORD
    form["new_password"] = form["confirm_password"] = NEW_PASSWORD
    assert form.submit("submit", status=303)
    assert get_user(app, alice).password_changed_at is not None
