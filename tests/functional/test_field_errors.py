"""Form errors are said at the field they are about, the way screen readers find
them: the field ``aria-invalid`` and ``aria-describedby`` its message (and its
help text), no generic "there was a problem" banner; email fields are
``type=email``; every field's ``autocomplete`` tells password managers what it is."""

from __future__ import annotations

import pytest

from .admin_helpers import admin_browser, console_app, make_admin
from .conftest import browser, create_user, logged_in

BANNER_WORDS = ("There was a problem", "Errors have been highlighted")


def field(page, name: str):
    node = page.html.select_one(f'[name="{name}"]:not([type="hidden"])')
    assert node is not None, name
    return node


def described_by(page, name: str) -> list[str]:
    """The texts the field ``name`` points at with aria-describedby, in order."""
    ids = (field(page, name).get("aria-describedby") or "").split()
    return [page.html.select_one(f"#{ident}").get_text(" ", strip=True) for ident in ids]


def assert_no_banner(page) -> None:
    for words in BANNER_WORDS:
        assert words not in page.text


def test_an_empty_login_field_is_marked_and_described(app):
    client = browser(app)
    form = client.get("/login").forms["login"]
    form["username"] = ""
    form["password"] = "whatever it is"
    page = form.submit("submit", status=400)
    username = field(page, "username")
    assert username["aria-invalid"] == "true"
    assert described_by(page, "username") == ["Required"]
    # the message sits right under its field
    message = page.html.select_one(f"#{username['aria-describedby']}")
    assert "invalid-feedback" in message["class"] and "d-block" in message["class"]
    assert message.find_previous("input") is username
    assert not field(page, "password").has_attr("aria-invalid")
    assert_no_banner(page)


def test_fields_without_errors_are_not_marked(app):
    page = browser(app).get("/login")
    for name in ("username", "password"):
        assert not field(page, name).has_attr("aria-invalid")
    assert field(page, "username")["autocomplete"] == "username"
    assert field(page, "password")["autocomplete"] == "current-password"


def test_mismatched_new_passwords_are_told_at_the_confirmation(app):
    create_user(app, "alice")
    client = logged_in(app)
    form = client.get("/account/password").forms["change-password"]
    form["current_password"] = "correct horse battery staple"
    form["new_password"] = "granite otter plays the kazoo at dawn"
    form["confirm_password"] = "granite otter plays the kazoo at noon"
    page = form.submit("submit", status=400)
    assert field(page, "confirm_password")["aria-invalid"] == "true"
    assert described_by(page, "confirm_password") == ["The two new passwords do not match."]
    assert not field(page, "new_password").has_attr("aria-invalid")
    # the password rules are the new password's description, read with the field
    rules = described_by(page, "new_password")
    assert len(rules) == 1 and "12 characters" in rules[0]
    assert field(page, "new_password")["autocomplete"] == "new-password"
    assert_no_banner(page)


def test_email_fields_are_email_inputs(app_factory):
    app = console_app(app_factory)
    make_admin(app)
    admin = admin_browser(app)
    page = admin.get("/admin/users/new")
    email = field(page, "email")
    # another person's address: the administrator's own is not offered
    assert (email["type"], email["autocomplete"]) == ("email", "off")
    create_user(app, "alice", email="alice@example.org")
    mine = logged_in(app).get("/account/email")
    assert (field(mine, "email")["type"], field(mine, "email")["autocomplete"]) == (
        "email",
        "email",
    )
    # the server's messages are the one error style: no browser bubbles
    assert mine.html.select_one("form#email").has_attr("novalidate")


@pytest.mark.parametrize("value", ["not-an-address", "a@b@c"])
def test_a_bad_address_is_marked_at_its_field(app_factory, value):
    app = console_app(app_factory)
    make_admin(app)
    form = admin_browser(app).get("/admin/users/new").forms["new-user"]
    form["username"] = "dana"
    form["email"] = value
    page = form.submit("submit", status=400)
    assert field(page, "email")["aria-invalid"] == "true"
    assert "such as name@example.org" in described_by(page, "email")[0]
    assert_no_banner(page)


def test_a_select_with_a_forged_choice_is_marked(app):
    create_user(app, "alice")
    client = logged_in(app)
    form = client.get("/account/profile").forms["profile"]
    fields = {"csrf_token": form["csrf_token"].value, "full_name": "", "time_zone": "Mars/Base"}
    page = client.post("/account/profile", fields, status=400)
    assert field(page, "time_zone")["aria-invalid"] == "true"
    described = described_by(page, "time_zone")
    assert "is not one of" in described[0] and "Times on these pages" in described[1]
    assert_no_banner(page)
