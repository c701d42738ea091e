"""Self-service registration through the real pages (PRODUCT §2, §13, §15).

Every step goes through the forms a browser would use; mails are read from the
file transport and their links followed. Both databases, fake clock.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import webtest
from sqlalchemy import select

from camauth import cli
from camauth.models import User, UserStatus
from camauth.services import accounts, housekeeping

from ..conftest import GOOD_PASSWORD, TEST_SECRET, app_context, login, read_mails
from .conftest import (
    assert_no_traceback,
    audit_events,
    browser,
    create_user,
    error_text,
    field_errors,
    get_user,
)

VERIFY_PREFIX = "/register/verify/"
CONFIRM_SUBJECT = "Confirm your email address"
EXISTS_SUBJECT = "Someone tried to register with your address"
SENT_TEXT = "We have sent a link to the email address you gave"
INVALID = "Invalid username or password."
WAITING_FOR_EMAIL = (
    "Your account is waiting for you to confirm your email address: follow the link we mailed you."
)
WAITING_FOR_APPROVAL = "Your account is waiting for approval by an administrator."
RESENT = " We have sent you a new link."


@pytest.fixture
def open_app(app_factory):
    return app_factory(registration="open")


@pytest.fixture
def approval_app(app_factory):
    return app_factory(registration="approval")


def register(
    client: webtest.TestApp,
    username: str = "bob",
    email: str | None = None,
    password: str = GOOD_PASSWORD,
    confirm: str | None = None,
    status: int | str = 303,
) -> webtest.TestResponse:
    """Fill in and submit the registration form, as a person would."""
    form = client.get("/register").forms["register"]
    form["username"] = username
    form["email"] = email if email is not None else f"{username}@example.org"
    form["new_password"] = password
    form["confirm_password"] = password if confirm is None else confirm
    return form.submit("submit", status=status)


def find_user(app: Any, username: str) -> User | None:
    ctx = app_context(app)
    try:
        return accounts.find_user(ctx, username)
    finally:
        ctx.db.close()


def users(app: Any) -> list[str]:
    ctx = app_context(app)
    try:
        return sorted(ctx.db.scalars(select(User.username)))
    finally:
        ctx.db.close()


def mails_to(mail_dir: Path, address: str, subject: str | None = None) -> list[Any]:
    return [
        mail
        for mail in read_mails(mail_dir)
        if mail.to == address and (subject is None or mail.subject == subject)
    ]


def confirm_link(client: webtest.TestApp, link: str, **kw: Any) -> webtest.TestResponse:
    """Open a confirmation link and press Confirm, as the person does (the link alone
    confirms nothing)."""
    page = client.get(link, status=200)
    return page.forms["confirm-email"].submit("submit", status=kw.pop("status", 303), **kw)


def verify_link(mail_dir: Path, address: str) -> str:
    """The verification link of the newest confirmation mail to ``address``."""
    return mails_to(mail_dir, address, CONFIRM_SUBJECT)[-1].link(VERIFY_PREFIX)


@pytest.fixture
def run_cli(ini_settings, tmp_path, monkeypatch):
    """``camauth cli.ini COMMAND …`` in-process, on the database the app uses."""
    monkeypatch.delenv("CAMAUTH_DATABASE_URL", raising=False)
    monkeypatch.delenv("CAMAUTH_SECRET", raising=False)
    ini = tmp_path / "cli.ini"
    ini.write_text(
        "[app:main]\nuse = egg:camauth\n"
        f"sqlalchemy.url = {ini_settings['sqlalchemy.url']}\n"
        f"camauth.secret = {TEST_SECRET}\n"
    )
    return lambda *args: cli.run([str(ini), *args], io.StringIO(""))


# --- closed -------------------------------------------------------------------------


def test_closed_registration_has_no_page_and_no_link(testapp, app, mail_dir):
    """Default: /register is a 404 page for GET and POST, and /login offers no sign-up."""
    page = testapp.get("/register", status=404)
    assert "There is no page at this address." in page.text
    assert_no_traceback(page)
    token = testapp.get("/login").forms["login"]["csrf_token"].value
    fields = {
        "csrf_token": token,
        "username": "bob",
        "email": "bob@example.org",
        "new_password": GOOD_PASSWORD,
        "confirm_password": GOOD_PASSWORD,
    }
    response = testapp.post("/register", fields, status=404)
    assert_no_traceback(response)
    assert users(app) == []
    assert read_mails(mail_dir) == []
    login_page = testapp.get("/login")
    assert "Create an account" not in login_page.text
    assert login_page.html.find("a", href="/register") is None


@pytest.mark.parametrize("mode", ["open", "approval"])
def test_register_page_and_login_link_when_not_closed(app_factory, mode):
    """open and approval: /login links to /register, whose form has the promised labels."""
    client = browser(app_factory(registration=mode))
    link = client.get("/login").html.find("a", string="Create an account")
    assert link is not None and link["href"] == "/register"
    page = client.get("/register")
    form = page.forms["register"]
    labels = [label.get_text(" ", strip=True) for label in page.html.select("form label")]
    for wanted in ("Username", "Email", "New password", "Confirm new password"):
        assert any(label.startswith(wanted) for label in labels), labels
    assert form["new_password"].attrs["type"] == "password"
    assert form["confirm_password"].attrs["type"] == "password"
    assert page.html.find("button", string=lambda s: s and s.strip() == "Register")


# --- open: end to end ------------------------------------------------------------------


def test_open_registration_end_to_end(open_app, mail_dir):
    """Register, read the mail, follow the link, log in and reach the home page."""
    client = browser(open_app)
    response = register(client, "bob", "bob@example.org")
    assert response.headers["Location"].endswith("/register?sent=1")
    assert SENT_TEXT in response.follow().text
    user = find_user(open_app, "bob")
    assert user.status == UserStatus.PENDING_EMAIL.value

    [mail] = read_mails(mail_dir)
    assert (mail.to, mail.subject) == ("bob@example.org", CONFIRM_SUBJECT)
    assert "Hello bob," in mail.body
    assert "within 24 hours" in mail.body

    link = mail.link(VERIFY_PREFIX)
    # the link's page only asks: a mail scanner fetching it confirms nothing
    asked = client.get(link, status=200)
    assert "bob@example.org" in asked.text
    assert get_user(open_app, user.id).status == UserStatus.PENDING_EMAIL.value
    verified = confirm_link(client, link)
    assert verified.headers["Location"].endswith("/login?notice=email-verified")
    notice = verified.follow()
    assert "Your email address is confirmed. You can log in now." in notice.text
    assert get_user(open_app, user.id).status == UserStatus.ACTIVE.value

    home = login(client, "bob", GOOD_PASSWORD, status=303).follow()
    assert "Signed in as bob" in home.text
    assert [e.ip for e in audit_events(open_app, "user_registered")] == ["192.0.2.10"]
    assert [e.target_id for e in audit_events(open_app, "email_verified")] == [user.id]


def test_verification_link_is_single_use_and_expires(open_app, mail_dir, clock):
    """A used link is 410, an unknown one 404, and one past verify_hours 410."""
    client = browser(open_app)
    register(client, "bob")
    register(client, "carol")
    bob_link = verify_link(mail_dir, "bob@example.org")
    carol_link = verify_link(mail_dir, "carol@example.org")
    confirm_link(client, bob_link)

    used = client.get(bob_link, status=410)
    assert "This link was already used" in used.text
    assert_no_traceback(used)
    unknown = client.get(VERIFY_PREFIX + "A" * 43, status=404)
    assert "This link is not valid" in unknown.text

    clock.advance(hours=24)
    expired = client.get(carol_link, status=410)
    assert "This link has expired" in expired.text
    assert find_user(open_app, "carol").status == UserStatus.PENDING_EMAIL.value
    assert len(audit_events(open_app, "email_verified")) == 1


def test_link_just_before_expiry_still_works(open_app, mail_dir, clock):
    """The mail promises verify_hours, and the link keeps that promise to the end."""
    client = browser(open_app)
    register(client, "bob")
    clock.advance(hours=23, minutes=59)
    confirm_link(client, verify_link(mail_dir, "bob@example.org"))
    assert find_user(open_app, "bob").status == UserStatus.ACTIVE.value


# --- approval -------------------------------------------------------------------------


def test_approval_flow_with_the_command_line(approval_app, run_cli, mail_dir):
    """approval: the link leads to 'awaiting approval'; `camauth approve` lets them in."""
    client = browser(approval_app)
    register(client, "bob")
    verified = confirm_link(client, verify_link(mail_dir, "bob@example.org"))
    assert verified.headers["Location"].endswith("/login?notice=awaiting-approval")
    assert "An administrator will now review your account" in verified.follow().text
    assert find_user(approval_app, "bob").status == UserStatus.PENDING_APPROVAL.value

    page = login(client, "bob", GOOD_PASSWORD, status=403)
    assert error_text(page) == WAITING_FOR_APPROVAL
    assert len(read_mails(mail_dir)) == 1  # nothing to resend: the address is confirmed

    assert run_cli("approve", "bob") == 0
    assert find_user(approval_app, "bob").status == UserStatus.ACTIVE.value
    [approved] = audit_events(approval_app, "user_approved")
    assert approved.actor_name == "system"
    assert "Signed in as bob" in login(client, "bob", GOOD_PASSWORD, status=303).follow().text


def test_approve_command_refuses_an_active_user(approval_app, run_cli, capsys):
    """`approve` on someone not waiting fails with one line and changes nothing."""
    create_user(approval_app, "carol")
    capsys.readouterr()
    code = run_cli("approve", "carol")
    err = capsys.readouterr().err
    assert code != 0
    assert "not waiting for approval" in err and len(err.splitlines()) == 1
    assert audit_events(approval_app, "user_approved") == []


def test_approval_by_the_service_then_login(approval_app, mail_dir):
    """accounts.approve (as the admin console would call it) activates the account."""
    client = browser(approval_app)
    register(client, "bob")
    confirm_link(client, verify_link(mail_dir, "bob@example.org"))
    ctx = app_context(approval_app)
    try:
        accounts.approve(ctx, accounts.find_user(ctx, "bob"))
        ctx.db.commit()
    finally:
        ctx.db.close()
    assert "Signed in as bob" in login(client, "bob", GOOD_PASSWORD, status=303).follow().text


def test_approval_before_the_email_is_confirmed(approval_app, mail_dir):
    """An administrator may approve early; the later click is spent and harmless."""
    client = browser(approval_app)
    register(client, "bob")
    ctx = app_context(approval_app)
    try:
        accounts.approve(ctx, accounts.find_user(ctx, "bob"))
        ctx.db.commit()
    finally:
        ctx.db.close()
    confirm_link(client, verify_link(mail_dir, "bob@example.org"))
    assert find_user(approval_app, "bob").status == UserStatus.ACTIVE.value
    assert "Signed in as bob" in login(client, "bob", GOOD_PASSWORD, status=303).follow().text


# --- refusals on the form ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username": "bad name"}, "A username contains only letters, digits and . _ - @"),
        ({"username": "system"}, "The username 'system' is reserved."),
        ({"email": "not-an-address"}, "Enter an email address such as name@example.org."),
        ({"email": ""}, "Required"),
        ({"username": ""}, "Required"),
        ({"password": "short pass"}, "Use at least 12 characters"),
        ({"password": "bob the builder rocks"}, "Do not use your username in your password."),
        (
            {"email": "quietrobert@example.org", "password": "quietrobert wins gold"},
            "Do not use your email address in your password.",
        ),
        ({"password": "password1234"}, "commonly used and leaked passwords"),
        ({"password": "aaaaaaaaaaaaaaaa"}, "This password would be very easy to guess."),
        ({"password": "p" * 1025}, "Use at most 1024 characters."),
        ({"confirm": "correct horse battery stapler"}, "The two new passwords do not match."),
    ],
)
def test_every_refusal_is_a_clear_form_error(open_app, mail_dir, fields, message):
    """Each kind of bad input gets a 400 form with its message; nothing is created or mailed."""
    client = browser(open_app)
    page = register(client, **{"username": "bob", **fields}, status=400)
    assert_no_traceback(page)
    shown = [error_text(page), *field_errors(page)]
    assert any(message in text for text in shown), shown
    assert page.forms["register"]  # the form is there to try again
    assert users(open_app) == []
    assert read_mails(mail_dir) == []


def test_refused_form_keeps_names_but_not_passwords(open_app):
    """After a refusal the person need not retype names; passwords are never echoed."""
    client = browser(open_app)
    page = register(client, "bob", "bob@example.org", password="short pass", status=400)
    form = page.forms["register"]
    assert (form["username"].value, form["email"].value) == ("bob", "bob@example.org")
    assert form["new_password"].value == "" and form["confirm_password"].value == ""
    assert "short pass" not in page.text


@pytest.mark.parametrize("taken", ["alice", "ALICE", "Alice"])
def test_taken_username(open_app, mail_dir, taken):
    """A username that exists in any case is refused openly (usernames are not secret)."""
    create_user(open_app, "alice", email="alice@example.org")
    page = register(browser(open_app), taken, "new@example.org", status=400)
    assert error_text(page) == "That username is already taken."
    assert users(open_app) == ["alice"]
    assert read_mails(mail_dir) == []


# --- an address that already has an account ----------------------------------------------


def test_existing_address_is_answered_like_a_new_one(open_app, mail_dir):
    """Same status, Location and page, and the same state: each name is reserved by a
    pending sign-up; only the owner gets a notice, and no link exists for carol."""
    create_user(open_app, "alice", email="alice@example.org")
    fresh = register(browser(open_app, ip="192.0.2.21"), "bob", "bob@example.org")
    taken = register(browser(open_app, ip="192.0.2.22"), "carol", "Alice@Example.org")
    assert taken.status_int == fresh.status_int == 303
    assert taken.headers["Location"] == fresh.headers["Location"]
    assert taken.follow().text == fresh.follow().text

    assert users(open_app) == ["alice", "bob", "carol"]
    registered = [event.target_name for event in audit_events(open_app, "user_registered")]
    assert sorted(registered) == ["bob", "carol"]
    # trying either name again is answered alike: the address told nothing
    for name in ("bob", "carol"):
        again = register(browser(open_app, ip="192.0.2.23"), name, "x@example.net", status=400)
        assert "That username is already taken." in again.text
    [notice] = mails_to(mail_dir, "alice@example.org")
    assert notice.subject == EXISTS_SUBJECT
    assert 'belongs to your account "alice"' in notice.body
    assert notice.link("/password/forgot") == "/password/forgot"
    assert VERIFY_PREFIX not in notice.body
    assert [m.subject for m in mails_to(mail_dir, "bob@example.org")] == [CONFIRM_SUBJECT]


def test_existing_address_refusals_are_those_of_a_new_one(open_app, mail_dir):
    """A weak password is refused the same way whether or not the address is taken."""
    create_user(open_app, "alice", email="alice@example.org")
    new = register(browser(open_app), "bob", "bob@example.org", "short pass", status=400)
    old = register(browser(open_app), "bob", "alice@example.org", "short pass", status=400)
    assert error_text(new) == error_text(old)
    assert read_mails(mail_dir) == []


@pytest.mark.parametrize("username", ["\uff42\uff4f\uff42", "\uff22\uff2f\uff22"])
def test_existing_address_refusals_use_the_name_the_account_would_get(open_app, username):
    """A fullwidth 'bob' is stored as 'bob': a password containing 'bob' is refused either
    way, or the answer would tell whether the address has an account."""
    create_user(open_app, "alice", email="alice@example.org")
    password = "bobsled racing team"
    new = register(browser(open_app), username, "new@example.org", password, status=400)
    assert error_text(new) == "Do not use your username in your password."
    old = register(browser(open_app), username, "alice@example.org", password, status="*")
    assert old.status_int == new.status_int
    assert error_text(old) == error_text(new)


def test_notices_to_an_owner_stop_after_the_hourly_limit(open_app, mail_dir):
    """The answer stays the same, but the owner's inbox is not flooded."""
    create_user(open_app, "alice", email="alice@example.org")
    for number in range(5):
        response = register(browser(open_app), f"bob{number}", "alice@example.org")
        assert response.headers["Location"].endswith("/register?sent=1")
    assert len(mails_to(mail_dir, "alice@example.org", EXISTS_SUBJECT)) == 3
    assert users(open_app) == ["alice", "bob4"]  # each sign-up ended the one before


NO_AT_IN_USERNAME = "Choose a username without @: your email address goes below."


def test_a_username_with_at_is_refused_the_same_for_every_address(open_app):
    """A sign-up username shaped like an address would be an oracle for which addresses
    have accounts ("taken" or not): every such name gets the same refusal."""
    create_user(open_app, "alice", email="alice@example.org")
    for name in ("alice@example.org", "nobody@example.org"):
        response = register(browser(open_app), name, "new@example.net", status=400)
        assert error_text(response) == NO_AT_IN_USERNAME
    assert users(open_app) == ["alice"]


def test_a_username_that_is_someones_address_cannot_divert_their_recovery(open_app, mail_dir):
    """Registering the name 'alice@example.org' must not capture Alice's password recovery."""
    create_user(open_app, "alice", email="alice@example.org")
    mallory = browser(open_app, ip="203.0.113.66")
    response = register(mallory, "alice@example.org", "mallory@example.net", status="*")
    if response.status_int == 303:  # allowed to register: then recovery must still be Alice's
        confirm_link(mallory, verify_link(mail_dir, "mallory@example.net"))
    else:
        assert response.status_int == 400
        # refused for every address alike: whether it is taken would tell whether
        # that address has an account
        assert error_text(response) == NO_AT_IN_USERNAME
    alice = browser(open_app)
    form = alice.get("/password/forgot").forms["forgot-password"]
    form["login"] = "alice@example.org"
    form.submit("submit", status=303)
    resets = [m.to for m in read_mails(mail_dir) if m.subject == "Reset your password"]
    assert resets == ["alice@example.org"]


# --- pending accounts at the login page --------------------------------------------------


def test_pending_email_login_messages_and_resent_link(open_app, mail_dir):
    """Wrong password: generic. Right password: told to confirm, and a new link is mailed."""
    client = browser(open_app)
    register(client, "bob")
    wrong = login(client, "bob", "not the password at all", status=403)
    assert error_text(wrong) == INVALID
    assert len(read_mails(mail_dir)) == 1

    right = login(client, "bob", GOOD_PASSWORD, status=403)
    assert error_text(right) == WAITING_FOR_EMAIL + RESENT
    assert right.forms["login"]["password"].value == ""
    confirmations = mails_to(mail_dir, "bob@example.org", CONFIRM_SUBJECT)
    assert len(confirmations) == 2
    first, second = (mail.link(VERIFY_PREFIX) for mail in confirmations)
    assert first != second
    client.get(first, status=410)  # superseded by the newer link
    confirm_link(client, second)
    assert "Signed in as bob" in login(client, "bob", GOOD_PASSWORD, status=303).follow().text


def test_expired_link_page_advice_sends_a_new_link(open_app, mail_dir, clock):
    """The expired-link page tells the person to log in for a new link; that must work."""
    client = browser(open_app)
    register(client, "bob")
    clock.advance(hours=25)
    page = client.get(verify_link(mail_dir, "bob@example.org"), status=410)
    assert "logging in with your password sends you a new link" in " ".join(page.text.split())
    right = login(client, "bob", GOOD_PASSWORD, status=403)
    assert error_text(right) == WAITING_FOR_EMAIL + RESENT
    confirm_link(client, verify_link(mail_dir, "bob@example.org"))
    assert find_user(open_app, "bob").status == UserStatus.ACTIVE.value


def test_link_resent_before_expiry_keeps_the_account_through_cleanup(open_app, mail_dir, clock):
    """A link resent on the last day keeps the account while the login's clean-up runs;
    each new link voids the ones before it."""
    client = browser(open_app)
    register(client, "bob")
    clock.advance(hours=23)
    login(client, "bob", GOOD_PASSWORD, status=403)
    resent = verify_link(mail_dir, "bob@example.org")
    clock.advance(hours=7)  # the first link expired; the login below runs the clean-up
    page = login(client, "bob", GOOD_PASSWORD, status=403)
    assert error_text(page) == WAITING_FOR_EMAIL + RESENT
    client.get(resent, status=410)  # superseded by the link that login just mailed
    confirm_link(client, verify_link(mail_dir, "bob@example.org"))
    assert "Signed in as bob" in login(client, "bob", GOOD_PASSWORD, status=303).follow().text


def test_resent_links_are_limited(open_app, mail_dir):
    """After the hourly mail limit the message no longer promises a link, and none is sent."""
    client = browser(open_app)
    register(client, "bob")
    messages = [error_text(login(client, "bob", GOOD_PASSWORD, status=403)) for _ in range(4)]
    assert messages == [WAITING_FOR_EMAIL + RESENT] * 2 + [WAITING_FOR_EMAIL] * 2
    assert len(mails_to(mail_dir, "bob@example.org", CONFIRM_SUBJECT)) == 3


def test_pending_login_in_another_case_resends_to_the_registered_address(open_app, mail_dir):
    """The resend goes to the registered address, whatever case the name is typed in."""
    client = browser(open_app)
    register(client, "Bob", "Bob@Example.org")
    page = login(client, "BOB", GOOD_PASSWORD, status=403)
    assert error_text(page) == WAITING_FOR_EMAIL + RESENT
    assert [m.to for m in read_mails(mail_dir)] == ["Bob@Example.org"] * 2


# --- disabled users ----------------------------------------------------------------------


def disable(app: Any, username: str) -> None:
    ctx = app_context(app)
    try:
        accounts.set_status(ctx, accounts.find_user(ctx, username), UserStatus.DISABLED)
        ctx.db.commit()
    finally:
        ctx.db.close()


def test_disabled_users_session_ends_at_once_and_login_is_refused(open_app, mail_dir):
    """A registered user who is disabled is out on the next request and cannot come back."""
    client = browser(open_app)
    register(client, "bob")
    confirm_link(client, verify_link(mail_dir, "bob@example.org"))
    login(client, "bob", GOOD_PASSWORD, status=303)
    assert "Signed in as bob" in client.get("/").text

    disable(open_app, "bob")
    response = client.get("/", status=303)
    assert "/login" in response.headers["Location"]
    page = login(client, "bob", GOOD_PASSWORD, status=403)
    assert error_text(page) == INVALID
    assert len(audit_events(open_app, "user_disabled")) == 1


def test_disabled_pending_registration_gets_no_new_link(open_app, mail_dir):
    """Disabling an unconfirmed account stops it: generic error, no link mailed."""
    client = browser(open_app)
    register(client, "bob")
    disable(open_app, "bob")
    page = login(client, "bob", GOOD_PASSWORD, status=403)
    assert error_text(page) == INVALID
    assert len(read_mails(mail_dir)) == 1
    confirm_link(client, verify_link(mail_dir, "bob@example.org"))
    assert find_user(open_app, "bob").status == UserStatus.DISABLED.value


# --- limits and clean-up ------------------------------------------------------------------


def test_too_many_registrations_from_one_address_get_a_429_page(open_app, mail_dir):
    """The 11th registration in an hour from one address is refused openly."""
    client = browser(open_app, ip="198.51.100.40")
    for number in range(10):
        register(client, f"user{number}")
    page = register(client, "oneTooMany", status=429)
    assert_no_traceback(page)
    assert "Too many requests" in page.text
    assert "try again after 2026-01-05 10:00 UTC" in page.text
    assert find_user(open_app, "oneTooMany") is None
    assert len(read_mails(mail_dir)) == 10
    register(browser(open_app, ip="198.51.100.41"), "oneTooMany")  # another address may


def test_cleanup_removes_unconfirmed_registrations(open_app, mail_dir, clock):
    """A week after its link expired an unconfirmed account is deleted (audited) and the
    name is free."""
    client = browser(open_app)
    register(client, "bob")
    register(client, "carol")
    confirm_link(client, verify_link(mail_dir, "carol@example.org"))
    clock.advance(hours=24, days=7)
    ctx = app_context(open_app)
    try:
        counts = housekeeping.cleanup(ctx)
        ctx.db.commit()
    finally:
        ctx.db.close()
    assert counts["unverified registrations"] == 1
    assert users(open_app) == ["carol"]
    assert [e.target_name for e in audit_events(open_app, "user_deleted")] == ["bob"]
    register(client, "bob")  # the name and the address may be used again


def test_closing_registration_stops_links_waiting_for_confirmation(app_factory, mail_dir):
    """A sign-up made while registration was open cannot become active once it is
    closed (confirming under ``closed`` would skip the approval it once needed)."""
    approval = app_factory(registration="approval")
    register(browser(approval), "bob")
    link = verify_link(mail_dir, "bob@example.org")
    closed = app_factory(registration="closed")
    browser(closed).get(link, status=404)
    assert find_user(closed, "bob").status == UserStatus.PENDING_EMAIL.value
    # and logging in with the password mails no new link while closed
    page = login(browser(closed), "bob", GOOD_PASSWORD, status=403)
    assert RESENT.strip() not in page.text
    assert len(read_mails(mail_dir)) == 1


# --- someone else's address -------------------------------------------------------------


def test_a_sign_up_with_someone_elses_address_does_not_block_them(open_app, mail_dir):
    """Mallory signs up with Bob's address first: Bob's own sign-up ends hers, her
    link stops working, and Bob's works."""
    register(browser(open_app, ip="203.0.113.66"), "mallory", "bob@example.org")
    [squatter_link] = [m.link(VERIFY_PREFIX) for m in mails_to(mail_dir, "bob@example.org")]
    bob = browser(open_app)
    assert register(bob, "bob", "bob@example.org").status_int == 303
    assert users(open_app) == ["bob"]
    browser(open_app, ip="203.0.113.66").get(squatter_link, status=404)
    confirm_link(bob, verify_link(mail_dir, "bob@example.org"))
    assert "Signed in as bob" in login(bob, "bob", GOOD_PASSWORD, status=303).follow().text


def test_a_sign_up_with_an_owners_address_leaves_their_recovery_alone(open_app, mail_dir):
    create_user(open_app, "alice", email="alice@example.org")
    register(browser(open_app, ip="203.0.113.66"), "mallory", "alice@example.org")
    client = browser(open_app)
    form = client.get("/password/forgot").forms["forgot-password"]
    form["login"] = "alice@example.org"
    form.submit("submit", status=303)
    subjects = [m.subject for m in mails_to(mail_dir, "alice@example.org")]
    assert subjects == [EXISTS_SUBJECT, "Reset your password"]


def test_confirming_needs_the_form_and_its_token(open_app, mail_dir):
    client = browser(open_app)
    register(client, "bob")
    link = verify_link(mail_dir, "bob@example.org")
    refused = client.post(link, {}, status=400)  # no CSRF token: a forged POST
    assert "Form expired" in refused.text
    assert find_user(open_app, "bob").status == UserStatus.PENDING_EMAIL.value
    confirm_link(client, link)
    assert find_user(open_app, "bob").status == UserStatus.ACTIVE.value
