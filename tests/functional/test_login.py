"""The login page through the real form (PRODUCT §4, §15)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pyotp
import pytest
from sqlalchemy import func, select

from camauth.models import UNTRUSTED_SCOPE, Lockout, WebSession
from camauth.services import accounts
from camauth.web.device import DEVICE_COOKIE

from ..conftest import GOOD_PASSWORD, app_context, login
from .conftest import (
    audit_events,
    browser,
    create_user,
    error_text,
    failure_count,
    field_errors,
    get_user,
    logout,
    scalar,
    submit_login,
)

INVALID = "Invalid username or password."
NEW_PASSWORD = "granite otter plays the kazoo at dawn"


def location_path(response) -> str:
    parts = urlsplit(response.headers["Location"])
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_login_page_has_the_documented_labels_and_button(testapp):
    page = testapp.get("/login")
    assert page.status_int == 200
    form = page.forms["login"]
    assert {"username", "password", "csrf_token", "next"} <= set(form.fields)
    labels = {
        page.html.find("label", attrs={"for": form[name].id}).get_text(strip=True)
        for name in ("username", "password")
    }
    assert labels == {"Username", "Password"}
    assert form["password"].attrs["type"] == "password"
    button = page.html.select_one("form#login button[type=submit]")
    assert button.get_text(strip=True) == "Log in"


def test_success_goes_home_and_shows_the_user(testapp, app):
    create_user(app, "alice")
    response = login(testapp, "alice", GOOD_PASSWORD)
    assert response.status_int == 303
    assert location_path(response) == "/"
    home = response.follow()
    assert "Signed in as alice" in home.text
    assert home.html.find("button", string=lambda s: s and s.strip() == "Log out")


def test_the_form_posts_url_encoded_and_a_multipart_post_still_logs_in(testapp, app):
    # URL-encoded is what browsers send from now on (cheaper to parse); a client that
    # posts multipart/form-data, as the forms used to say, is not locked out by it
    create_user(app, "alice")
    page = testapp.get("/login")
    assert page.html.select_one("form#login")["enctype"] == "application/x-www-form-urlencoded"
    form = page.forms["login"]
    fields = {
        "csrf_token": form["csrf_token"].value,
        "username": "alice",
        "password": GOOD_PASSWORD,
    }
    # webtest encodes the fields as multipart/form-data when asked for that type
    response = testapp.post("/login", fields, content_type="multipart/form-data", status=303)
    assert "Signed in as alice" in response.follow().text


def test_unknown_user_and_wrong_password_get_the_same_answer(testapp, app):
    create_user(app, "alice")
    wrong_password = login(testapp, "alice", "not the right password", status=403)
    unknown_user = login(testapp, "nobody", "not the right password", status=403)
    assert wrong_password.status == unknown_user.status == "403 Forbidden"
    assert error_text(wrong_password) == error_text(unknown_user) == INVALID
    # the same page apart from the echoed username and the form's token
    assert wrong_password.text.replace("alice", "X") == unknown_user.text.replace("nobody", "X")
    # both were recorded, so lockout cannot tell which usernames exist
    assert failure_count(app, "alice") == 1
    assert failure_count(app, "nobody") == 1


@pytest.mark.parametrize("username", ["bad user", "bad!user", "<script>", "a/b"])
def test_malformed_username_is_a_form_error_and_not_a_failure(testapp, app, username):
    page = login(testapp, username, "whatever password", status=400)
    assert "A username contains only letters, digits and . _ - @" in field_errors(page)
    assert "<script>" not in page.text  # echoed back escaped
    assert failure_count(app) == 0


def test_empty_username_is_a_form_error(testapp, app):
    page = login(testapp, "   ", "whatever password", status=400)
    assert field_errors(page)
    assert failure_count(app) == 0


def test_local_next_is_honoured(testapp, app):
    create_user(app, "alice")
    response = submit_login(testapp, "alice", GOOD_PASSWORD, next_path="/account/password?x=1")
    assert response.status_int == 303
    assert location_path(response) == "/account/password?x=1"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "https://evil.com",
        "javascript:alert(1)",
        "/\\evil.com",
        "http:/x",
        "///evil.com",
        "/\tevil",
        "evil.com",
    ],
)
def test_foreign_next_is_ignored(testapp, app, target):
    create_user(app, "alice")
    page = testapp.get("/login", params={"next": target})
    assert page.forms["login"]["next"].value == ""
    # also when posted directly, bypassing the page
    form = page.forms["login"]
    form["username"] = "alice"
    form["password"] = GOOD_PASSWORD
    form["next"] = target
    response = form.submit("submit")
    assert response.status_int == 303
    assert response.headers["Location"] in ("/", "http://localhost/")
    assert urlsplit(response.headers["Location"]).netloc in ("", "localhost")


@pytest.fixture
def locking_app(app_factory):
    return app_factory(**{"lockout.threshold": "3"})


def test_lockout_after_threshold_failures_says_until_when(locking_app, clock):
    app = locking_app
    create_user(app, "alice")
    client = browser(app)
    for _ in range(2):
        login(client, "alice", "wrong password!", status=403)
    locked = login(client, "alice", "wrong password!", status=429)
    # the 3rd failure (threshold 3) locks for 3 // 3 * 10 = 10 minutes from 09:00
    assert error_text(locked) == (
        "Too many failed attempts: logging in to this account is locked until 2026-01-05 09:10 UTC."
    )
    # while locked even the right password is refused, unchecked and uncounted
    again = login(client, "alice", GOOD_PASSWORD, status=429)
    assert "locked until 2026-01-05 09:10 UTC" in error_text(again)
    assert failure_count(app, "alice") == 3
    clock.advance(minutes=9)
    login(client, "alice", GOOD_PASSWORD, status=429)
    clock.advance(minutes=1)
    assert login(client, "alice", GOOD_PASSWORD).status_int == 303


def test_second_lock_doubles(locking_app, clock):
    app = locking_app
    create_user(app, "alice")
    client = browser(app)
    for _ in range(3):
        login(client, "alice", "wrong password!", status=[403, 429])
    clock.advance(minutes=10)
    for _ in range(2):
        login(client, "alice", "wrong password!", status=403)
    locked = login(client, "alice", "wrong password!", status=429)
    assert "locked until 2026-01-05 09:30 UTC" in error_text(locked)  # 09:10 + 20 minutes


def test_success_resets_the_failure_count(locking_app):
    app = locking_app
    create_user(app, "alice")
    client = browser(app)
    for _ in range(2):
        login(client, "alice", "wrong password!", status=403)
    login(client, "alice", GOOD_PASSWORD, status=303)
    logout(client)
    for _ in range(2):
        login(client, "alice", "wrong password!", status=403)
    login(client, "alice", GOOD_PASSWORD, status=303)


def test_unknown_usernames_lock_the_same_way(locking_app):
    client = browser(locking_app)
    for _ in range(2):
        login(client, "ghost", "wrong password!", status=403)
    assert "locked until" in error_text(login(client, "ghost", "wrong password!", status=429))


def test_device_cookie_keeps_the_owner_in_while_an_attacker_locks_the_name(locking_app):
    app = locking_app
    create_user(app, "alice")
    owner = browser(app, ip="192.0.2.10")
    login(owner, "alice", GOOD_PASSWORD, status=303)
    assert DEVICE_COOKIE in owner.cookies
    logout(owner)
    assert DEVICE_COOKIE in owner.cookies  # it survives logout

    attacker = browser(app, ip="203.0.113.66")
    for _ in range(2):
        login(attacker, "alice", "guess guess guess", status=403)
    login(attacker, "alice", "guess guess guess", status=429)
    assert DEVICE_COOKIE not in attacker.cookies
    login(attacker, "alice", GOOD_PASSWORD, status=429)  # untrusted clients are locked

    response = login(owner, "alice", GOOD_PASSWORD, status=303)
    assert "Signed in as alice" in response.follow().text
    lock = scalar(
        app,
        select(Lockout.locked_until).where(
            Lockout.username_key == "alice", Lockout.scope == UNTRUSTED_SCOPE
        ),
    )
    assert lock is not None  # the owner's login did not lift the attacker's lock


def test_device_that_fails_itself_is_locked_per_device(locking_app):
    app = locking_app
    create_user(app, "alice")
    owner = browser(app)
    login(owner, "alice", GOOD_PASSWORD, status=303)
    logout(owner)
    for _ in range(2):
        login(owner, "alice", "wrong password!", status=403)
    login(owner, "alice", "wrong password!", status=429)
    login(owner, "alice", GOOD_PASSWORD, status=429)
    # untrusted clients are not affected by the device's own lock
    login(browser(app, ip="198.51.100.7"), "alice", GOOD_PASSWORD, status=303)


def _tampered(cookie: str) -> str:
    last = cookie[-2]
    return cookie[:-2] + ("A" if last != "A" else "B") + cookie[-1]


def test_forged_device_cookie_counts_as_untrusted(locking_app):
    app = locking_app
    create_user(app, "alice")
    owner = browser(app)
    login(owner, "alice", GOOD_PASSWORD, status=303)
    real = owner.cookies[DEVICE_COOKIE]

    attacker = browser(app, ip="203.0.113.66")
    for _ in range(3):
        login(attacker, "alice", "guess guess guess", status=[403, 429])

    forger = browser(app, ip="203.0.113.67")
    forger.set_cookie(DEVICE_COOKIE, _tampered(real))
    login(forger, "alice", GOOD_PASSWORD, status=429)
    forger.set_cookie(DEVICE_COOKIE, "garbage")
    login(forger, "alice", GOOD_PASSWORD, status=429)


def test_device_cookie_for_another_username_counts_as_untrusted(locking_app):
    app = locking_app
    create_user(app, "alice")
    create_user(app, "mallory")
    mallory = browser(app, ip="203.0.113.66")
    login(mallory, "mallory", GOOD_PASSWORD, status=303)
    logout(mallory)
    assert DEVICE_COOKIE in mallory.cookies
    for _ in range(2):
        login(mallory, "alice", "guess guess guess", status=403)
    login(mallory, "alice", "guess guess guess", status=429)
    # the lock fell on all untrusted clients of alice, not on mallory's device
    login(browser(app, ip="198.51.100.7"), "alice", GOOD_PASSWORD, status=429)


def test_per_ip_throttle_against_password_spraying(app_factory):
    app = app_factory(**{"lockout.ip_threshold": "5"})
    create_user(app, "alice")
    sprayer = browser(app, ip="203.0.113.99")
    for number in range(6):  # more than the threshold of 5
        login(sprayer, f"user{number}", "Summer2026!!", status=403)
    throttled = login(sprayer, "alice", GOOD_PASSWORD, status=429)
    assert error_text(throttled) == (
        "Too many failed attempts from your network address: please wait until "
        "2026-01-05 09:15 UTC."
    )
    assert failure_count(app) == 6  # throttled attempts are not counted
    # another address is not affected
    login(browser(app, ip="198.51.100.7"), "alice", GOOD_PASSWORD, status=303)


def test_first_admin_must_change_password_then_set_up_two_factor(testapp, app, clock):
    ctx = app_context(app)
    created = accounts.ensure_first_admin(ctx)
    assert created is not None
    admin, one_time = created
    admin_id = admin.id
    ctx.db.commit()
    ctx.db.close()

    response = login(testapp, "admin", one_time, status=303)
    forced = response.follow(status=303)
    assert urlsplit(forced.headers["Location"]).path == "/account/password"
    page = forced.follow()
    form = page.forms["change-password"]
    labels = {
        page.html.find("label", attrs={"for": form[name].id}).get_text(strip=True)
        for name in ("current_password", "new_password", "confirm_password")
    }
    assert labels == {"Current password", "New password", "Confirm new password"}
    assert page.html.select_one("form#change-password button").get_text(strip=True) == (
        "Change password"
    )
    # nothing else is reachable meanwhile
    assert urlsplit(testapp.get("/", status=303).headers["Location"]).path == "/account/password"

    form["current_password"] = one_time
    form["new_password"] = NEW_PASSWORD
    form["confirm_password"] = NEW_PASSWORD
    done = form.submit("submit", status=303)
    assert get_user(app, admin_id).must_change_password is False
    # the default policy (mfa.required_for = admins) asks for two-factor next
    setup = done.follow(status=303)
    assert location_path(setup) == "/account/two-factor?next=%2F"
    page = setup.follow()
    secret = page.html.select_one("#two-factor-secret").get_text().replace(" ", "")
    form = page.forms["enable-two-factor"]
    form["code"] = pyotp.TOTP(secret).at(clock.now)
    codes_page = form.submit("submit", status=303).follow()
    assert len(codes_page.html.select(".recovery-codes li")) == 10
    home = codes_page.forms["codes-saved"].submit(status=303).follow()
    assert "Signed in as admin" in home.text

    logout(testapp)
    login(testapp, "admin", one_time, status=403)
    second = login(testapp, "admin", NEW_PASSWORD, status=303)
    assert location_path(second) == "/login/two-factor"
    clock.advance(seconds=30)
    form = second.follow().forms["two-factor"]
    form["code"] = pyotp.TOTP(secret).at(clock.now)
    assert "Signed in as admin" in form.submit(status=303).follow().text


def test_audit_rows_for_success_failure_and_logout(testapp, app):
    user_id = create_user(app, "alice")
    login(testapp, "alice", "wrong password!", status=403)
    login(testapp, "alice", GOOD_PASSWORD, status=303)
    logout(testapp)

    (failure,) = audit_events(app, "login_failure")
    assert failure.target_id == user_id
    assert failure.ip == "192.0.2.10"
    (success,) = audit_events(app, "login_success")
    assert success.target_id == user_id
    assert success.actor_id == user_id
    assert success.ip == "192.0.2.10"
    (logged_out,) = audit_events(app, "logout")
    assert logged_out.target_id == user_id
    assert logged_out.created_at >= success.created_at


def test_audit_row_for_unknown_username_failure(testapp, app):
    login(testapp, "Nobody", "wrong password!", status=403)
    (failure,) = audit_events(app, "login_failure")
    assert failure.target_id is None
    assert failure.target_name == "nobody"


def test_logins_clean_up_now_and_then_in_a_transaction_of_their_own(app, clock):
    create_user(app, "alice")
    old = browser(app)
    login(old, "alice", GOOD_PASSWORD, status=303)
    clock.advance(hours=13)  # past the absolute timeout: that session is dead weight
    stale = browser(app, ip="198.51.100.2")
    login(stale, "nobody", "some wrong password", status=403)  # runs the first cleanup
    assert scalar(app, select(func.count()).select_from(WebSession)) == 0
    assert failure_count(app) == 1  # the failure itself was still recorded
