"""The account centre and invite-by-mail in a real browser, end to end.

An administrator creates a user who gets a set-password link by mail; the mail
file the server wrote is read, the link opened in another browser, a password
chosen there, and the new user logs in, lands on the account centre, sets a time
zone on the profile and sees the times move, and changes the email address
through the link mailed to the new one. axe-core checks each page on the way."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from ..conftest import read_mails
from .conftest import LiveServer, accessibility_problems
from .test_phone_layout import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NEW_PASSWORD = "granite otter plays the kazoo at dawn"


def link_in_latest_mail(server_mail_dir, to: str, prefix: str) -> str:
    [mail] = [mail for mail in read_mails(server_mail_dir) if mail.to == to][-1:]
    match = re.search(r"https?://\S+(" + re.escape(prefix) + r"\S+)", mail.body)
    assert match is not None, mail.body
    return match.group(1)


def checked(page: Page) -> Page:
    assert accessibility_problems(page) == []
    return page


def test_invited_user_sets_a_password_and_uses_the_account_centre(
    browser: Browser, live_server: LiveServer, mail_dir
) -> None:
    live_server.add_user("root", password="correct horse battery staple", is_admin=True)
    admin = browser.new_context(base_url=live_server.url).new_page()
    log_in(admin, "root")
    admin.goto("/admin/users/new")
    admin.get_by_label("Username").fill("dana")
    admin.get_by_label("Email").fill("dana@example.org")
    admin.get_by_label("Mail a link to choose a password instead").check()
    admin.get_by_role("button", name="Create user").click()
    expect(admin.get_by_role("status")).to_contain_text("a link to choose a password was mailed")
    checked(admin)

    # the link, from the mail file the server wrote, in a browser of dana's own
    link = link_in_latest_mail(mail_dir, "dana@example.org", "/password/set/")
    dana = browser.new_context(base_url=live_server.url).new_page()
    dana.goto(link)
    expect(dana.get_by_role("heading", name="Choose your password")).to_be_visible()
    checked(dana)
    dana.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    dana.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    dana.get_by_role("button", name="Set password").click()
    expect(dana).to_have_url(re.compile(r"/login\?notice=password-set$"))
    dana.get_by_label("Username").fill("dana")
    dana.get_by_label("Password").fill(NEW_PASSWORD)
    dana.get_by_role("button", name="Log in", exact=True).click()
    expect(dana.get_by_text("Signed in as dana")).to_be_visible()

    # the account centre, reached from the menu by the username
    dana.get_by_role("link", name="dana", exact=True).first.click()
    expect(dana).to_have_url(re.compile(r"/account$"))
    checked(dana)
    session_time = dana.locator("#my-sessions time").first
    utc_text = session_time.inner_text()
    assert utc_text.endswith(" UTC")
    dana.get_by_role("link", name="Edit profile").click()
    dana.get_by_label("Time zone").select_option("Asia/Tokyo")
    dana.get_by_role("button", name="Save").click()
    expect(dana.get_by_role("status")).to_have_text("Your profile has been saved.")
    moved = dana.locator("#my-sessions time").first
    expect(moved).to_have_text(re.compile(r" JST$"))
    assert moved.get_attribute("title") == utc_text  # UTC on hover

    # a new address, confirmed through the link mailed to it
    dana.get_by_role("link", name="Change email address").click()
    checked(dana)
    dana.get_by_label("New email address").fill("dana@new.example.org")
    dana.get_by_role("button", name="Send link").click()
    expect(dana.get_by_role("status")).to_contain_text("We have sent a link")
    confirm = link_in_latest_mail(mail_dir, "dana@new.example.org", "/account/email/confirm/")
    dana.goto(confirm)
    dana.get_by_role("button", name="Confirm").click()
    expect(dana.get_by_role("status")).to_have_text(
        "Your email address is now dana@new.example.org."
    )
    activity = dana.locator("#recent-activity")
    expect(activity).to_contain_text("Email address changed")
    expect(activity).to_contain_text("Password chosen from a mailed link")
