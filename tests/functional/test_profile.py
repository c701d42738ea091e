"""The person's own profile (full name, time zone) and a change of email address,
made only when a link mailed to the new address is followed."""

from __future__ import annotations

import pytest

from camauth.settings import SettingsError, parse_settings

from ..conftest import TEST_SECRET, read_mails
from .admin_helpers import table_rows
from .conftest import (
    assert_no_traceback,
    audit_events,
    browser,
    create_user,
    error_text,
    field_errors,
    flashes,
    get_user,
    logged_in,
)

PROFILE = "/account/profile"
EMAIL = "/account/email"
CONFIRM = "/account/email/confirm/"
RECENT = 5  # minutes: within reauth_minutes


@pytest.fixture
def alice(app) -> int:
    return create_user(app, "alice", full_name="Alice Example", email="alice@example.org")


def save_profile(client, status=303, **values: str):
    form = client.get(PROFILE, status=200).forms["profile"]
    for name, value in values.items():
        form[name] = value
    return form.submit("submit", status=status)


def test_profile_saves_full_name_and_time_zone(app, alice):
    client = logged_in(app)
    save_profile(client, full_name="  Alice   Q.  Example ", time_zone="Europe/Berlin")
    user = get_user(app, alice)
    assert (user.full_name, user.time_zone) == ("Alice Q. Example", "Europe/Berlin")
    page = client.get("/account")
    assert "Your profile has been saved." in flashes(page)
    [event] = audit_events(app, "profile_edited")
    assert event.details == {
        "full_name": ["Alice Example", "Alice Q. Example"],
        "time_zone": [None, "Europe/Berlin"],
    }
    # saving again unchanged writes nothing new
    save_profile(client)
    assert len(audit_events(app, "profile_edited")) == 1


def test_times_are_shown_in_the_viewers_zone_with_utc_on_hover(app, alice, clock):
    client = logged_in(app)  # the clock stands at 2026-01-05 09:00 UTC
    save_profile(client, time_zone="Europe/Berlin")
    page = client.get("/account")
    cell = page.html.select_one("#my-sessions time")
    assert cell.get_text() == "2026-01-05 10:00 CET"
    assert cell["title"] == "2026-01-05 09:00 UTC"
    assert cell["datetime"].startswith("2026-01-05T09:00")


def test_the_sites_zone_is_the_default(app_factory):
    app = app_factory(timezone="America/New_York")
    create_user(app, "alice")
    page = logged_in(app).get("/account")
    assert page.html.select_one("#my-sessions time").get_text() == "2026-01-05 04:00 EST"
    assert "America/New_York" in page.html.select_one("#profile").get_text()


@pytest.mark.parametrize("value", ["Mars/Olympus", "../../etc/passwd", "Europe/Berlin\x00", ""])
def test_a_bad_site_time_zone_stops_start_up_with_one_line(value):
    with pytest.raises(SettingsError, match=r"^camauth\.timezone: expected a time zone name"):
        parse_settings({"camauth.secret": TEST_SECRET, "camauth.timezone": value})


@pytest.mark.parametrize(
    ("time_zone", "full_name", "message"),
    [
        ("Mars/Olympus", "Alice", "is not one of"),
        ("UTC", "x" * 201, "at most 200 characters"),
        ("UTC", "Al\x00ice", "control characters"),
    ],
)
def test_bad_profile_values_are_refused_at_the_field(app, alice, time_zone, full_name, message):
    client = logged_in(app)
    page = client.get(PROFILE).forms["profile"]
    fields = {
        "csrf_token": page["csrf_token"].value,
        "full_name": full_name,
        "time_zone": time_zone,
    }
    response = client.post(PROFILE, fields, status=400)
    assert message in (" ".join(field_errors(response)) + error_text(response))
    assert_no_traceback(response)
    assert get_user(app, alice).full_name == "Alice Example"


def test_profile_post_without_csrf_is_refused(app, alice):
    client = logged_in(app)
    response = client.post(PROFILE, {"full_name": "Mallory"}, status=400)
    assert_no_traceback(response)
    assert get_user(app, alice).full_name == "Alice Example"


def ask_for_new_address(client, address: str, status: int = 303):
    form = client.get(EMAIL, status=200).forms["email"]
    form["email"] = address
    return form.submit("submit", status=status)


def mails_to(mail_dir, address: str):
    return [mail for mail in read_mails(mail_dir) if mail.to == address]


def test_email_change_takes_effect_when_the_link_is_followed(app, alice, mail_dir):
    client = logged_in(app)
    ask_for_new_address(client, "alice@new.example.org")
    page = client.get("/account")
    assert flashes(page) == [
        "We have sent a link to alice@new.example.org. Your address changes when you follow it."
    ]
    assert "Waiting for you to follow the link mailed to alice@new.example.org" in page.text
    assert get_user(app, alice).email == "alice@example.org"  # not yet
    [link_mail] = mails_to(mail_dir, "alice@new.example.org")
    [notice] = mails_to(mail_dir, "alice@example.org")
    assert "alice@new.example.org" in notice.body and CONFIRM not in notice.body
    link = link_mail.link(CONFIRM)
    # opening the link (a mail scanner does) changes nothing; pressing Confirm does
    confirm_page = browser(app).get(link, status=200)
    assert "alice@new.example.org" in confirm_page.text
    assert get_user(app, alice).email == "alice@example.org"
    other_browser = browser(app)
    form = other_browser.get(link).forms["confirm-email-change"]
    response = form.submit("submit", status=303)
    assert response.headers["Location"].endswith("/login?notice=email-changed")
    user = get_user(app, alice)
    assert (user.email, user.unconfirmed_email) == ("alice@new.example.org", None)
    [event] = audit_events(app, "email_changed")
    assert event.details == {"email": ["alice@example.org", "alice@new.example.org"]}
    # a second press, a replayed link: it says so, nothing changes again
    replay = form.submit("submit", status=410)
    assert "This link was already used" in replay.text
    assert len(audit_events(app, "email_changed")) == 1


def test_the_person_logged_in_is_sent_back_to_the_account(app, alice, mail_dir):
    client = logged_in(app)
    ask_for_new_address(client, "alice@new.example.org")
    link = mails_to(mail_dir, "alice@new.example.org")[0].link(CONFIRM)
    response = client.get(link).forms["confirm-email-change"].submit("submit", status=303)
    assert response.headers["Location"].endswith("/account")
    assert "Your email address is now alice@new.example.org." in flashes(client.get("/account"))


def test_an_address_another_account_has_gets_a_notice_not_a_link(app, alice, mail_dir):
    create_user(app, "bob", email="bob@example.org")
    client = logged_in(app)
    ask_for_new_address(client, "BOB@example.org")
    # the same answer as for a free address: nothing tells whether it is registered
    assert flashes(client.get("/account")) == [
        "We have sent a link to BOB@example.org. Your address changes when you follow it."
    ]
    [mail] = mails_to(mail_dir, "BOB@example.org")
    assert CONFIRM not in mail.body and "another account there already uses it" in mail.body
    # the pages say the same as for a free address; only no link exists
    waiting = "Waiting for you to follow the link mailed to BOB@example.org"
    assert waiting in client.get("/account").text
    assert "A link was mailed to BOB@example.org" in client.get(EMAIL).text


def test_an_address_taken_before_the_link_is_followed_is_refused(app, alice, mail_dir):
    client = logged_in(app)
    ask_for_new_address(client, "shared@example.org")
    link = mails_to(mail_dir, "shared@example.org")[0].link(CONFIRM)
    create_user(app, "carol", email="shared@example.org")
    response = client.get(link).forms["confirm-email-change"].submit("submit", status=409)
    assert "now belongs to another account" in response.text
    assert get_user(app, alice).email == "alice@example.org"


def test_a_newer_request_voids_the_older_link(app, alice, mail_dir):
    client = logged_in(app)
    ask_for_new_address(client, "first@example.org")
    ask_for_new_address(client, "second@example.org")
    old = mails_to(mail_dir, "first@example.org")[0].link(CONFIRM)
    assert client.get(old, status=410).status_int == 410
    new = mails_to(mail_dir, "second@example.org")[0].link(CONFIRM)
    client.get(new).forms["confirm-email-change"].submit("submit", status=303)
    assert get_user(app, alice).email == "second@example.org"


def test_the_link_expires(app, alice, mail_dir, clock):
    client = logged_in(app)
    ask_for_new_address(client, "late@example.org")
    link = mails_to(mail_dir, "late@example.org")[0].link(CONFIRM)
    clock.advance(hours=25)  # registration.verify_hours: 24
    assert "This link has expired" in browser(app).get(link, status=410).text


def test_an_old_login_must_show_the_password_again(app, alice, clock):
    client = logged_in(app)
    clock.advance(minutes=RECENT + 1)
    response = client.get(EMAIL, status=303)
    assert "/account/reauthenticate?next=%2Faccount%2Femail" in response.headers["Location"]


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("", "Required"),
        ("not-an-address", "such as name@example.org"),
        ("alice@example.org", "already your email address"),
        ("ALICE@example.org", "already your email address"),
        ("a" * 300 + "@example.org", "at most 254 characters"),
    ],
)
def test_bad_addresses_are_refused_with_a_clear_message(app, alice, mail_dir, address, message):
    client = logged_in(app)
    response = ask_for_new_address(client, address, status=400)
    assert message in (" ".join(field_errors(response)) + error_text(response))
    assert_no_traceback(response)
    assert read_mails(mail_dir) == []


@pytest.mark.parametrize("token", ["x", "a" * 500, "%00", "%C3%BCn%C3%AFcode"])
def test_forged_links_are_not_valid(app, alice, token):
    response = browser(app).get(CONFIRM + token, status=404)
    assert "This link is not valid" in response.text
    assert_no_traceback(response)


def test_recent_activity_lists_the_change(app, alice, mail_dir):
    client = logged_in(app)
    ask_for_new_address(client, "alice@new.example.org")
    rows = table_rows(client.get("/account"), "recent-activity")
    assert rows[0][1] == "New email address asked for"


def test_mails_for_address_changes_are_limited_per_hour(app, alice, mail_dir, clock):
    client = logged_in(app)
    for n in range(3):  # camauth.mail.account_limit_per_hour
        ask_for_new_address(client, f"new{n}@example.org")
    refused = ask_for_new_address(client, "new3@example.org", status=400)
    assert "Too many mails were asked for this hour" in error_text(refused)
    assert mails_to(mail_dir, "new3@example.org") == []
    clock.advance(minutes=61)
    client = logged_in(app)  # a fresh login: the change needs a recent one
    ask_for_new_address(client, "new3@example.org")
    assert len(mails_to(mail_dir, "new3@example.org")) == 1


def test_a_changed_address_voids_every_link_mailed_to_the_old_one(app, alice, mail_dir):
    reset = browser(app).get("/password/forgot").forms["forgot-password"]
    reset["login"] = "alice"
    reset.submit("submit", status=303)
    [reset_mail] = mails_to(mail_dir, "alice@example.org")
    client = logged_in(app)
    ask_for_new_address(client, "alice@new.example.org")
    link = mails_to(mail_dir, "alice@new.example.org")[0].link(CONFIRM)
    client.get(link).forms["confirm-email-change"].submit("submit", status=303)
    assert browser(app).get(reset_mail.link("/password/reset/"), status=410).status_int == 410
