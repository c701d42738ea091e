"""Invite by mail: an administrator creates a user, or resets a password, and a
single-use link (valid ``password.invite_hours``, default 72) lets the person
choose their own password. New accounts get a welcome mail naming the site and
the username (never a password)."""

from __future__ import annotations

import pytest

from camauth.models import UserStatus
from camauth.services import accounts

from ..conftest import GOOD_PASSWORD, app_context, read_mails
from .admin_helpers import admin_browser, console_app, make_admin, user_path
from .conftest import (
    assert_no_traceback,
    audit_events,
    browser,
    create_user,
    error_text,
    flashes,
    get_user,
    location,
    logged_in,
    session_rows,
    submit_login,
)

SET = "/password/set/"
NEW_PASSWORD = "granite otter plays the kazoo at dawn"


@pytest.fixture
def console(app_factory):
    return console_app(app_factory, site_name="Research Portal")


@pytest.fixture
def admin(console):
    make_admin(console)
    return admin_browser(console)


def create(admin, *, send_link: bool, email: str = "dana@example.org", status: int = 303):
    form = admin.get("/admin/users/new", status=200).forms["new-user"]
    form["username"] = "dana"
    form["email"] = email
    form["full_name"] = "Dana Example"
    if send_link:
        form["send_link"] = True
    return form.submit("submit", status=status)


def choose_password(client, link: str, password: str = NEW_PASSWORD, status: int = 303):
    form = client.get(link, status=200).forms["set-password"]
    form["new_password"] = password
    form["confirm_password"] = password
    return form.submit("submit", status=status)


def test_a_new_user_gets_a_welcome_mail_with_a_link_and_chooses_a_password(
    console, admin, mail_dir
):
    response = create(admin, send_link=True)
    page = admin.get(location(response))
    assert flashes(page) == [
        "dana was created; a link to choose a password was mailed to dana@example.org."
    ]
    assert "Temporary password" not in page.text  # none was made, none is shown
    [mail] = read_mails(mail_dir)
    assert mail.subject == "Welcome to Research Portal"
    assert "Your username is: dana" in mail.body and "72 hours" in mail.body
    user = get_user(console, get_user_id(console, "dana"))
    assert user.password_hash is None
    # before the link is used nobody can log in as dana
    submit_login(browser(console), "dana", "", status="4*")
    visitor = browser(console)
    answer = choose_password(visitor, mail.link(SET))
    assert location(answer) == "/login?notice=password-set"
    assert "Your password is set. Log in with it now." in visitor.get(location(answer)).text
    login = submit_login(browser(console), "dana", NEW_PASSWORD, status=303)
    assert location(login) == "/"
    assert [e.event for e in audit_events(console, "invitation_used")] == ["invitation_used"]
    # the link works once
    again = browser(console).get(mail.link(SET), status=410)
    assert "This link was already used" in again.text
    assert "Ask your administrator to send a new link" in again.text


def get_user_id(app, username: str) -> int:
    ctx = app_context(app)
    try:
        user = accounts.find_user(ctx, username)
        assert user is not None
        return user.id
    finally:
        ctx.db.close()


def test_a_new_user_with_a_temporary_password_gets_a_welcome_without_it(console, admin, mail_dir):
    create(admin, send_link=False)
    [mail] = read_mails(mail_dir)
    assert mail.subject == "Welcome to Research Portal"
    assert "Your username is: dana" in mail.body
    assert "another way than mail" in mail.body and SET not in mail.body


def test_a_link_needs_an_email_address(console, admin, mail_dir):
    response = create(admin, send_link=True, email="", status=400)
    assert "Enter the email address the link goes to" in error_text(response)
    assert_no_traceback(response)
    assert read_mails(mail_dir) == []


def test_a_reset_by_link_takes_the_old_password_away_at_once(console, admin, mail_dir):
    alice = create_user(console, "alice", email="alice@example.org")
    alice_browser = logged_in(console, "alice")
    page = admin.get(user_path(alice, "reset-password"), status=200)
    form = page.forms["reset-password"]
    form["send_link"] = True
    response = form.submit("submit", status=303)
    assert "a link to choose a new one was mailed to alice@example.org" in " ".join(
        flashes(admin.get(location(response)))
    )
    assert session_rows(console, alice) == []
    assert alice_browser.get("/account", status=303)  # logged out
    submit_login(browser(console), "alice", GOOD_PASSWORD, status="4*")  # the old one is gone
    [mail] = read_mails(mail_dir)
    assert mail.subject == "Choose a new password"
    assert "has reset the password of your" in mail.body
    # a second submit of the same form (back button) does nothing more
    form.submit("submit", status=303)
    assert len(read_mails(mail_dir)) == 1
    choose_password(browser(console), mail.link(SET))
    submit_login(browser(console), "alice", NEW_PASSWORD, status=303)


def test_a_newer_link_voids_the_older_one(console, admin, mail_dir):
    alice = create_user(console, "alice", email="alice@example.org")
    for _ in range(2):
        form = admin.get(user_path(alice, "reset-password")).forms["reset-password"]
        form["send_link"] = True
        form.submit("submit", status=303)
    first, second = read_mails(mail_dir)
    assert browser(console).get(first.link(SET), status=410).status_int == 410
    choose_password(browser(console), second.link(SET))


def test_the_link_expires_after_the_invite_hours(console, admin, mail_dir, clock):
    create(admin, send_link=True)
    [mail] = read_mails(mail_dir)
    clock.advance(hours=71)
    assert browser(console).get(mail.link(SET), status=200)
    clock.advance(hours=2)
    assert "This link has expired" in browser(console).get(mail.link(SET), status=410).text


def test_invite_hours_is_a_setting(app_factory, mail_dir, clock):
    console = console_app(app_factory, **{"password.invite_hours": "2"})
    make_admin(console)
    create(admin_browser(console), send_link=True)
    [mail] = read_mails(mail_dir)
    assert "within 2 hours" in mail.body
    clock.advance(hours=3)
    browser(console).get(mail.link(SET), status=410)


def test_a_refused_password_keeps_the_link(console, admin, mail_dir):
    create(admin, send_link=True)
    [mail] = read_mails(mail_dir)
    client = browser(console)
    refused = choose_password(client, mail.link(SET), "dana", status=400)
    assert_no_traceback(refused)
    choose_password(client, mail.link(SET))


@pytest.mark.parametrize("token", ["x", "a" * 500, "%C3%BCn%C3%AFcode"])
def test_forged_links_are_not_valid(console, token):
    response = browser(console).get(SET + token, status=404)
    assert "This link is not valid" in response.text


def test_a_disabled_account_cannot_use_its_link(console, admin, mail_dir):
    create(admin, send_link=True)
    [mail] = read_mails(mail_dir)
    ctx = app_context(console)
    try:
        accounts.set_status(ctx, accounts.find_user(ctx, "dana"), UserStatus.DISABLED)
        ctx.db.commit()
    finally:
        ctx.db.close()
    browser(console).get(mail.link(SET), status=404)


def test_an_invitation_dies_when_the_account_gets_a_password_another_way(console, admin, mail_dir):
    create(admin, send_link=True)
    [mail] = read_mails(mail_dir)
    dana = get_user_id(console, "dana")
    form = admin.get(user_path(dana, "reset-password")).forms["reset-password"]
    form["temporary_password"] = "amber kettle orbit sixty lanterns"
    form.submit("submit", status=303)
    response = browser(console).get(mail.link(SET), status=410)
    assert "This link was already used" in response.text
