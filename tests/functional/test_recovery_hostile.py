"""Hostile and broken input on the recovery forms (PRODUCT §3, §16): a clear 4xx, never a 500."""

from __future__ import annotations

import email
import email.policy

import pytest

from camauth.services.accounts import AccountError
from camauth.web.session import SESSION_COOKIE

from ..conftest import GOOD_PASSWORD, login, read_mails
from .conftest import (
    assert_no_traceback,
    audit_events,
    browser,
    create_user,
    field_errors,
)
from .test_hostile import raw_get
from .test_recovery import (
    FORGOT,
    NEW_PASSWORD,
    RESET,
    SENT,
    location_path,
    mailed_link,
    reset_links,
    set_new_password,
)

FORM_EXPIRED = "This form was not accepted because its security token is missing or out of date"
NOT_VALID = "This link is not valid"
URLENCODED = "application/x-www-form-urlencoded"


@pytest.fixture
def alice(app) -> int:
    return create_user(app, "alice", email="alice@example.org")


def forgot_fields(client, **overrides: str) -> dict[str, str]:
    """What a browser posts from a fresh forgot-password page."""
    form = client.get(FORGOT).forms["forgot-password"]
    fields = {
        "_charset_": "UTF-8",
        "__formid__": "forgot-password",
        "csrf_token": form["csrf_token"].value,
        "login": "alice",
        "submit": "submit",
    }
    fields.update(overrides)
    return fields


def reset_fields(client, link: str, **overrides: str) -> dict[str, str]:
    """What a browser posts from the reset page of ``link``."""
    form = client.get(link).forms["reset-password"]
    fields = {
        "_charset_": "UTF-8",
        "__formid__": "reset-password",
        "csrf_token": form["csrf_token"].value,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
        "submit": "submit",
    }
    fields.update(overrides)
    return fields


def refused(response, status: int) -> None:
    assert response.status_int == status
    assert_no_traceback(response)


def assert_sent_answer(response) -> None:
    """The one answer every accepted request gets."""
    assert response.status_int == 303
    assert location_path(response) == SENT


def assert_link_still_works(client, link: str) -> None:
    set_new_password(client, link, status=303)
    login(client, "alice", NEW_PASSWORD, status=303)


# --- sizes ---------------------------------------------------------------------------


def test_huge_login_value_is_a_form_error(app, testapp, alice, mail_dir):
    """~100 kB in the login field: 400 with a clear message, nothing recorded or mailed."""
    response = testapp.post(FORGOT, forgot_fields(testapp, login="a" * 100_000), status=400)
    refused(response, 400)
    assert "Use at most 254 characters." in field_errors(response)
    assert "forgot-password" in response.forms
    assert audit_events(app, "password_reset_requested") == []
    assert read_mails(mail_dir) == []


def test_huge_login_value_that_starts_with_a_real_name_sends_nothing(app, testapp, alice, mail_dir):
    """A long value is refused as a whole, not cut down to an account's name."""
    response = testapp.post(
        FORGOT, forgot_fields(testapp, login="alice" + " " * 300 + "x"), status=400
    )
    refused(response, 400)
    assert read_mails(mail_dir) == []


def test_huge_new_password_is_a_form_error_and_keeps_the_link(app, testapp, alice, mail_dir):
    """~100 kB passwords: 400 "Use at most 1024 characters.", the link still usable."""
    link = mailed_link(testapp, mail_dir)
    huge = "correct horse " * 7_500
    fields = reset_fields(testapp, link, new_password=huge, confirm_password=huge)
    response = testapp.post(link, fields, status=400)
    refused(response, 400)
    assert "Use at most 1024 characters." in field_errors(response)
    assert huge[:2000] not in response.text
    assert_link_still_works(testapp, link)


def test_huge_body_on_the_reset_form_is_refused_before_parsing(app, testapp, alice, mail_dir):
    """More than a MiB is a 413 and does not spend the link."""
    link = mailed_link(testapp, mail_dir)
    huge = "x" * 2_000_000
    fields = reset_fields(testapp, link, new_password=huge, confirm_password=huge)
    response = testapp.post(link, fields, status=413)
    refused(response, 413)
    assert_link_still_works(testapp, link)


def test_huge_body_on_the_forgot_form_is_refused_before_parsing(app, testapp, alice, mail_dir):
    """More than a MiB is a 413 and records no request."""
    response = testapp.post(FORGOT, forgot_fields(testapp, login="a" * 2_000_000), status=413)
    refused(response, 413)
    assert audit_events(app, "password_reset_requested") == []


# --- unicode and odd characters -------------------------------------------------------


@pytest.mark.parametrize("typed", ["ålice", "ÅLICE", "  ålice\t", "alice@exämple.org"])
def test_unicode_account_gets_its_mail(app, testapp, mail_dir, typed):
    """Non-ASCII usernames and international domains are found like any others."""
    create_user(app, "ålice", email="alice@exämple.org")
    assert_sent_answer(testapp.post(FORGOT, forgot_fields(testapp, login=typed)))
    [mail] = read_mails(mail_dir)
    assert "Hello ålice," in mail.body
    link = mail.link(RESET)
    page = testapp.get(link)
    assert "ålice" in page.text
    set_new_password(testapp, link, status=303)
    login(testapp, "ålice", NEW_PASSWORD, status=303)


def test_international_domain_is_addressed_in_idna_form(app, testapp, mail_dir):
    """The To header is read as a mail program reads it (RFC 5322 address parsing): an
    international domain goes in its IDNA form, never as an RFC 2047 encoded-word."""
    create_user(app, "ålice", email="alice@exämple.org")
    assert_sent_answer(testapp.post(FORGOT, forgot_fields(testapp, login="ålice")))
    [path] = sorted(mail_dir.glob("*.eml"))
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    [address] = message["To"].addresses
    assert (address.username, address.domain) == ("alice", "xn--exmple-cua.org")


def test_an_address_mail_cannot_be_sent_to_is_refused_when_the_account_is_made(app):
    """A non-ASCII part before the @ needs SMTPUTF8, which servers may lack: refused
    with a clear message rather than accepted and then never mailed."""
    with pytest.raises(AccountError, match="part before the @ has only Latin letters"):
        create_user(app, "ålice", email="ålice@exämple.org")


@pytest.mark.parametrize(
    "typed",
    [
        "\u202eecila",  # right-to-left override
        "مستخدم",  # Arabic, right to left
        "😀",
        "smile😀@example.org",
        "a\u200bb",  # zero-width space
        "\ufeffalice",  # byte-order mark in front of a real name
        "ali\u0301ce",  # combining accent
        "<script>alert(1)</script>",
        "' OR '1'='1",
        "%00",
    ],
)
def test_odd_unicode_gets_the_same_answer_and_no_mail(app, testapp, alice, mail_dir, typed):
    """Names no account has get the usual answer; nothing breaks, nothing is mailed."""
    response = testapp.post(FORGOT, forgot_fields(testapp, login=typed))
    assert_sent_answer(response)
    assert read_mails(mail_dir) == []
    [event] = audit_events(app, "password_reset_requested")
    assert event.details == {"mailed": False}


@pytest.mark.parametrize("typed", ["ali\x00ce", "alice\x00", "\x00", "alice@example.org\x00"])
def test_nul_byte_in_the_login_gets_the_same_answer(app, testapp, alice, mail_dir, typed):
    """A NUL byte cannot be in any username or email: the usual answer, no mail, no 5xx."""
    response = testapp.post(FORGOT, forgot_fields(testapp, login=typed), status="*")
    assert_no_traceback(response)
    assert_sent_answer(response)
    assert read_mails(mail_dir) == []


@pytest.mark.parametrize(
    "password",
    [
        "ålice ünïcode pässwörd ñ",
        "パスワードはとても長いです秘密",
        "🦊🌲🚲🎻 fox forest bike",
        "שלום עולם סיסמה ארוכה",
    ],
)
def test_unicode_new_password_works_for_login(app, testapp, alice, mail_dir, password):
    """Any Unicode password the policy accepts can be used to log in afterwards."""
    set_new_password(testapp, mailed_link(testapp, mail_dir), password, status=303)
    login(testapp, "alice", password, status=303)


def test_nul_byte_in_the_new_password_works_exactly_as_typed(app, testapp, alice, mail_dir):
    """A NUL in the new password is kept whole: neither half of it logs in, the whole does."""
    link = mailed_link(testapp, mail_dir)
    password = "granite otter\x00plays the kazoo"
    fields = reset_fields(testapp, link, new_password=password, confirm_password=password)
    response = testapp.post(link, fields, status=303)
    assert_no_traceback(response)
    login(testapp, "alice", "granite otter", status=403)
    login(testapp, "alice", "granite otterplays the kazoo", status=403)
    login(testapp, "alice", password, status=303)


@pytest.mark.parametrize("value", [b"al%FF%FEice", b"\xff\xfe", b"al\xc3\x28ice"])
def test_invalid_utf8_login_in_the_form_body(app, testapp, alice, mail_dir, value):
    """Broken UTF-8 is read leniently (U+FFFD): an unknown name, the usual answer, no mail."""
    token = testapp.get(FORGOT).forms["forgot-password"]["csrf_token"].value
    body = b"csrf_token=" + token.encode() + b"&login=" + value + b"&submit=submit"
    response = testapp.post(FORGOT, body, content_type=URLENCODED, status="*")
    assert_no_traceback(response)
    assert_sent_answer(response)
    assert read_mails(mail_dir) == []


def test_markup_in_the_login_is_escaped(app, testapp):
    """A refused value shown back in the form is escaped."""
    value = '"><script>alert(1)</script>' + "x" * 300
    response = testapp.post(FORGOT, forgot_fields(testapp, login=value), status=400)
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text


# --- the shape of the forms ------------------------------------------------------------


def test_repeated_login_field_uses_the_last_value(app, testapp, alice, mail_dir):
    """Two login fields: one request, for the last value only (never two mails)."""
    create_user(app, "bob", email="bob@example.org")
    fields = [*forgot_fields(testapp).items(), ("login", "bob")]
    assert_sent_answer(testapp.post(FORGOT, fields))
    assert [mail.to for mail in read_mails(mail_dir)] == ["bob@example.org"]
    assert len(audit_events(app, "password_reset_requested")) == 1


def test_repeated_password_fields_use_the_last_value(app, testapp, alice, mail_dir):
    """Repeated password fields do not combine; the last one is the password."""
    link = mailed_link(testapp, mail_dir)
    fields = [*reset_fields(testapp, link, new_password="short").items()]
    fields.append(("new_password", NEW_PASSWORD))
    response = testapp.post(link, fields, status="*")
    assert_no_traceback(response)
    assert response.status_int == 303
    login(testapp, "alice", "short", status=403)
    login(testapp, "alice", NEW_PASSWORD, status=303)


def test_file_upload_as_the_login_is_a_form_error(app, testapp, alice, mail_dir):
    """A file where text belongs: 400, no mail."""
    fields = forgot_fields(testapp)
    del fields["login"]
    response = testapp.post(
        FORGOT, fields, upload_files=[("login", "name.txt", b"alice")], status=400
    )
    refused(response, 400)
    assert field_errors(response)
    assert read_mails(mail_dir) == []


def test_file_upload_as_the_new_password_is_a_form_error(app, testapp, alice, mail_dir):
    """A file where the password belongs: 400, and the link is not spent."""
    link = mailed_link(testapp, mail_dir)
    fields = reset_fields(testapp, link)
    del fields["new_password"]
    upload = [("new_password", "pw.txt", NEW_PASSWORD.encode())]
    response = testapp.post(link, fields, upload_files=upload, status=400)
    refused(response, 400)
    assert field_errors(response)
    assert_link_still_works(testapp, link)


def test_missing_login_field_is_a_form_error(app, testapp, alice, mail_dir):
    """No login field at all: a "Required" form error, nothing recorded."""
    fields = forgot_fields(testapp)
    del fields["login"]
    response = testapp.post(FORGOT, fields, status=400)
    refused(response, 400)
    assert "Required" in field_errors(response)
    assert audit_events(app, "password_reset_requested") == []


def test_empty_login_is_a_form_error(app, testapp, alice, mail_dir):
    """Only spaces: a "Required" form error, no mail."""
    response = testapp.post(FORGOT, forgot_fields(testapp, login="   "), status=400)
    refused(response, 400)
    assert "Required" in field_errors(response)
    assert read_mails(mail_dir) == []


@pytest.mark.parametrize("missing", ["new_password", "confirm_password"])
def test_missing_password_fields_are_form_errors(app, testapp, alice, mail_dir, missing):
    """A missing password field is a form error and does not spend the link."""
    link = mailed_link(testapp, mail_dir)
    fields = reset_fields(testapp, link)
    del fields[missing]
    response = testapp.post(link, fields, status=400)
    refused(response, 400)
    assert "Required" in field_errors(response)
    assert_link_still_works(testapp, link)


@pytest.mark.parametrize("missing", ["__formid__", "submit", "_charset_"])
def test_fields_the_forms_do_not_need(app, testapp, alice, mail_dir, missing):
    """Leaving out deform's bookkeeping fields changes nothing."""
    fields = forgot_fields(testapp)
    del fields[missing]
    assert_sent_answer(testapp.post(FORGOT, fields))
    link = reset_links(mail_dir)[-1]
    fields = reset_fields(testapp, link)
    del fields[missing]
    assert testapp.post(link, fields, status=303)
    login(testapp, "alice", NEW_PASSWORD, status=303)


def test_json_body_to_the_forgot_form(app, testapp, alice, mail_dir):
    """JSON instead of a form: 400 (no CSRF token), no mail."""
    testapp.get(FORGOT)
    response = testapp.post_json(FORGOT, {"login": "alice"}, status=400)
    refused(response, 400)
    assert read_mails(mail_dir) == []


def test_json_body_to_the_reset_form(app, testapp, alice, mail_dir):
    """JSON instead of a form: 400, and the link is not spent."""
    link = mailed_link(testapp, mail_dir)
    body = {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    response = testapp.post_json(link, body, status=400)
    refused(response, 400)
    assert_link_still_works(testapp, link)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", [FORGOT, RESET + "A" * 43])
def test_other_methods(testapp, method, path):
    """PUT, DELETE and PATCH on the recovery pages: a 4xx page, never a 500."""
    response = testapp._gen_request(method, path, params=b"", status="*")
    assert 400 <= response.status_int < 500
    assert_no_traceback(response)


# --- CSRF ----------------------------------------------------------------------------


def test_missing_csrf_token_on_the_forgot_form(app, testapp, alice, mail_dir):
    """No token: the "Form expired" page, nothing recorded or mailed."""
    fields = forgot_fields(testapp)
    del fields["csrf_token"]
    response = testapp.post(FORGOT, fields, status=400)
    refused(response, 400)
    assert FORM_EXPIRED in response.text
    assert audit_events(app, "password_reset_requested") == []
    assert read_mails(mail_dir) == []


def test_wrong_csrf_token_on_the_forgot_form(app, testapp, alice, mail_dir):
    """A made-up token: the "Form expired" page, no mail."""
    response = testapp.post(FORGOT, forgot_fields(testapp, csrf_token="x" * 43), status=400)
    refused(response, 400)
    assert FORM_EXPIRED in response.text
    assert read_mails(mail_dir) == []


def test_csrf_token_from_another_browser_on_the_forgot_form(app, alice, mail_dir):
    """A token scraped by one client is no good in another (login CSRF on recovery)."""
    attacker, victim = browser(app, ip="203.0.113.66"), browser(app)
    stolen = attacker.get(FORGOT).forms["forgot-password"]["csrf_token"].value
    response = victim.post(FORGOT, forgot_fields(victim, csrf_token=stolen), status=400)
    refused(response, 400)
    assert read_mails(mail_dir) == []


def test_missing_csrf_token_on_the_reset_form(app, testapp, alice, mail_dir):
    """No token: "Form expired", the password unchanged and the link still usable."""
    link = mailed_link(testapp, mail_dir)
    fields = reset_fields(testapp, link)
    del fields["csrf_token"]
    response = testapp.post(link, fields, status=400)
    refused(response, 400)
    assert FORM_EXPIRED in response.text
    login(testapp, "alice", GOOD_PASSWORD, status=303)
    assert_link_still_works(testapp, link)


def test_wrong_csrf_token_on_the_reset_form(app, testapp, alice, mail_dir):
    """A made-up token: "Form expired", and the link is not spent."""
    link = mailed_link(testapp, mail_dir)
    response = testapp.post(link, reset_fields(testapp, link, csrf_token="y" * 43), status=400)
    refused(response, 400)
    assert FORM_EXPIRED in response.text
    assert_link_still_works(testapp, link)


def test_cross_site_reset_without_cookies_is_refused(app, alice, mail_dir):
    """A page elsewhere posting to a reset link (no CSRF cookie) cannot set the password."""
    person = browser(app)
    link = mailed_link(person, mail_dir)
    fields = reset_fields(person, link)
    elsewhere = browser(app, ip="203.0.113.66")
    response = elsewhere.post(link, fields, status=400)
    refused(response, 400)
    assert FORM_EXPIRED in response.text
    assert_link_still_works(person, link)


# --- the token in the URL --------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "A" * 5000,
        "A" * 201,
        "A" * 44,
        "%00",
        "abc%00def",
        "%20",
        "..",
        "%2E%2E",
        "'%3B%20DROP%20TABLE%20users%3B--",
        "%F0%9F%98%80",
        "%E2%80%AEtoken",
        "%3Cb%3Ebold%3C%2Fb%3E",
        "a%3Bb%3Dc",
        "%25",
    ],
)
def test_odd_tokens_are_a_clear_404(app, testapp, alice, mail_dir, token):
    """Forged tokens of any size or shape: 404, on GET and POST, never a 500."""
    link = mailed_link(testapp, mail_dir)
    response = testapp.get(RESET + token, status=404)
    refused(response, 404)
    assert NOT_VALID in response.text or "There is no page at this address." in response.text
    csrf = testapp.get(FORGOT).forms["forgot-password"]["csrf_token"].value
    fields = {"csrf_token": csrf, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    posted = testapp.post(RESET + token, fields, status=404)
    refused(posted, 404)
    assert "<b>bold</b>" not in response.text
    assert_link_still_works(testapp, link)


@pytest.mark.parametrize("token", ["A" * 5000, "abc%00def", "%F0%9F%98%80", "..", "x%20y"])
def test_odd_tokens_that_match_the_route_get_the_link_page(testapp, token):
    """Anything in the token position is handled by the link check: "This link is not valid"."""
    response = testapp.get(RESET + token, status=404)
    refused(response, 404)
    assert response.html.find("h1").get_text(strip=True) == NOT_VALID
    assert response.html.find("a", href=FORGOT) is not None


@pytest.mark.parametrize("path", [b"/password/reset/\xff", b"/password/reset/\xc3\x28abc"])
def test_invalid_utf8_token_in_the_path(app, path):
    """Raw bytes that are not UTF-8: a 400 saying so, never a 500."""
    response = raw_get(app, path)
    assert response.status_int == 400
    assert "not valid UTF-8" in response.text
    assert "Traceback" not in response.text


def test_session_cookie_value_is_not_a_reset_token(app, testapp, alice):
    """A session token (same format, other table) cannot be used as a reset link."""
    login(testapp, "alice", GOOD_PASSWORD, status=303)
    session_token = testapp.cookies[SESSION_COOKIE]
    response = testapp.get(RESET + session_token, status=404)
    refused(response, 404)
    assert NOT_VALID in response.text


def test_real_token_with_changed_case_is_not_valid(app, testapp, alice, mail_dir):
    """Tokens compare exactly: changing the case of a real one gives a 404."""
    link = mailed_link(testapp, mail_dir)
    token = link.removeprefix(RESET)
    swapped = token.swapcase()
    assert swapped != token
    response = testapp.get(RESET + swapped, status=404)
    refused(response, 404)
    assert_link_still_works(testapp, link)


def test_real_token_with_a_query_string_still_works(app, testapp, alice, mail_dir):
    """Mail clients add tracking parameters; the link itself still opens the form."""
    link = mailed_link(testapp, mail_dir)
    page = testapp.get(link + "?utm_source=mail&x=%00", status=200)
    assert "reset-password" in page.forms
