"""Hostile input to registration: a clear 4xx, never a 500 or a traceback (PRODUCT §2, §16).

Also parallel registrations of one name on PostgreSQL: exactly one account.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import webtest
from sqlalchemy import select
from webob import Request

from camauth.db import make_engine
from camauth.models import User, UserStatus

from ..conftest import GOOD_PASSWORD, app_context, login, read_mails
from .conftest import (
    app_on_engine,
    assert_no_traceback,
    at_the_same_moment,
    browser,
    create_user,
    error_text,
    field_errors,
)
from .test_registration import confirm_link

FORM_EXPIRED = "This form was not accepted because its security token is missing or out of date"
BAD_USERNAME = "A username contains only letters, digits and . _ - @"
BAD_EMAIL = "Enter an email address such as name@example.org."
BAD_LOCAL_PART = (
    "Use an email address whose part before the @ has only Latin letters, digits and "
    ". _ - + (no spaces)."
)
URLENCODED = "application/x-www-form-urlencoded"
HUGE = 100_000


@pytest.fixture
def open_app(app_factory):
    return app_factory(registration="open")


@pytest.fixture
def client(open_app) -> webtest.TestApp:
    return browser(open_app)


def fields_for(client: webtest.TestApp, **overrides: str) -> dict[str, str]:
    """What a browser posts from a fresh registration page, with some values changed."""
    form = client.get("/register").forms["register"]
    fields = {
        "_charset_": "UTF-8",
        "__formid__": "register",
        "csrf_token": form["csrf_token"].value,
        "username": "bob",
        "email": "bob@example.org",
        "new_password": GOOD_PASSWORD,
        "confirm_password": GOOD_PASSWORD,
        "submit": "submit",
    }
    fields.update(overrides)
    return fields


def usernames(app: Any) -> list[str]:
    ctx = app_context(app)
    try:
        return sorted(ctx.db.scalars(select(User.username)))
    finally:
        ctx.db.close()


def refused(response: webtest.TestResponse, status: int) -> None:
    assert response.status_int == status
    assert_no_traceback(response)


def messages(page: webtest.TestResponse) -> list[str]:
    return [error_text(page), *field_errors(page)]


# --- sizes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"username": "a" * HUGE}, "A username has at most 150 characters."),
        ({"username": "ü" * HUGE}, "A username has at most 150 characters."),
        ({"email": "e" * HUGE + "@example.org"}, "An email address has at most 254 characters."),
        (
            {"new_password": "p" * HUGE, "confirm_password": "p" * HUGE},
            "Use at most 1024 characters.",
        ),
        ({"new_password": "p" * HUGE}, "Use at most 1024 characters."),
    ],
)
def test_huge_field_values_are_clear_form_errors(client, open_app, overrides, message):
    """~100 kB in a field: a 400 form naming the limit, nothing stored or mailed."""
    response = client.post("/register", fields_for(client, **overrides), status=400)
    refused(response, 400)
    assert message in messages(response)
    assert usernames(open_app) == []


def test_huge_body_is_refused_before_parsing(client, open_app):
    """Beyond the request size limit the answer is 413, not a parse of megabytes."""
    response = client.post("/register", fields_for(client, email="x" * 2_000_000), status=413)
    refused(response, 413)
    assert usernames(open_app) == []


# --- characters --------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["Zoë", "ユーザー", "Ωμέγα.user", "Иван_Петров", "محمد"])
def test_letters_of_other_scripts_make_usernames(client, open_app, mail_dir, username):
    """Usernames in any script register, and the mail greets them by that name."""
    response = client.post("/register", fields_for(client, username=username), status=303)
    assert response.headers["Location"].endswith("/register?sent=1")
    assert usernames(open_app) == [username]
    [mail] = read_mails(mail_dir)
    assert f"Hello {username}," in mail.body


@pytest.mark.parametrize("username", ["smile😀", "😀", "a\u202eb", "tab\tname", "new\nline"])
def test_emoji_and_control_characters_are_refused(client, open_app, username):
    """Emoji, direction overrides and control characters get the clear username message."""
    response = client.post("/register", fields_for(client, username=username), status=400)
    refused(response, 400)
    assert BAD_USERNAME in messages(response)
    assert usernames(open_app) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"username": "bo\x00b"}, BAD_USERNAME),
        ({"email": "bob\x00@example.org"}, BAD_LOCAL_PART),
        ({"email": "bob@example.org\x00"}, BAD_EMAIL),
    ],
)
def test_nul_bytes_in_names_are_form_errors(client, open_app, overrides, message):
    """A NUL byte never reaches the database (PostgreSQL would refuse it with a 500)."""
    response = client.post("/register", fields_for(client, **overrides), status=400)
    refused(response, 400)
    assert message in messages(response)
    assert usernames(open_app) == []


def test_nul_byte_in_the_password_is_just_a_character(client, open_app, mail_dir):
    """A password with a NUL byte is hashed like any other: the same one logs in later."""
    password = "correct horse\x00battery staple"
    fields = fields_for(client, new_password=password, confirm_password=password)
    client.post("/register", fields, status=303)
    confirm_link(client, read_mails(mail_dir)[0].link("/register/verify/"))
    other = browser(open_app, ip="192.0.2.77")
    wrong = login(other, "bob", "correct horsebattery staple", status=403)
    assert error_text(wrong) == "Invalid username or password."
    assert "Signed in as bob" in login(client, "bob", password, status=303).follow().text


@pytest.mark.parametrize(
    "email",
    [
        "bob@example.org\r\nBcc: victim@example.net",
        "bob@example.org\nSubject: hi",
        "bob@example.org, victim@example.net",
        "Bob <bob@example.org>",
        "bob@example.org>z.y",
        "victim@example.org,x.y",
    ],
)
def test_header_injection_in_the_address_is_refused(client, open_app, mail_dir, email):
    """An address that could add recipients or headers is a form error and nothing is mailed."""
    response = client.post("/register", fields_for(client, email=email), status=400)
    refused(response, 400)
    assert {BAD_EMAIL, BAD_LOCAL_PART} & set(messages(response))
    assert read_mails(mail_dir) == []


def test_markup_in_kept_values_is_escaped(client, open_app):
    """A refused form shows the typed values again, escaped."""
    email = '"><script>alert(1)</script>@example.org'
    fields = fields_for(client, email=email, new_password="short", confirm_password="short")
    response = client.post("/register", fields, status=400)
    refused(response, 400)
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text


@pytest.mark.parametrize("value", [b"bo%FF%FEb", b"\xff\xfe", b"b%C3%28ob"])
def test_invalid_utf8_username_in_the_body(client, open_app, value):
    """Undecodable bytes become a username form error, not a crash."""
    token = client.get("/register").forms["register"]["csrf_token"].value
    body = (
        b"csrf_token=" + token.encode() + b"&username=" + value + b"&email=bob%40example.org"
        b"&new_password=correct+horse+battery+staple"
        b"&confirm_password=correct+horse+battery+staple&submit=submit"
    )
    response = client.post("/register", body, content_type=URLENCODED, status=400)
    refused(response, 400)
    assert BAD_USERNAME in messages(response)
    assert usernames(open_app) == []


# --- the shape of the form ------------------------------------------------------------------


def test_repeated_fields_make_one_account(client, open_app, mail_dir):
    """Repeated fields do not create two accounts or mail two addresses: the last value wins."""
    fields = [
        *fields_for(client).items(),
        ("username", "mallory"),
        ("email", "mallory@example.org"),
    ]
    client.post("/register", fields, status=303)
    assert usernames(open_app) == ["mallory"]
    assert [mail.to for mail in read_mails(mail_dir)] == ["mallory@example.org"]


@pytest.mark.parametrize("missing", ["username", "email", "new_password", "confirm_password"])
def test_missing_fields_are_form_errors(client, open_app, missing):
    """A field left out of the post is 'Required', not a crash."""
    fields = fields_for(client)
    del fields[missing]
    response = client.post("/register", fields, status=400)
    refused(response, 400)
    assert "Required" in field_errors(response)
    assert usernames(open_app) == []


@pytest.mark.parametrize("missing", ["__formid__", "submit", "_charset_"])
def test_fields_a_registration_does_not_need(client, open_app, missing):
    """Fields only a browser adds may be missing."""
    fields = fields_for(client)
    del fields[missing]
    client.post("/register", fields, status=303)
    assert usernames(open_app) == ["bob"]


def test_missing_csrf_token(client, open_app, mail_dir):
    """No token: the 'Form expired' page; no account, no mail."""
    fields = fields_for(client)
    del fields["csrf_token"]
    response = client.post("/register", fields, status=400)
    refused(response, 400)
    assert FORM_EXPIRED in response.text
    assert usernames(open_app) == []
    assert read_mails(mail_dir) == []


@pytest.mark.parametrize("token", ["x" * 43, "", "%FF", "t" * 5000])
def test_wrong_csrf_token(client, open_app, token):
    """A wrong token: the 'Form expired' page; no account."""
    response = client.post("/register", fields_for(client, csrf_token=token), status=400)
    refused(response, 400)
    assert FORM_EXPIRED in response.text
    assert usernames(open_app) == []


def test_csrf_token_from_another_browser(open_app):
    """A token scraped by another browser does not let a third party register for it."""
    attacker, victim = browser(open_app, ip="203.0.113.66"), browser(open_app)
    stolen = attacker.get("/register").forms["register"]["csrf_token"].value
    fields = fields_for(victim, csrf_token=stolen)
    refused(victim.post("/register", fields, status=400), 400)
    assert usernames(open_app) == []


def test_json_body_is_refused(client, open_app):
    """A JSON post is not a form post."""
    client.get("/register")
    body = {"username": "bob", "email": "bob@example.org", "new_password": GOOD_PASSWORD}
    response = client.post_json("/register", body, status=400)
    refused(response, 400)
    assert usernames(open_app) == []


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods(client, method):
    """Other verbs get a 4xx page."""
    response = client._gen_request(method, "/register", params=b"", status="*")
    assert 400 <= response.status_int < 500
    assert_no_traceback(response)


# --- verification links ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "x" * HUGE,
        "A" * 43,
        "A" * 44,
        "%00",
        "%20",
        "%E3%83%A6%E3%83%BC%E3%82%B6%E3%83%BC",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "..%2F..%2Flogin",
        "a%2Fb",
        "'%20OR%201=1--",
        "%E2%80%AE",
    ],
)
def test_odd_verification_tokens_are_not_found(client, open_app, token):
    """Made-up, huge or strange tokens are the 'not valid' page (404), never a 500."""
    create_user(open_app, "alice", email="alice@example.org", status=UserStatus.PENDING_EMAIL)
    response = client.get("/register/verify/" + token, status=404)
    assert_no_traceback(response)
    assert "<script>alert" not in response.text
    if "%2F" in token:  # a slash makes it another address: the site's own 404 page
        assert "There is no page at this address." in response.text
    else:
        assert "This link is not valid" in response.text


@pytest.mark.parametrize("path", [b"/register/verify/\xff\xfe", b"/register/verify/a\xc3\x28"])
def test_invalid_utf8_verification_token(open_app, path):
    """Undecodable bytes in the link: a 400 page, not a crash."""
    request = Request.blank("/", environ={"REMOTE_ADDR": "192.0.2.10"})
    request.environ["PATH_INFO"] = path.decode("latin-1")
    response = request.get_response(open_app)
    assert response.status_int == 400
    assert "Traceback" not in response.text


def test_verification_link_by_post(client, open_app, mail_dir):
    """A POST to a link is refused and does not spend it."""
    client.post("/register", fields_for(client), status=303)
    link = read_mails(mail_dir)[0].link("/register/verify/")
    response = client.post(link, {}, status="*")
    assert 400 <= response.status_int < 500
    assert_no_traceback(response)
    confirm_link(client, link)


# --- parallel registrations of one username (PostgreSQL) --------------------------------------

RACERS = 8


@pytest.fixture
def racing_app(postgres_url, clock, tmp_path):
    engine = make_engine(postgres_url, pool_size=RACERS + 5, max_overflow=5, pool_timeout=120)
    mail = {"mail.transport": "file", "mail.directory": str(tmp_path / "race-mail")}
    app = app_on_engine(engine, clock, registration="open", **mail)
    yield app
    engine.dispose()


def race(app: Any, make_fields) -> list[webtest.TestResponse]:
    """RACERS browsers (own cookies and CSRF token) post at the same moment."""

    def prepare(number: int) -> Callable[[], webtest.TestResponse]:
        racer = browser(app, ip=f"198.51.100.{number + 1}")
        fields = fields_for(racer, **make_fields(number))
        return lambda: racer.post("/register", fields, status="*")

    return at_the_same_moment(RACERS, prepare)


TAKEN = ("That username is already taken.", "was taken a moment ago")


def test_parallel_registrations_of_one_username(racing_app, tmp_path):
    """Eight people take 'bob' at once: one account, the rest a clear 400/409 form."""
    responses = race(racing_app, lambda n: {"username": "bob", "email": f"bob{n}@example.org"})
    for response in responses:
        assert_no_traceback(response)
    statuses = sorted(response.status_int for response in responses)
    assert statuses.count(303) == 1, statuses
    assert set(statuses) <= {303, 400, 409}, statuses
    for response in responses:
        if response.status_int != 303:
            assert any(text in error_text(response) for text in TAKEN), error_text(response)
            assert response.forms["register"]
    assert usernames(racing_app) == ["bob"]
    assert len(read_mails(tmp_path / "race-mail")) == 1


def test_parallel_registrations_of_one_address(racing_app, tmp_path):
    """Eight names with one address at once: one sign-up remains (each newer one ends
    the one before, in order), the address gets no more links than its hourly
    limit, and nobody gets a 500."""
    responses = race(racing_app, lambda n: {"username": f"racer{n}", "email": "shared@example.org"})
    for response in responses:
        assert_no_traceback(response)
    statuses = [response.status_int for response in responses]
    assert set(statuses) <= {303, 409}, statuses
    assert len(usernames(racing_app)) == 1
    subjects = sorted(mail.subject for mail in read_mails(tmp_path / "race-mail"))
    assert subjects.count("Confirm your email address") == 3  # mail.account_limit_per_hour
