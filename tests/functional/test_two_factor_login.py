"""Logging in with two-factor through the real forms (PRODUCT §4, §8, §15): the
password, then a code or a recovery code; the half-finished login, its expiry, and
wrong codes as login failures."""

from __future__ import annotations

import json
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from camauth.models import LoginFailure, TwoFactorCredential, UserStatus, WebSession
from camauth.services import accounts
from camauth.web.device import DEVICE_COOKIE
from camauth.web.session import SESSION_COOKIE

from ..conftest import GOOD_PASSWORD, app_context, read_mails
from .conftest import (
    HOME_LOGIN_REDIRECT,
    all_rows,
    audit_events,
    browser,
    create_user,
    error_text,
    failure_count,
    flashes,
    get_user,
    location,
    logout,
    session_rows,
    set_cookie_headers,
    submit_login,
)
from .two_factor_helpers import (
    CLOCK_HINT,
    NOT_A_RECOVERY_CODE,
    RECOVERY_STEP,
    REPLAYED,
    SECOND_STEP,
    WRONG_CODE,
    Token,
    enrol,
    enrol_token,
    log_in_with_code,
    password_step,
    remove_two_factor,
    submit_code,
)

EXPIRED_NOTICE = (
    "Your login was not finished within a few minutes. Log in again, and have your "
    "authentication code ready."
)


def locked_message(until: str) -> str:
    return f"Too many failed attempts: logging in to this account is locked until {until} UTC."


@pytest.fixture
def alice(app, clock):
    """alice (not an administrator) with an authenticator app: (id, device, recovery codes)."""
    user_id = create_user(app, "alice", email="alice@example.org")
    device, codes = enrol(app, user_id, clock)
    return user_id, device, codes


# --- the whole login ------------------------------------------------------------


def _drop_from_the_pending_login(app, key: str) -> None:
    """Edit the visitor's stored session as an earlier version would have left it."""
    ctx = app_context(app)
    try:
        (row,) = ctx.db.scalars(select(WebSession).where(WebSession.user_id.is_(None))).all()
        data = json.loads(row.data)
        del data["_pending_login"][key]
        row.data = json.dumps(data)
        ctx.db.commit()
    finally:
        ctx.db.close()


def test_a_half_finished_login_kept_by_an_earlier_version_starts_again(app, alice):
    """A login half-finished when camauth was upgraded (its session holds no password
    stamp): there is no second step to go on with; back to the login page."""
    _, device, _ = alice
    client = browser(app)
    password_step(client, "alice")
    _drop_from_the_pending_login(app, "password_stamp")
    assert location(client.get(SECOND_STEP, status=303)) == "/login"
    assert location(client.get(SECOND_STEP, status=303)) == "/login"  # and stays so
    assert audit_events(app, "login_success") == []
    # the password step again, and the login goes through
    password_step(client, "alice")
    assert location(submit_code(client, device.next(), status=303)) == "/"


def test_second_step_page_has_the_documented_label_and_button(app, alice):
    client = browser(app)
    password_step(client, "alice")
    page = client.get(SECOND_STEP, status=200)
    form = page.forms["two-factor"]
    assert set(form.fields) >= {"csrf_token", "code"}
    label = page.html.find("label", attrs={"for": form["code"].id})
    assert label.get_text(strip=True) == "Authentication code"
    assert form["code"].attrs["autocomplete"] == "one-time-code"
    button = page.html.select_one("form#two-factor button[type=submit]")
    assert button.get_text(strip=True) == "Verify"


def test_login_with_a_code_lands_on_next_and_only_then_has_a_session(app, alice, clock):
    user_id, device, _ = alice
    client = browser(app)
    response = password_step(client, "alice", next_path="/account/password?from=login")

    # the password alone is no login: no session of alice, no success, no device cookie
    assert set_cookie_headers(response, DEVICE_COOKIE) == []
    assert session_rows(app, user_id) == []
    assert audit_events(app, "login_success") == []
    assert get_user(app, user_id).last_login_at is None
    assert location(client.get("/", status=303)) == HOME_LOGIN_REDIRECT
    protected = client.get("/account/password", status=303)
    assert location(protected).startswith("/login?next=")
    assert "Signed in as" not in client.get(SECOND_STEP, status=200).text

    clock.advance(seconds=30)
    done = submit_code(client, device.now(), status=303)
    assert location(done) == "/account/password?from=login"
    (row,) = session_rows(app, user_id)
    assert get_user(app, user_id).last_login_at == clock.now
    assert set_cookie_headers(done, DEVICE_COOKIE) != []
    assert "Signed in as alice" in client.get("/", status=200).text
    # the pending state is gone with the login: the second step now just goes home
    assert location(client.get(SECOND_STEP, status=303)) == "/"
    assert row.user_id == user_id


def test_login_with_a_code_issues_a_new_session_token(app, alice):
    """The half-finished login's anonymous session is not the one that logs in."""
    user_id, device, _ = alice
    client = browser(app)
    password_step(client, "alice")
    pending_token = client.cookies[SESSION_COOKIE]
    (pending_row,) = session_rows(app)
    assert pending_row.user_id is None

    submit_code(client, device.next(), status=303)
    assert client.cookies[SESSION_COOKIE] != pending_token
    (row,) = session_rows(app)
    assert row.user_id == user_id
    assert row.token_digest != pending_row.token_digest
    # the old token is worth nothing
    stale = browser(app)
    stale.set_cookie(SESSION_COOKIE, pending_token)
    assert location(stale.get("/", status=303)) == HOME_LOGIN_REDIRECT


def test_login_without_next_goes_home(app, alice):
    _, device, _ = alice
    client = browser(app)
    assert location(log_in_with_code(client, "alice", device)) == "/"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "javascript:x"])
def test_foreign_next_is_ignored_through_both_steps(app, alice, target):
    _, device, _ = alice
    assert location(log_in_with_code(browser(app), "alice", device, next_path=target)) == "/"


def test_the_right_code_resets_the_failure_count(app_factory, clock):
    app = app_factory(**{"lockout.threshold": "3"})
    user_id = create_user(app, "alice")
    device, _ = enrol(app, user_id, clock)
    client = browser(app)
    submit_login(client, "alice", "wrong password 1", status=403)
    submit_login(client, "alice", "wrong password 2", status=403)
    log_in_with_code(client, "alice", device)
    # a fresh (untrusted) browser starts from zero: two more failures do not lock
    other = browser(app, ip="198.51.100.7")
    submit_login(other, "alice", "wrong password 3", status=403)
    submit_login(other, "alice", "wrong password 4", status=403)
    password_step(other, "alice")


# --- recovery codes -------------------------------------------------------------


def test_links_between_code_and_recovery_code(app, alice):
    client = browser(app)
    password_step(client, "alice")
    page = client.get(SECOND_STEP)
    recovery_page = page.click(description="Use a recovery code instead")
    assert recovery_page.request.path == RECOVERY_STEP
    form = recovery_page.forms["recovery-code"]
    label = recovery_page.html.find("label", attrs={"for": form["recovery_code"].id})
    assert label.get_text(strip=True) == "Recovery code"
    back = recovery_page.click(description="Use your authentication code instead")
    assert back.request.path == SECOND_STEP
    assert "two-factor" in back.forms


def test_login_with_a_recovery_code_once(app, alice):
    user_id, _, codes = alice
    client = browser(app)
    password_step(client, "alice", next_path="/account/password")
    done = submit_code(client, codes[3], recovery=True, status=303)
    assert location(done) == "/account/password"
    page = done.follow(status=200)
    assert flashes(page) == [
        "You logged in with a recovery code; 9 of your codes are left. Generate new ones on "
        "your two-factor page if you are running out."
    ]
    (used,) = audit_events(app, "recovery_code_used")
    assert used.target_id == user_id
    assert used.details["remaining"] == 9
    (success,) = audit_events(app, "login_success")
    assert success.details["two_factor"] == "recovery_code"

    # the same code a second time is refused, and counted as a failure
    logout(client)
    again = browser(app, ip="198.51.100.9")
    password_step(again, "alice")
    refused = submit_code(again, codes[3], recovery=True, status=403)
    assert error_text(refused) == NOT_A_RECOVERY_CODE
    assert session_rows(app, user_id) == []
    assert failure_count(app, "alice") == 1
    (wrong,) = audit_events(app, "two_factor_wrong_code")
    assert wrong.details["reason"] == "recovery_code"
    # another one still works, and the count goes down
    done = submit_code(again, codes[4].lower().replace("-", " "), recovery=True, status=303)
    assert "8 of your codes are left" in flashes(done.follow())[0]


def test_someone_elses_recovery_code_is_refused(app, alice, clock):
    bob_id = create_user(app, "bob")
    _, bob_codes = enrol(app, bob_id, clock)
    client = browser(app)
    password_step(client, "alice")
    refused = submit_code(client, bob_codes[0], recovery=True, status=403)
    assert error_text(refused) == NOT_A_RECOVERY_CODE
    # and it still works for bob
    password_step(client, "bob")
    submit_code(client, bob_codes[0], recovery=True, status=303)


def test_a_code_from_the_device_is_not_a_recovery_code(app, alice):
    _, device, _ = alice
    client = browser(app)
    password_step(client, "alice")
    refused = submit_code(client, device.next(), recovery=True, status=403)
    assert error_text(refused) == NOT_A_RECOVERY_CODE


# --- the half-finished login ----------------------------------------------------


def test_pending_login_expires_after_five_minutes(app, alice, clock):
    user_id, _device, _ = alice
    client = browser(app)
    password_step(client, "alice")
    clock.advance(minutes=5)
    expired = client.get(SECOND_STEP, status=303)
    assert location(expired) == "/login?notice=two-factor-expired"
    page = expired.follow(status=200)
    assert EXPIRED_NOTICE in page.text
    assert "login" in page.forms
    # forgotten: even a right code does not finish it, and the form just goes to /login
    assert location(client.get(SECOND_STEP, status=303)) == "/login"
    assert session_rows(app, user_id) == []


def test_expired_pending_login_refuses_a_right_code_posted_late(app, alice, clock):
    user_id, device, _ = alice
    client = browser(app)
    password_step(client, "alice")
    form = client.get(SECOND_STEP).forms["two-factor"]
    clock.advance(minutes=5, seconds=1)
    form["code"] = device.now()
    response = form.submit("submit", status=303)
    assert location(response) == "/login?notice=two-factor-expired"
    assert session_rows(app, user_id) == []
    assert audit_events(app, "login_success") == []


def test_pending_login_still_works_just_before_it_expires(app, alice, clock):
    user_id, device, _ = alice
    client = browser(app)
    password_step(client, "alice")
    clock.advance(minutes=4, seconds=59)
    submit_code(client, device.now(), status=303)
    assert len(session_rows(app, user_id)) == 1


def test_pending_minutes_is_a_setting(app_factory, clock):
    app = app_factory(**{"mfa.pending_minutes": "2"})
    user_id = create_user(app, "alice")
    enrol(app, user_id, clock)
    client = browser(app)
    password_step(client, "alice")
    clock.advance(minutes=2)
    assert location(client.get(SECOND_STEP)) == "/login?notice=two-factor-expired"


def test_logout_from_the_pending_state_forgets_it(app, alice):
    user_id, _device, _ = alice
    client = browser(app)
    password_step(client, "alice")
    pending_token = client.cookies[SESSION_COOKIE]
    token = client.get(SECOND_STEP).forms["two-factor"]["csrf_token"].value
    assert location(client.post("/logout", {"csrf_token": token}, status=303)) == "/login"
    assert session_rows(app) == []
    assert location(client.get(SECOND_STEP, status=303)) == "/login"
    # nor does the old cookie bring it back
    client.set_cookie(SESSION_COOKIE, pending_token)
    assert location(client.get(SECOND_STEP, status=303)) == "/login"
    assert session_rows(app, user_id) == []


def test_start_over_link_goes_to_the_login_page(app, alice):
    client = browser(app)
    password_step(client, "alice")
    page = client.get(SECOND_STEP).click(description="Start over")
    assert "login" in page.forms


@pytest.mark.parametrize("path", [SECOND_STEP, RECOVERY_STEP])
def test_second_step_without_a_pending_login_goes_to_the_login_page(app, alice, path):
    client = browser(app)
    assert location(client.get(path, status=303)) == "/login"


@pytest.mark.parametrize(
    ("path", "field"), [(SECOND_STEP, "code"), (RECOVERY_STEP, "recovery_code")]
)
def test_posting_a_code_without_a_pending_login_goes_to_the_login_page(app, alice, path, field):
    _, device, codes = alice
    client = browser(app)
    token = client.get("/login").forms["login"]["csrf_token"].value
    code = device.next() if field == "code" else codes[0]
    response = client.post(path, {"csrf_token": token, field: code}, status=303)
    assert location(response) == "/login"
    assert session_rows(app) == []
    assert failure_count(app) == 0


def test_second_step_when_already_logged_in_goes_home(app, alice):
    _, device, _ = alice
    client = browser(app)
    log_in_with_code(client, "alice", device)
    assert location(client.get(SECOND_STEP, status=303)) == "/"
    assert location(client.get(RECOVERY_STEP, status=303)) == "/"


def test_pending_login_belongs_to_its_browser(app, alice):
    _, _device, _ = alice
    password_step(browser(app), "alice")
    other = browser(app)
    assert location(other.get(SECOND_STEP, status=303)) == "/login"


def test_new_password_attempt_starts_over(app, alice):
    """Submitting the login form again drops the half-finished login."""
    _, _device, _ = alice
    client = browser(app)
    password_step(client, "alice")
    submit_login(client, "alice", "wrong password!", status=403)
    assert location(client.get(SECOND_STEP, status=303)) == "/login"


def test_disabled_between_the_steps_cannot_finish(app, alice):
    user_id, device, _ = alice
    client = browser(app)
    password_step(client, "alice")
    ctx = app_context(app)
    try:
        user = accounts.get_user(ctx, user_id)
        accounts.set_status(ctx, user, UserStatus.DISABLED)
        ctx.db.commit()
    finally:
        ctx.db.close()
    response = submit_code(client, device.next(), status=303)
    assert location(response) == "/login?notice=log-in-again"
    assert "Please log in again." in response.follow().text
    assert session_rows(app, user_id) == []
    assert location(client.get(SECOND_STEP, status=303)) == "/login"


def test_two_factor_removed_between_the_steps_starts_over(app, alice):
    user_id, device, _ = alice
    client = browser(app)
    password_step(client, "alice")
    remove_two_factor(app, user_id)
    response = submit_code(client, device.next(), status=303)
    assert location(response) == "/login?notice=log-in-again"
    assert session_rows(app, user_id) == []
    # starting over now logs in with the password alone
    assert location(submit_login(client, "alice", GOOD_PASSWORD, status=303)) == "/"


# --- wrong codes ----------------------------------------------------------------


def test_wrong_code_is_refused_and_the_form_stays(app, alice):
    user_id, device, _ = alice
    client = browser(app)
    password_step(client, "alice")
    refused = submit_code(client, device.not_now(), status=403)
    assert error_text(refused) == WRONG_CODE
    assert refused.forms["two-factor"]["code"].value == ""
    assert session_rows(app, user_id) == []
    # still on the second step: the right code now works
    submit_code(client, device.next(), status=303)


def test_wrong_codes_count_as_login_failures_and_lock_at_the_threshold(app_factory, clock):
    app = app_factory(**{"lockout.threshold": "3"})
    user_id = create_user(app, "alice")
    device, _ = enrol(app, user_id, clock)
    client = browser(app)
    password_step(client, "alice")
    assert failure_count(app, "alice") == 0
    for number in (1, 2):
        refused = submit_code(client, device.not_now(), status=403)
        assert error_text(refused) == WRONG_CODE
        assert failure_count(app, "alice") == number
    locked = submit_code(client, device.not_now(), status=429)
    assert error_text(locked) == locked_message("2026-01-05 09:10")
    assert "two-factor" not in locked.forms
    assert failure_count(app, "alice") == 3
    (lock,) = audit_events(app, "lockout")
    assert lock.target_id == user_id
    wrong = audit_events(app, "two_factor_wrong_code")
    assert [event.details["reason"] for event in wrong] == ["code_wrong"] * 3
    assert audit_events(app, "login_failure") == []

    # the half-finished login is over, and the right code cannot revive it
    assert location(client.get(SECOND_STEP, status=303)) == "/login"
    # nor does the right password get past the lock (no failure added while locked)
    refused = submit_login(browser(app), "alice", GOOD_PASSWORD, status=429)
    assert error_text(refused) == locked_message("2026-01-05 09:10")
    assert failure_count(app, "alice") == 3
    assert session_rows(app, user_id) == []


def test_locked_account_cannot_finish_a_half_finished_login(app_factory, clock):
    app = app_factory(**{"lockout.threshold": "3"})
    user_id = create_user(app, "alice")
    device, _ = enrol(app, user_id, clock)
    waiting = browser(app)
    password_step(waiting, "alice")
    form = waiting.get(SECOND_STEP).forms["two-factor"]

    attacker = browser(app, ip="203.0.113.66")
    for number in range(1, 3):
        submit_login(attacker, "alice", f"wrong password {number}", status=403)
    submit_login(attacker, "alice", "wrong password 3", status=429)

    form["code"] = device.next()
    refused = form.submit("submit", status=429)
    assert error_text(refused) == locked_message("2026-01-05 09:10")
    assert session_rows(app, user_id) == []
    assert audit_events(app, "login_success") == []
    assert failure_count(app, "alice") == 3  # attempts while locked add nothing
    assert location(waiting.get(SECOND_STEP, status=303)) == "/login"
    # once the lock is over, the person logs in
    clock.advance(minutes=10)
    password_step(waiting, "alice")
    submit_code(waiting, device.now(), status=303)


def test_the_password_step_does_not_reset_the_failure_count(app_factory, clock):
    app = app_factory(**{"lockout.threshold": "3"})
    user_id = create_user(app, "alice")
    device, _ = enrol(app, user_id, clock)
    client = browser(app)
    submit_login(client, "alice", "wrong password 1", status=403)
    submit_login(client, "alice", "wrong password 2", status=403)
    password_step(client, "alice")
    assert failure_count(app, "alice") == 2
    assert audit_events(app, "login_success") == []
    # the first wrong code is the third failure in a row
    locked = submit_code(client, device.not_now(), status=429)
    assert "locked until" in error_text(locked)


def test_the_password_step_does_not_reset_the_count_for_a_later_wrong_password(app_factory, clock):
    app = app_factory(**{"lockout.threshold": "3"})
    user_id = create_user(app, "alice")
    enrol(app, user_id, clock)
    client = browser(app)
    submit_login(client, "alice", "wrong password 1", status=403)
    password_step(client, "alice")
    submit_login(client, "alice", "wrong password 2", status=403)
    password_step(client, "alice")
    locked = submit_login(client, "alice", "wrong password 3", status=429)
    assert error_text(locked) == locked_message("2026-01-05 09:10")


def test_wrong_recovery_codes_count_toward_lockout_too(app_factory, clock):
    app = app_factory(**{"lockout.threshold": "3"})
    user_id = create_user(app, "alice")
    enrol(app, user_id, clock)
    client = browser(app)
    password_step(client, "alice")
    for guess in ("AAAA-BBBB-CCCC-DDDD", "not a code"):
        submit_code(client, guess, recovery=True, status=403)
    locked = submit_code(client, "0000-0000-0000-0000", recovery=True, status=429)
    assert "locked until" in error_text(locked)
    assert failure_count(app, "alice") == 3


# --- replay and clock hints -----------------------------------------------------


def test_a_code_just_used_is_refused_in_the_same_time_step(app, alice, clock):
    user_id, device, _ = alice
    client = browser(app)
    code = device.next()
    password_step(client, "alice")
    submit_code(client, code, status=303)
    logout(client)

    clock.advance(seconds=20)  # still the same 30-second step
    assert device.now() == code
    password_step(client, "alice")
    refused = submit_code(client, code, status=403)
    assert error_text(refused) == REPLAYED
    assert session_rows(app, user_id) == []
    assert failure_count(app, "alice") == 1
    (replay,) = audit_events(app, "two_factor_replay_refused")
    assert replay.target_id == user_id
    assert replay.details["reason"] == "code_replay"
    # the next code works
    submit_code(client, device.next(), status=303)


def test_the_enrolment_code_cannot_log_in(app, clock):
    user_id = create_user(app, "alice")
    enrolled_at = clock.now
    device, _ = enrol(app, user_id, clock)
    clock.now = enrolled_at + timedelta(seconds=29)  # still the enrolment's step
    code_at_enrolment = device.now()
    client = browser(app)
    password_step(client, "alice")
    refused = submit_code(client, code_at_enrolment, status=403)
    assert error_text(refused) == REPLAYED


def test_an_earlier_step_is_refused_after_a_later_one_was_used(app, alice, clock):
    """A code of the step before (inside the window) is no good once a later one logged in."""
    _, device, _ = alice
    client = browser(app)
    device.next()
    earlier = device.now()
    later = device.off_by(1)
    password_step(client, "alice")
    submit_code(client, later, status=303)
    logout(client)
    password_step(client, "alice")
    assert error_text(submit_code(client, earlier, status=403)) == REPLAYED


@pytest.mark.parametrize("steps", [-1, 1])
def test_one_step_either_side_is_accepted(app, alice, steps):
    _, device, _ = alice
    client = browser(app)
    device.next()
    password_step(client, "alice")
    submit_code(client, device.off_by(steps), status=303)


@pytest.mark.parametrize(
    ("steps", "minutes"),
    [
        (-3, "about 2 minutes off"),
        (3, "about 2 minutes off"),
        (-2, "about 1 minute off"),
        (2, "about 1 minute off"),
        (10, "about 5 minutes off"),
        (-10, "about 5 minutes off"),
    ],
)
def test_a_code_a_few_steps_off_gets_the_clock_hint(app, alice, steps, minutes):
    user_id, device, _ = alice
    client = browser(app)
    device.next()
    password_step(client, "alice")
    refused = submit_code(client, device.off_by(steps), status=403)
    message = error_text(refused)
    assert message.startswith("That code is not correct now. " + CLOCK_HINT)
    assert minutes in message
    assert session_rows(app, user_id) == []
    assert failure_count(app, "alice") == 1
    (wrong,) = audit_events(app, "two_factor_wrong_code")
    assert wrong.details["reason"] == "code_clock_off"


@pytest.mark.parametrize("steps", [-11, 11, 40])
def test_a_code_far_off_is_just_wrong(app, alice, steps):
    _, device, _ = alice
    client = browser(app)
    device.next()
    password_step(client, "alice")
    code = device.off_by(steps)
    if code in {device.off_by(near) for near in range(-10, 11)}:
        pytest.skip("the far code happens to equal a near one")
    refused = submit_code(client, code, status=403)
    assert error_text(refused) == WRONG_CODE


# --- the audit trail ------------------------------------------------------------


def test_audit_trail_of_a_two_factor_login(app, alice):
    user_id, device, _ = alice
    client = browser(app)
    password_step(client, "alice")
    submit_code(client, device.not_now(), status=403)
    submit_code(client, device.next(), status=303)

    (wrong,) = audit_events(app, "two_factor_wrong_code")
    assert (wrong.target_id, wrong.ip) == (user_id, "192.0.2.10")
    assert wrong.details["scope"] == "untrusted"
    (success,) = audit_events(app, "login_success")
    assert (success.target_id, success.actor_id) == (user_id, user_id)
    assert success.details == {"device": "untrusted", "two_factor": "code"}
    failures = all_rows(app, select(LoginFailure))
    assert [failure.reason for failure in failures] == ["code_wrong"]


def test_login_without_two_factor_is_audited_as_such(app):
    create_user(app, "bob")
    submit_login(browser(app), "bob", GOOD_PASSWORD, status=303)
    (success,) = audit_events(app, "login_success")
    assert success.details["two_factor"] == "none"


def test_a_trusted_device_still_needs_the_code(app, alice):
    """A browser that logged in before (device cookie) still needs the code."""
    user_id, device, _ = alice
    client = browser(app)
    log_in_with_code(client, "alice", device)
    logout(client)
    assert DEVICE_COOKIE in client.cookies
    password_step(client, "alice")
    assert session_rows(app, user_id) == []
    refused = submit_code(client, device.not_now(), status=403)
    assert error_text(refused) == WRONG_CODE
    (wrong,) = audit_events(app, "two_factor_wrong_code")
    assert wrong.details["scope"] == "device"


def test_login_in_a_browser_logged_in_as_someone_else_does_not_ride_on_that_session(app, alice):
    """bob's browser, alice's password: bob is logged out, alice is not yet in."""
    _user_id, device, _ = alice
    bob_id = create_user(app, "bob")
    client = browser(app)
    assert location(submit_login(client, "bob", GOOD_PASSWORD)) == "/"
    token = client.get("/").html.find("input", attrs={"name": "csrf_token"})["value"]
    fields = {"csrf_token": token, "username": "alice", "password": GOOD_PASSWORD}
    assert location(client.post("/login", fields, status=303)) == SECOND_STEP
    assert session_rows(app, bob_id) == []
    assert location(client.get("/", status=303)) == HOME_LOGIN_REDIRECT
    submit_code(client, device.next(), status=303)
    assert "Signed in as alice" in client.get("/").text
    assert session_rows(app, bob_id) == []


def test_destination_survives_a_wrong_code(app, alice):
    _, device, _ = alice
    client = browser(app)
    password_step(client, "alice", next_path="/account/password?after=wrong")
    submit_code(client, device.not_now(), status=403)
    done = submit_code(client, device.next(), status=303)
    assert location(done) == "/account/password?after=wrong"


# --- hardware tokens ------------------------------------------------------------


def token_drift(app, user_id: int) -> int:
    credential = all_rows(
        app, select(TwoFactorCredential).where(TwoFactorCredential.user_id == user_id)
    )[0]
    return credential.drift


def test_hardware_token_with_sixty_second_steps_and_sha256(app, clock):
    user_id = create_user(app, "alice")
    token = Token(pyotp.random_base32(32), clock)
    assert enrol_token(app, user_id, token) == 0
    client = browser(app)
    code = token.now()
    password_step(client, "alice")
    submit_code(client, code, status=303)
    logout(client)
    # thirty seconds later it is still the same (60-second) step: that code is used up
    clock.advance(seconds=30)
    assert token.now() == code
    password_step(client, "alice")
    assert error_text(submit_code(client, code, status=403)) == REPLAYED
    submit_code(client, token.next(), status=303)
    page = client.get("/account/two-factor", status=200)
    assert "a hardware token" in page.text


def test_hardware_token_whose_clock_wanders_keeps_working(app, clock):
    user_id = create_user(app, "alice")
    token = Token(pyotp.random_base32(32), clock, ahead=3)
    assert enrol_token(app, user_id, token) == 3  # three minutes fast: learned
    client = browser(app)
    password_step(client, "alice")
    submit_code(client, token.now(), status=303)  # no clock hint for a known drift
    assert token_drift(app, user_id) == 3
    logout(client)

    for ahead in (4, 5, 6):  # one more step fast before each login
        token.ahead = ahead
        password_step(client, "alice")
        submit_code(client, token.next(), status=303)
        assert token_drift(app, user_id) == ahead
        logout(client)
    # but a jump of several steps at once is not taken: a token's owner cannot set its
    # clock, so the hint sends them to a recovery code and an administrator
    token.ahead = 9
    password_step(client, "alice")
    refused = submit_code(client, token.next(), status=403)
    assert "your token's clock seems to be about" in error_text(refused)
    assert "ask an administrator to set up the token again" in error_text(refused)
    assert "about 3 minutes off" in error_text(refused)
    assert token_drift(app, user_id) == 6


def test_a_password_reset_does_not_bypass_two_factor(app, alice, mail_dir):
    user_id, device, _ = alice
    client = browser(app)
    form = client.get("/password/forgot").forms["forgot-password"]
    form["login"] = "alice"
    form.submit("submit", status=303)
    [mail] = [mail for mail in read_mails(mail_dir) if mail.subject == "Reset your password"]
    form = client.get(mail.link("/password/reset/")).forms["reset-password"]
    form["new_password"] = form["confirm_password"] = "granite otter plays the kazoo at dawn"
    form.submit("submit", status=303)
    assert session_rows(app, user_id) == []
    response = submit_login(client, "alice", "granite otter plays the kazoo at dawn", status=303)
    assert location(response) == SECOND_STEP
    assert location(client.get("/", status=303)) == HOME_LOGIN_REDIRECT
    submit_code(client, device.next(), status=303)


def test_a_code_typed_with_spaces_works(app, alice):
    """Authenticator apps show "123 456"; people type it so."""
    user_id, device, _ = alice
    client = browser(app)
    password_step(client, "alice")
    code = device.next()
    submit_code(client, f" {code[:3]} {code[3:]} ", status=303)
    assert len(session_rows(app, user_id)) == 1


def test_a_planted_session_token_does_not_carry_the_half_finished_login(app, alice, clock):
    """Session fixation: a token an attacker set in the victim's browser is not the one
    the victim's half-finished (and then finished) login lives in."""
    _, device, _ = alice
    mallory_id = create_user(app, "mallory")
    enrol(app, mallory_id, clock)
    attacker = browser(app, ip="203.0.113.66")
    password_step(attacker, "mallory")  # an anonymous session row of the attacker's
    planted = attacker.cookies[SESSION_COOKIE]

    victim = browser(app)
    # the very cookie (same host, same path), so that it stands where the victim's would
    victim.cookiejar.set_cookie(next(c for c in attacker.cookiejar if c.name == SESSION_COOKIE))
    assert victim.cookies[SESSION_COOKIE] == planted
    password_step(victim, "alice")
    assert victim.cookies[SESSION_COOKIE] != planted
    # the attacker's token is not at alice's second step (nor at mallory's any more)
    assert location(attacker.get(SECOND_STEP, status=303)) == "/login"
    submit_code(victim, device.next(), status=303)
    assert location(attacker.get("/", status=303)) == HOME_LOGIN_REDIRECT


def test_a_password_reset_ends_a_half_finished_login_of_the_old_password(
    app, alice, mail_dir, clock
):
    """The reset "ends all sessions" (PRODUCT §3): that includes a login whose password
    step was passed with the old password and only waits for the code (someone who
    knew the old password and relays or phishes a code must start over)."""
    user_id, device, _ = alice
    intruder = browser(app, ip="203.0.113.66")
    password_step(intruder, "alice")
    clock.advance(seconds=40)  # the owner resets the password a little later

    owner = browser(app)
    form = owner.get("/password/forgot").forms["forgot-password"]
    form["login"] = "alice"
    form.submit("submit", status=303)
    [mail] = [mail for mail in read_mails(mail_dir) if mail.subject == "Reset your password"]
    form = owner.get(mail.link("/password/reset/")).forms["reset-password"]
    form["new_password"] = form["confirm_password"] = "granite otter plays the kazoo at dawn"
    form.submit("submit", status=303)

    response = submit_code(intruder, device.next())
    # like any other change since the password step (disabled, two-factor removed)
    assert location(response) == "/login?notice=log-in-again", "the old password's login went on"
    assert session_rows(app, user_id) == []
    assert audit_events(app, "login_success") == []


def test_a_password_change_ends_a_half_finished_login_of_the_old_password(app, alice):
    user_id, device, _ = alice
    intruder = browser(app, ip="203.0.113.66")
    password_step(intruder, "alice")

    owner = browser(app)
    log_in_with_code(owner, "alice", device)
    form = owner.get("/account/password").forms["change-password"]
    form["current_password"] = GOOD_PASSWORD
    form["new_password"] = form["confirm_password"] = "granite otter plays the kazoo at dawn"
    form.submit("submit", status=303)
    (owners_session,) = session_rows(app, user_id)

    response = submit_code(intruder, device.next())
    assert location(response) == "/login?notice=log-in-again", "the old password's login went on"
    assert [row.token_digest for row in session_rows(app, user_id)] == [owners_session.token_digest]
    assert len(audit_events(app, "login_success")) == 1
