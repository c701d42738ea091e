"""Recent authentication in the console (PRODUCT §8, §9): the changes that touch
someone's credentials (a new user, a password reset, removing two-factor, granting
administrator rights, a hardware token) ask the administrator for their password
(and code) again once their last authentication is older than
``camauth.reauth_minutes``; then they come back and carry on. Other actions
(unlock, disable, end sessions) do not ask."""

from __future__ import annotations

from typing import Any

import pytest
import webtest
from sqlalchemy import select

from camauth.models import TwoFactorCredential

from ..conftest import GOOD_PASSWORD
from .admin_helpers import (
    ADMIN,
    NEW_USER,
    OTHER_PASSWORD,
    REAUTH,
    admin_browser,
    console_app,
    find_user,
    is_reauth_redirect,
    make_admin,
    user_path,
)
from .conftest import (
    all_rows,
    assert_no_traceback,
    audit_events,
    browser,
    create_user,
    error_text,
    get_user,
    location,
    logged_in,
    session_rows,
    submit_login,
)
from .two_factor_helpers import REAUTH_REFUSED, Token, enrol, log_in_with_code

STALE = 6  # minutes: past reauth_minutes (5), well within the idle timeout (30)
TOKEN_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def console(app_factory):
    return console_app(app_factory)


@pytest.fixture
def root(console):
    return make_admin(console)


@pytest.fixture
def alice(console):
    return create_user(console, "alice", email="alice@example.org")


@pytest.fixture
def admin(console, root):
    return admin_browser(console)


def reauthenticate(
    client: webtest.TestApp,
    asked: webtest.TestResponse,
    password: str = GOOD_PASSWORD,
    code: str | None = None,
    status: int | str = 303,
) -> webtest.TestResponse:
    """Follow a redirect to the re-authentication page and fill it in."""
    page = client.get(location(asked), status=200)
    form = page.forms["reauthenticate"]
    form["password"] = password
    if code is not None:
        form["code"] = code
    return form.submit("submit", status=status)


def two_factor_of(app: Any, user_id: int) -> list[TwoFactorCredential]:
    return all_rows(app, select(TwoFactorCredential).where(TwoFactorCredential.user_id == user_id))


# --- pages asked for after a while: re-authenticate, then the page ----------------------


@pytest.mark.parametrize(
    "action", ["reset-password", "hardware-token", "remove-two-factor", "grant-admin"]
)
def test_credential_pages_ask_again_when_authentication_is_old(
    admin, console, alice, clock, action
):
    enrol(console, alice, clock)
    target = user_path(alice, action)
    admin.get(target, status=200)  # fresh from the login: no question
    clock.advance(minutes=STALE)
    asked = admin.get(target, status=303)
    assert is_reauth_redirect(asked, target)
    back = reauthenticate(admin, asked)
    assert location(back) == target
    page = admin.get(target, status=200)
    assert page.forms  # the form of the page itself now


def test_new_user_page_asks_again(admin, console, clock):
    clock.advance(minutes=STALE)
    asked = admin.get(NEW_USER, status=303)
    assert is_reauth_redirect(asked, NEW_USER)
    assert location(reauthenticate(admin, asked)) == NEW_USER
    form = admin.get(NEW_USER, status=200).forms["new-user"]
    form["username"] = "dave"
    form["temporary_password"] = OTHER_PASSWORD
    form.submit("submit", status=303)
    assert find_user(console, "dave") is not None


def test_a_new_user_form_sent_too_late_asks_first_and_creates_nobody(admin, console, clock):
    form = admin.get(NEW_USER, status=200).forms["new-user"]
    form["username"] = "dave"
    form["is_admin"] = True
    clock.advance(minutes=STALE)
    asked = form.submit("submit", status=303)
    assert is_reauth_redirect(asked, NEW_USER)
    assert find_user(console, "dave") is None
    assert [event.target_name for event in audit_events(console, "user_created")] == [ADMIN]
    # after confirming, the form is there to send again
    assert location(reauthenticate(admin, asked)) == NEW_USER
    form = admin.get(NEW_USER, status=200).forms["new-user"]
    form["username"] = "dave"
    form.submit("submit", status=303)  # to the user page, which shows its password
    assert find_user(console, "dave") is not None


def test_reset_password_sent_too_late_asks_first(admin, console, alice, clock):
    form = admin.get(user_path(alice, "reset-password"), status=200).forms["reset-password"]
    form["temporary_password"] = OTHER_PASSWORD
    clock.advance(minutes=STALE)
    asked = form.submit("submit", status=303)
    assert is_reauth_redirect(asked, user_path(alice, "reset-password"))
    assert audit_events(console, "password_reset") == []
    assert submit_login(browser(console), "alice", GOOD_PASSWORD).status_int == 303
    back = reauthenticate(admin, asked)
    form = admin.get(location(back), status=200).forms["reset-password"]
    form["temporary_password"] = OTHER_PASSWORD
    form["force_change"] = False
    form.submit("submit", status=303)
    assert location(submit_login(browser(console), "alice", OTHER_PASSWORD)) == "/"
    [reset] = audit_events(console, "password_reset")
    assert reset.actor_name == ADMIN


@pytest.mark.parametrize("action", ["remove-two-factor", "grant-admin"])
def test_confirmed_credential_action_sent_too_late_asks_first(admin, console, alice, clock, action):
    enrol(console, alice, clock)
    form = admin.get(user_path(alice, action), status=200).forms[f"confirm-{action}"]
    clock.advance(minutes=STALE)
    asked = form.submit("submit", status=303)
    assert is_reauth_redirect(asked, user_path(alice, action))
    assert len(two_factor_of(console, alice)) == 1
    assert not get_user(console, alice).is_admin
    back = reauthenticate(admin, asked)
    assert location(back) == user_path(alice, action)
    page = admin.get(location(back), status=200)
    page.forms[f"confirm-{action}"].submit("submit", status=303)
    if action == "grant-admin":
        assert get_user(console, alice).is_admin
    else:
        assert two_factor_of(console, alice) == []


def test_hardware_token_sent_too_late_asks_first(admin, console, alice, clock):
    token = Token(TOKEN_SECRET, clock, period=30, algorithm="sha1")
    form = admin.get(user_path(alice, "hardware-token"), status=200).forms["hardware-token"]
    form["secret"] = TOKEN_SECRET
    clock.advance(minutes=STALE)
    form["code"] = token.now()
    asked = form.submit("submit", status=303)
    assert is_reauth_redirect(asked, user_path(alice, "hardware-token"))
    assert two_factor_of(console, alice) == []
    reauthenticate(admin, asked)
    form = admin.get(user_path(alice, "hardware-token"), status=200).forms["hardware-token"]
    form["secret"] = TOKEN_SECRET
    form["code"] = token.now()
    form.submit("submit", status=303)
    assert [c.kind for c in two_factor_of(console, alice)] == ["hardware"]


def test_a_wrong_password_does_not_re_authenticate(admin, console, alice, clock):
    clock.advance(minutes=STALE)
    asked = admin.get(user_path(alice, "reset-password"), status=303)
    refused = reauthenticate(admin, asked, password="not my password at all", status=403)
    assert_no_traceback(refused)
    assert error_text(refused)
    # still asked
    again = admin.get(user_path(alice, "reset-password"), status=303)
    assert location(again).startswith(REAUTH)


def test_re_authentication_lasts_reauth_minutes(admin, console, alice, clock):
    target = user_path(alice, "reset-password")
    clock.advance(minutes=STALE)
    reauthenticate(admin, admin.get(target, status=303))
    clock.advance(minutes=4, seconds=59)
    admin.get(target, status=200)
    clock.advance(seconds=1)
    assert is_reauth_redirect(admin.get(target, status=303), target)


def test_reauth_minutes_is_a_setting(app_factory, clock):
    app = console_app(app_factory, reauth_minutes="10")
    make_admin(app)
    alice = create_user(app, "alice")
    admin = admin_browser(app)
    clock.advance(minutes=9)
    admin.get(user_path(alice, "reset-password"), status=200)
    clock.advance(minutes=2)
    admin.get(user_path(alice, "reset-password"), status=303)


# --- actions that change no credentials do not ask ----------------------------------------


def test_unlock_disable_and_end_sessions_do_not_ask(admin, console, root, alice, clock):
    [own] = session_rows(console, root)
    logged_in(console, "alice")
    # a wrong password: something for Unlock to clear (unlocking nothing records nothing)
    submit_login(browser(console, ip="203.0.113.66"), "alice", "a wrong guess", status=403)
    clock.advance(minutes=STALE)
    page = admin.get(user_path(alice), status=200)
    unlock = next(f for f in page.forms.values() if f.action == user_path(alice, "unlock"))
    assert location(unlock.submit(status=303)) == user_path(alice)
    [unlocked] = audit_events(console, "unlock")
    assert unlocked.actor_name == ADMIN
    clock.advance(minutes=STALE)
    page = admin.get(user_path(alice, "end-sessions"), status=200)
    assert location(page.forms["confirm-end-sessions"].submit("submit", status=303)) == (
        user_path(alice)
    )
    assert session_rows(console, alice) == []
    clock.advance(minutes=STALE)
    page = admin.get(user_path(alice, "disable"), status=200)
    page.forms["confirm-disable"].submit("submit", status=303)
    assert get_user(console, alice).status == "disabled"
    # the administrator's session is the same one throughout (18 minutes, touched)
    admin.get("/admin", status=200)
    assert [row.id for row in session_rows(console, root)] == [own.id]


def test_force_change_does_not_ask(admin, console, alice, clock):
    clock.advance(minutes=STALE)
    page = admin.get(user_path(alice), status=200)
    button = next(
        f for f in page.forms.values() if f.action == user_path(alice, "force-password-change")
    )
    button.submit(status=303)
    assert get_user(console, alice).must_change_password


def test_edit_asks_again_since_the_address_decides_where_reset_links_go(
    admin, console, alice, clock, mail_dir
):
    target = user_path(alice, "edit")
    form = admin.get(target, status=200).forms["edit-user"]
    clock.advance(minutes=STALE)
    # a new full name alone is no credential: saved without asking
    form["full_name"] = "Alice L."
    form.submit("submit", status=303)
    assert get_user(console, alice).full_name == "Alice L."
    # a new address is: asked first, nothing saved
    form = admin.get(target, status=303)
    assert is_reauth_redirect(form, target)
    back = reauthenticate(admin, form)
    assert location(back) == target
    form = admin.get(target, status=200).forms["edit-user"]
    clock.advance(minutes=STALE)
    form["email"] = "mallory@example.org"
    asked = form.submit("submit", status=303)
    assert is_reauth_redirect(asked, target)
    assert get_user(console, alice).email == "alice@example.org"
    reauthenticate(admin, asked)
    form = admin.get(target, status=200).forms["edit-user"]
    form["email"] = "alice.l@example.org"
    form.submit("submit", status=303)
    assert get_user(console, alice).email == "alice.l@example.org"


# --- with the default policy: the administrator has two-factor; password and code -------------


def test_with_two_factor_reauth_needs_password_and_code(app_factory, clock):
    app = app_factory()  # mfa.required_for = admins
    root = make_admin(app)
    alice = create_user(app, "alice")
    # an administrator without two-factor is sent to set it up, console or not
    unenrolled = logged_in(app, ADMIN)
    assert location(unenrolled.get("/admin", status=303)).startswith("/account/two-factor")
    device, _ = enrol(app, root, clock)
    admin = browser(app)
    assert location(log_in_with_code(admin, ADMIN, device)) == "/"
    target = user_path(alice, "reset-password")
    admin.get(target, status=200)
    clock.advance(minutes=STALE)
    asked = admin.get(target, status=303)
    assert is_reauth_redirect(asked, target)
    page = admin.get(location(asked), status=200)
    assert "code" in page.forms["reauthenticate"].fields
    # the password alone is not enough
    refused = reauthenticate(admin, asked, code="", status=400)
    assert_no_traceback(refused)
    refused = reauthenticate(admin, asked, code=device.not_now(), status=403)
    assert error_text(refused) == REAUTH_REFUSED
    admin.get(target, status=303)
    back = reauthenticate(admin, asked, code=device.next())
    assert location(back) == target
    form = admin.get(target, status=200).forms["reset-password"]
    form["temporary_password"] = OTHER_PASSWORD
    form["force_change"] = False
    form.submit("submit", status=303)
    assert location(submit_login(browser(app), "alice", OTHER_PASSWORD)) == "/"
