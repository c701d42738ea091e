"""Forgotten password through the real pages (PRODUCT §3, §15): ask, get a mail, reset."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from camauth.models import UserStatus
from camauth.services import accounts

from ..conftest import GOOD_PASSWORD, app_context, login, read_mails
from .conftest import (
    assert_no_traceback,
    audit_events,
    browser,
    create_user,
    error_text,
    field_errors,
    get_user,
    session_rows,
)

FORGOT = "/password/forgot"
SENT = "/password/forgot?sent=1"
RESET = "/password/reset/"
NEW_PASSWORD = "granite otter plays the kazoo at dawn"
CHANGED_NOTICE = "Your password has been changed. Log in with your new password."
SENT_TEXT = "If an account with that username or email address exists"


def location_path(response) -> str:
    parts = urlsplit(response.headers["Location"])
    return parts.path + (f"?{parts.query}" if parts.query else "")


def ask_for_link(client, login_value: str, **kw):
    """Fill in and submit the forgot-password form."""
    form = client.get(FORGOT).forms["forgot-password"]
    form["login"] = login_value
    return form.submit("submit", **kw)


def reset_links(mail_dir) -> list[str]:
    return [
        mail.link(RESET) for mail in read_mails(mail_dir) if mail.subject == "Reset your password"
    ]


def mailed_link(client, mail_dir, login_value: str = "alice") -> str:
    """Ask for a link and return the path of the one it mailed."""
    before = len(reset_links(mail_dir))
    assert ask_for_link(client, login_value).status_int == 303
    links = reset_links(mail_dir)
    assert len(links) == before + 1
    return links[-1]


def set_new_password(client, link: str, password: str = NEW_PASSWORD, confirm=None, **kw):
    form = client.get(link).forms["reset-password"]
    form["new_password"] = password
    form["confirm_password"] = password if confirm is None else confirm
    return form.submit("submit", **kw)


def label_of(page, form, name: str) -> str:
    return page.html.find("label", attrs={"for": form[name].id}).get_text(strip=True)


@pytest.fixture
def alice(app) -> int:
    return create_user(app, "alice", email="alice@example.org")


# --- the pages -----------------------------------------------------------------------


def test_login_page_links_to_the_forgot_password_page(testapp):
    """People find recovery from the login page."""
    page = testapp.get("/login")
    link = page.html.find("a", string=lambda s: s and "Forgot your password?" in s)
    assert link is not None and link["href"] == FORGOT


def test_forgot_page_has_the_documented_label_and_button(testapp):
    """One field labelled "Username or email" and a submit button."""
    page = testapp.get(FORGOT)
    assert page.status_int == 200
    form = page.forms["forgot-password"]
    assert {"login", "csrf_token"} <= set(form.fields)
    assert label_of(page, form, "login") == "Username or email"
    assert page.html.select_one("form#forgot-password button[type=submit]") is not None
    assert SENT_TEXT not in page.text


def test_reset_page_has_the_documented_labels(app, testapp, alice, mail_dir):
    """The link opens a form with New password and Confirm new password, naming the account."""
    page = testapp.get(mailed_link(testapp, mail_dir))
    assert page.status_int == 200
    form = page.forms["reset-password"]
    assert label_of(page, form, "new_password") == "New password"
    assert label_of(page, form, "confirm_password") == "Confirm new password"
    assert form["new_password"].attrs["type"] == "password"
    assert form["confirm_password"].attrs["type"] == "password"
    assert "alice" in page.html.select_one("main, body").get_text()


# --- the whole flow ------------------------------------------------------------------


def test_whole_flow_from_request_to_login(app, testapp, alice, mail_dir):
    """Ask, get the mail, choose a password, see the notice, log in with the new password."""
    response = ask_for_link(testapp, "alice")
    assert response.status_int == 303
    assert location_path(response) == SENT
    sent_page = response.follow()
    assert SENT_TEXT in sent_page.text
    [mail] = read_mails(mail_dir)
    assert mail.to == "alice@example.org"
    assert mail.subject == "Reset your password"
    assert "within 30 minutes" in mail.body
    link = mail.link(RESET)
    assert len(link) > len(RESET) + 40

    done = set_new_password(testapp, link)
    assert done.status_int == 303
    assert location_path(done) == "/login?notice=password-changed"
    login_page = done.follow()
    assert CHANGED_NOTICE in login_page.text
    assert "Signed in as" not in login_page.text  # recovery does not log the person in
    assert session_rows(app) == []

    changed = read_mails(mail_dir)[-1]
    assert (changed.to, changed.subject) == ("alice@example.org", "Your password was changed")
    assert FORGOT in changed.body

    login(testapp, "alice", GOOD_PASSWORD, status=403)
    response = login(testapp, "alice", NEW_PASSWORD, status=303)
    assert "Signed in as alice" in response.follow().text


def test_reset_is_audited(app, testapp, alice, mail_dir):
    """password_reset_requested (mailed true/false) and password_reset (via email)."""
    ask_for_link(testapp, "nobody")
    set_new_password(testapp, mailed_link(testapp, mail_dir), status=303)
    requested = audit_events(app, "password_reset_requested")
    assert [(e.target_id, e.details) for e in requested] == [
        (None, {"mailed": False}),
        (alice, {"mailed": True}),
    ]
    assert requested[0].ip == "192.0.2.10"
    [reset] = audit_events(app, "password_reset")
    assert (reset.target_id, reset.details, reset.actor_id) == (alice, {"via": "email"}, alice)


def test_reset_by_email_address(app, testapp, alice, mail_dir):
    """The email address works as well as the username, case-insensitively."""
    link = mailed_link(testapp, mail_dir, "Alice@Example.org")
    set_new_password(testapp, link, status=303)
    login(testapp, "alice", NEW_PASSWORD, status=303)


def test_reset_clears_a_forced_password_change(app, testapp, mail_dir):
    """After recovery the person is not asked to change the password yet again."""
    user_id = create_user(app, "alice", email="alice@example.org", must_change_password=True)
    set_new_password(testapp, mailed_link(testapp, mail_dir), status=303)
    assert get_user(app, user_id).must_change_password is False
    response = login(testapp, "alice", NEW_PASSWORD, status=303)
    assert location_path(response) == "/"


def test_reset_ends_every_session_of_the_user(app, alice, mail_dir):
    """Browsers logged in before the reset (e.g. an attacker's) are logged out."""
    other = browser(app, ip="203.0.113.66")
    login(other, "alice", GOOD_PASSWORD, status=303)
    assert "Signed in as alice" in other.get("/").text
    assert len(session_rows(app, alice)) == 1
    person = browser(app)
    set_new_password(person, mailed_link(person, mail_dir), status=303)
    assert session_rows(app, alice) == []
    response = other.get("/", status=303)
    assert location_path(response).startswith("/login")


def test_reset_leaves_other_users_sessions_alone(app, alice, mail_dir):
    """Only the recovering user's sessions end."""
    create_user(app, "bob")
    bob = browser(app, ip="192.0.2.11")
    login(bob, "bob", GOOD_PASSWORD, status=303)
    person = browser(app)
    set_new_password(person, mailed_link(person, mail_dir), status=303)
    assert "Signed in as bob" in bob.get("/").text


def test_recovering_while_logged_in_logs_that_browser_out(app, testapp, alice, mail_dir):
    """The browser that resets is not left logged in with the old session either."""
    login(testapp, "alice", GOOD_PASSWORD, status=303)
    set_new_password(testapp, mailed_link(testapp, mail_dir), status=303)
    assert testapp.get("/", status=303)
    assert session_rows(app) == []


# --- the same answer whatever the account ---------------------------------------------


def answer_of(app, ip: str, login_value: str) -> dict:
    """What a client sees for a request: status, Location, headers, and the page it goes to."""
    client = browser(app, ip=ip)
    response = ask_for_link(client, login_value)
    followed = client.get(location_path(response))
    return {
        "status": response.status_int,
        "location": response.headers.get("Location"),
        "header names": sorted({name.lower() for name in response.headers}),
        "headers": sorted(
            (name.lower(), value)
            for name, value in response.headers.items()
            if name.lower() not in ("set-cookie", "date")
        ),
        "body": response.text,
        "followed status": followed.status_int,
        "followed text": followed.html.get_text(" ", strip=True),
    }


@pytest.mark.parametrize(
    ("existing", "unknown"),
    [
        ("alice", "nobody"),
        ("alice@example.org", "nobody@example.org"),
        ("alice", "alice@example.org"),
        ("bob-no-email", "nobody"),
        ("carol-disabled", "nobody"),
        ("alice", "x" * 254),
    ],
)
def test_answer_is_identical_for_existing_and_unknown_accounts(app, mail_dir, existing, unknown):
    """Nothing in the answer tells whether the account exists or a mail went out."""
    create_user(app, "alice", email="alice@example.org")
    create_user(app, "bob-no-email")
    create_user(app, "carol-disabled", email="carol@example.org", status=UserStatus.DISABLED)
    first = answer_of(app, "192.0.2.21", existing)
    second = answer_of(app, "192.0.2.22", unknown)
    assert first == second
    assert first["status"] == 303
    assert urlsplit(first["location"]).path == FORGOT
    assert urlsplit(first["location"]).query == "sent=1"
    assert SENT_TEXT in first["followed text"]


def test_answer_is_identical_when_the_account_has_had_its_mails(app, alice, mail_dir):
    """Past the per-account limit the answer is still the same 303; only the mail stops."""
    client = browser(app)
    answers = []
    for _ in range(4):
        response = ask_for_link(client, "alice")
        answers.append((response.status_int, response.headers["Location"]))
    assert len(set(answers)) == 1
    assert len(reset_links(mail_dir)) == 3
    assert [e.details["mailed"] for e in audit_events(app, "password_reset_requested")] == [
        True,
        True,
        True,
        False,
    ]


def test_account_gets_mail_again_after_the_hour(app, alice, mail_dir, clock):
    """The per-account limit is per hour."""
    client = browser(app)
    for _ in range(4):
        ask_for_link(client, "alice")
    assert len(reset_links(mail_dir)) == 3
    clock.advance(hours=1, seconds=1)
    ask_for_link(client, "alice")
    assert len(reset_links(mail_dir)) == 4


@pytest.mark.parametrize("status", [UserStatus.DISABLED, UserStatus.PENDING_APPROVAL])
def test_inactive_accounts_get_no_mail(app, testapp, mail_dir, status):
    """Accounts that cannot log in are not sent a link."""
    create_user(app, "alice", email="alice@example.org", status=status)
    response = ask_for_link(testapp, "alice")
    assert location_path(response) == SENT
    assert read_mails(mail_dir) == []


def test_account_without_email_gets_no_mail(app, testapp, mail_dir):
    """An account with no address gets the usual answer and no mail."""
    create_user(app, "alice")
    assert location_path(ask_for_link(testapp, "alice")) == SENT
    assert read_mails(mail_dir) == []


# --- link problems -------------------------------------------------------------------


def assert_link_problem(response, status: int, title: str) -> None:
    assert response.status_int == status
    assert response.html.find("h1").get_text(strip=True) == title
    assert response.html.find("a", href=FORGOT) is not None  # says what to do now
    assert_no_traceback(response)


def test_used_link_says_so(app, testapp, alice, mail_dir):
    """Opening or posting a used link gives 410 "This link was already used"."""
    link = mailed_link(testapp, mail_dir)
    form = testapp.get(link).forms["reset-password"]
    set_new_password(testapp, link, status=303)
    assert_link_problem(testapp.get(link, status=410), 410, "This link was already used")
    form["new_password"] = form["confirm_password"] = "another fine passphrase here"
    reused = form.submit("submit", status=410)
    assert_link_problem(reused, 410, "This link was already used")
    assert "works only once" in reused.text
    login(testapp, "alice", NEW_PASSWORD, status=303)


def test_expired_link_says_so(app, testapp, alice, mail_dir, clock):
    """At 29:59 the link opens; at 30:00 it is 410 "This link has expired", also on submit."""
    link = mailed_link(testapp, mail_dir)
    clock.advance(minutes=29, seconds=59)
    form = testapp.get(link, status=200).forms["reset-password"]
    clock.advance(seconds=1)
    assert_link_problem(testapp.get(link, status=410), 410, "This link has expired")
    form["new_password"] = form["confirm_password"] = NEW_PASSWORD
    response = form.submit("submit", status=410)
    assert_link_problem(response, 410, "This link has expired")
    assert "limited time" in response.text
    login(testapp, "alice", GOOD_PASSWORD, status=303)


def test_forged_link_is_not_valid(app, testapp, alice, mail_dir):
    """A link we did not send is 404 "This link is not valid", for GET and POST."""
    link = mailed_link(testapp, mail_dir)
    forged = link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB")
    assert_link_problem(testapp.get(forged, status=404), 404, "This link is not valid")
    csrf = testapp.get(FORGOT).forms["forgot-password"]["csrf_token"].value
    fields = {"csrf_token": csrf, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    response = testapp.post(forged, fields, status=404)
    assert_link_problem(response, 404, "This link is not valid")
    assert "copied incompletely" in response.text
    set_new_password(testapp, link, status=303)  # the real one still works


def test_submit_after_a_newer_reset_voids_the_link(app, alice, mail_dir):
    """An older link becomes "used" once the password was reset through a newer one."""
    client = browser(app)
    first = mailed_link(client, mail_dir)
    second = mailed_link(client, mail_dir)
    set_new_password(client, second, status=303)
    assert_link_problem(client.get(first, status=410), 410, "This link was already used")


def test_other_password_change_voids_the_link(app, alice, mail_dir, testapp):
    """An administrator's reset (accounts.set_password) voids a mailed link."""
    link = mailed_link(testapp, mail_dir)
    ctx = app_context(app)
    try:
        accounts.set_password(ctx, accounts.find_user(ctx, "alice"), NEW_PASSWORD)
        ctx.db.commit()
    finally:
        ctx.db.close()
    assert_link_problem(testapp.get(link, status=410), 410, "This link was already used")


def test_link_of_a_disabled_account_is_not_valid(app, testapp, alice, mail_dir):
    """Disabling the account after the mail went out makes its link useless."""
    link = mailed_link(testapp, mail_dir)
    ctx = app_context(app)
    try:
        accounts.set_status(ctx, accounts.find_user(ctx, "alice"), UserStatus.DISABLED)
        ctx.db.commit()
    finally:
        ctx.db.close()
    assert_link_problem(testapp.get(link, status=404), 404, "This link is not valid")


# --- the new password ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "Use at least 12 characters"),
        ("password1234", "commonly used and leaked passwords"),
        ("alice in wonderland 77", "Do not use your username in your password."),
    ],
)
def test_refused_password_keeps_the_link_usable(app, testapp, alice, mail_dir, password, message):
    """A policy refusal is a 400 with the policy's message; the link can be used again."""
    link = mailed_link(testapp, mail_dir)
    page = set_new_password(testapp, link, password, status=400)
    assert message in error_text(page)
    assert_no_traceback(page)
    assert "reset-password" in page.forms
    assert audit_events(app, "password_reset") == []
    login(testapp, "alice", GOOD_PASSWORD, status=303)
    set_new_password(testapp, link, status=303)
    login(testapp, "alice", NEW_PASSWORD, status=303)


def test_mismatched_confirmation_keeps_the_link_usable(app, testapp, alice, mail_dir):
    """Two different passwords: a form error on the confirmation field, nothing changes."""
    link = mailed_link(testapp, mail_dir)
    page = set_new_password(testapp, link, NEW_PASSWORD, "something else entirely", status=400)
    assert "The two new passwords do not match." in field_errors(page)
    assert_no_traceback(page)
    set_new_password(testapp, link, status=303)


def test_refused_password_is_not_shown_back(app, testapp, alice, mail_dir):
    """The refused password is not echoed into the page."""
    link = mailed_link(testapp, mail_dir)
    page = set_new_password(testapp, link, "alice secret words", status=400)
    assert "alice secret words" not in page.text


# --- lockout -------------------------------------------------------------------------


@pytest.fixture
def locking_app(app_factory):
    return app_factory(**{"lockout.threshold": "3"})


def test_locked_out_account_can_recover_and_log_in(locking_app, mail_dir):
    """An attacker's wrong passwords lock the account; recovery still works and unlocks it."""
    app = locking_app
    user_id = create_user(app, "alice", email="alice@example.org")
    attacker = browser(app, ip="203.0.113.66")
    for _ in range(2):
        login(attacker, "alice", "wrong password!", status=403)
    login(attacker, "alice", "wrong password!", status=429)
    person = browser(app)
    assert "locked until" in error_text(login(person, "alice", GOOD_PASSWORD, status=429))

    set_new_password(person, mailed_link(person, mail_dir), status=303)
    response = login(person, "alice", NEW_PASSWORD, status=303)
    assert "Signed in as alice" in response.follow().text
    assert [e.target_id for e in audit_events(app, "unlock")] == [user_id]


def test_refused_password_while_locked_out_keeps_the_lock(locking_app, mail_dir):
    """Only a successful reset unlocks; a refused password changes nothing."""
    app = locking_app
    create_user(app, "alice", email="alice@example.org")
    person = browser(app)
    for _ in range(3):
        login(person, "alice", "wrong password!", status=[403, 429])
    set_new_password(person, mailed_link(person, mail_dir), "short", status=400)
    login(person, "alice", GOOD_PASSWORD, status=429)


# --- rate limit ----------------------------------------------------------------------


def test_too_many_requests_from_one_address(app, alice, mail_dir, clock):
    """The 11th request in an hour from one address is a clear 429 saying until when."""
    client = browser(app, ip="203.0.113.66")
    for n in range(10):
        assert ask_for_link(client, f"nobody{n}").status_int == 303
        clock.advance(minutes=1)
    refused = ask_for_link(client, "alice", status=429)
    assert refused.html.find("h1").get_text(strip=True) == "Too many requests"
    assert error_text(refused) == (
        "There have been too many requests from your network address. "
        "Please try again after 2026-01-05 10:00 UTC."
    )
    assert_no_traceback(refused)
    assert read_mails(mail_dir) == []

    other = browser(app, ip="198.51.100.7")
    assert location_path(ask_for_link(other, "alice")) == SENT
    assert len(reset_links(mail_dir)) == 1

    clock.advance(minutes=50)  # 10:00, the first request has left the hour
    assert location_path(ask_for_link(client, "alice")) == SENT
    assert len(reset_links(mail_dir)) == 2


def test_rate_limit_page_is_the_same_for_any_account(app, alice, mail_dir):
    """Over the limit, existing and unknown accounts get the same 429."""
    client = browser(app, ip="203.0.113.66")
    for n in range(10):
        ask_for_link(client, f"nobody{n}")
    existing = ask_for_link(client, "alice", status=429)
    unknown = ask_for_link(client, "nobody", status=429)
    assert existing.html.get_text(" ", strip=True) == unknown.html.get_text(" ", strip=True)
    assert read_mails(mail_dir) == []
