"""Terms of use (PRODUCT §6) and hostile input on the account forms (PRODUCT §16)."""

from __future__ import annotations

from typing import Any

import pytest
import webtest

from ..conftest import GOOD_PASSWORD
from .conftest import (
    assert_no_traceback,
    audit_events,
    browser,
    create_user,
    error_text,
    failure_count,
    field_errors,
    flashes,
    get_user,
    location,
    logged_in,
    submit_login,
)

REVISION = "2026-01"
NEXT_REVISION = "2026-07"
NEW_PASSWORD = "granite otter plays the kazoo at dawn"
AGREED_FLASH = "Thank you: you have agreed to the terms of use."
FORM_EXPIRED = (
    "This form was not accepted because its security token is missing or out of date, "
    "or cookies are blocked. Go back, reload the page and try again."
)
URLENCODED = "application/x-www-form-urlencoded"


def csrf_of(page: webtest.TestResponse) -> str:
    return str(page.html.find("input", attrs={"name": "csrf_token"})["value"])


def refused(response: webtest.TestResponse, status: int) -> None:
    assert response.status_int == status
    assert_no_traceback(response)


@pytest.fixture
def terms_app(app_factory):
    return app_factory(**{"terms.revision": REVISION, "mfa.required_for": "none"})


@pytest.fixture
def alice(terms_app) -> int:
    return create_user(terms_app, "alice")


def assert_not_agreed(app: Any, user_id: int) -> None:
    user = get_user(app, user_id)
    assert (user.terms_revision, user.terms_agreed_at) == (None, None)
    assert audit_events(app, "terms_agreed") == []


# --- agreeing ------------------------------------------------------------------------


def test_terms_page_shows_the_revision_the_text_and_the_button(terms_app, alice):
    """PRODUCT §15: /account/terms, button I agree, for the current revision."""
    page = logged_in(terms_app).get("/account/terms", status=200)
    assert "Please read the terms of use (revision 2026-01)" in page.text
    assert page.html.select_one(".terms-text").get_text(strip=True)
    button = page.html.select_one("form#agree-terms button[type=submit]")
    assert button.get_text(strip=True) == "I agree"
    assert page.forms["agree-terms"]["next"].value == ""


def test_agreement_records_revision_time_and_audit(terms_app, alice, clock):
    """I agree: the revision and the (fake) clock's time are stored, and audited."""
    client = logged_in(terms_app)
    page = client.get("/", status=303).follow()
    clock.advance(minutes=7)
    response = page.forms["agree-terms"].submit("submit")
    assert location(response) == "/"
    home = response.follow(status=200)
    assert "Signed in as alice" in home.text
    assert flashes(home) == [AGREED_FLASH]
    user = get_user(terms_app, alice)
    assert user.terms_revision == REVISION
    assert user.terms_agreed_at == clock()
    [event] = audit_events(terms_app, "terms_agreed")
    assert (event.target_id, event.actor_id, event.details) == (
        alice,
        alice,
        {"revision": REVISION},
    )
    assert event.created_at == clock()


def test_after_agreeing_the_page_says_when_and_has_no_form(terms_app, alice, clock):
    """The terms stay readable; the page says which revision was agreed to and when."""
    client = logged_in(terms_app)
    clock.advance(minutes=7)
    client.get("/account/terms").forms["agree-terms"].submit("submit", status=303)
    page = client.get("/account/terms", status=200)
    text = " ".join(page.html.select_one(".terms").get_text().split())
    assert "You agreed to revision 2026-01 of these terms on 2026-01-05 09:07 UTC." in text
    assert "agree-terms" not in page.forms
    assert page.html.find("button", string=lambda s: s and s.strip() == "I agree") is None


def test_agreeing_twice_records_once(terms_app, alice, clock):
    """A resubmitted form after agreeing changes neither the time nor the audit log."""
    client = logged_in(terms_app)
    form = client.get("/account/terms").forms["agree-terms"]
    form.submit("submit", status=303)
    agreed_at = get_user(terms_app, alice).terms_agreed_at
    clock.advance(minutes=5)
    response = client.post(
        "/account/terms", {"csrf_token": csrf_of(client.get("/")), "next": ""}, status=303
    )
    assert location(response) == "/"
    assert get_user(terms_app, alice).terms_agreed_at == agreed_at
    assert len(audit_events(terms_app, "terms_agreed")) == 1


def test_revision_bump_asks_again_and_records_the_new_one(app_factory, clock):
    """Bumping camauth.terms.revision asks everyone again; the new agreement replaces it."""
    first = app_factory(**{"terms.revision": REVISION, "mfa.required_for": "none"})
    user_id = create_user(first, "alice")
    client = logged_in(first)
    client.get("/account/terms").forms["agree-terms"].submit("submit", status=303)
    assert get_user(first, user_id).terms_revision == REVISION

    clock.advance(days=30)
    bumped = app_factory(**{"terms.revision": NEXT_REVISION, "mfa.required_for": "none"})
    client = logged_in(bumped)
    response = client.get("/", status=303)
    assert location(response) == "/account/terms?next=%2F"
    page = response.follow()
    assert "Please read the terms of use (revision 2026-07)" in page.text
    assert location(page.forms["agree-terms"].submit("submit")) == "/"
    user = get_user(bumped, user_id)
    assert (user.terms_revision, user.terms_agreed_at) == (NEXT_REVISION, clock())
    revisions = [e.details["revision"] for e in audit_events(bumped, "terms_agreed")]
    assert revisions == [REVISION, NEXT_REVISION]


def test_without_a_revision_the_page_is_404_and_nothing_is_owed(app):
    """No camauth.terms.revision: no terms page (GET or POST), and no gate."""
    user_id = create_user(app, "alice")
    client = logged_in(app)
    assert "Signed in as alice" in client.get("/", status=200).text
    page = client.get("/account/terms", status=404)
    refused(page, 404)
    response = client.post(
        "/account/terms", {"csrf_token": csrf_of(client.get("/")), "next": ""}, status=404
    )
    refused(response, 404)
    assert_not_agreed(app, user_id)


def test_anonymous_visitor_is_sent_to_login(terms_app):
    """The terms page needs a login; the way back is remembered."""
    response = browser(terms_app).get("/account/terms", status=303)
    assert location(response) == "/login?next=%2Faccount%2Fterms"


# --- hostile input on the terms form -------------------------------------------------


def test_terms_without_csrf_token_is_form_expired(terms_app, alice):
    """No token: 400 Form expired; not agreed; still owed."""
    client = logged_in(terms_app)
    response = client.post("/account/terms", {"next": "", "submit": "submit"}, status=400)
    refused(response, 400)
    assert error_text(response) == FORM_EXPIRED
    assert_not_agreed(terms_app, alice)
    assert location(client.get("/", status=303)) == "/account/terms?next=%2F"


def test_terms_with_another_sessions_token_is_form_expired(terms_app, alice):
    """A token from another user's session (cross-site forgery) is refused."""
    create_user(terms_app, "mallory")
    mallory = logged_in(terms_app, "mallory", ip="203.0.113.66")
    stolen = csrf_of(mallory.get("/account/terms"))
    client = logged_in(terms_app)
    response = client.post("/account/terms", {"csrf_token": stolen, "next": ""}, status=400)
    refused(response, 400)
    assert error_text(response) == FORM_EXPIRED
    assert_not_agreed(terms_app, alice)


def test_terms_with_a_huge_next_agrees_and_goes_home(terms_app, alice):
    """A tampered 10 000-character next is dropped like any unsafe one (the field is
    hidden: an error on it could not be fixed); agreed, and home."""
    client = logged_in(terms_app)
    token = csrf_of(client.get("/account/terms"))
    response = client.post(
        "/account/terms", {"csrf_token": token, "next": "/" + "n" * 10_000}, status=303
    )
    assert response.location == "http://localhost/"
    assert get_user(terms_app, alice).terms_revision is not None


@pytest.mark.parametrize(
    "target",
    ["/caf\u00e9", "/a\x00b", "/\u202eevil", "/x\r\nSet-Cookie: a=b", "/ユーザー?q=☃"],
    ids=["accent", "nul", "bidi", "header-injection", "cjk-and-snowman"],
)
def test_terms_with_a_strange_next_agrees_and_goes_home(terms_app, alice, target):
    """Unicode, NUL or CR/LF in next: agreed, and home instead of an unsafe Location."""
    client = logged_in(terms_app)
    token = csrf_of(client.get("/account/terms"))
    response = client.post("/account/terms", {"csrf_token": token, "next": target}, status=303)
    assert location(response) == "/"
    assert "Set-Cookie: a=b" not in str(response.headers)
    assert get_user(terms_app, alice).terms_revision == REVISION


@pytest.mark.parametrize(
    "query", ["next=%00", "next=/caf%C3%A9", "next=/" + "a" * 5000, "next=%2F%2Fevil.example"]
)
@pytest.mark.parametrize("path", ["/account/terms", "/account/password"])
def test_account_pages_drop_a_strange_next(terms_app, alice, path, query):
    """A strange ?next= on an account page is left out of its form."""
    if path == "/account/password":
        create_user(terms_app, "bob", must_change_password=True)
        client = logged_in(terms_app, "bob")
    else:
        client = logged_in(terms_app)
    page = client.get(f"{path}?{query}", status=200)
    formid = "agree-terms" if path == "/account/terms" else "change-password"
    assert page.forms[formid]["next"].value == ""


@pytest.mark.parametrize("query", ["next=%FF%FE", "next=%E2%98", "%FF=1"])
def test_invalid_utf8_query_on_the_terms_page_is_a_clear_400(terms_app, alice, query):
    """An undecodable query string: 400 saying so, not a 500."""
    client = logged_in(terms_app)
    response = client.get(f"/account/terms?{query}", status=400)
    refused(response, 400)
    assert error_text(response) == "The request is not valid UTF-8 text."


def test_terms_form_with_invalid_utf8_is_not_an_error(terms_app, alice):
    """Invalid UTF-8 in the body: WebOb decodes leniently; the bad next is dropped."""
    client = logged_in(terms_app)
    token = csrf_of(client.get("/account/terms"))
    body = b"csrf_token=" + token.encode() + b"&next=%2F%FF%FE\xc3\x28&submit=submit"
    response = client.post("/account/terms", body, content_type=URLENCODED, status=303)
    assert location(response) == "/"
    assert get_user(terms_app, alice).terms_revision == REVISION


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_on_the_account_pages(terms_app, alice, method):
    """Methods the pages do not serve are a 4xx, not a 500."""
    client = logged_in(terms_app)
    for path in ("/account/terms", "/account/password"):
        response = client._gen_request(method, path, params=b"", status="*")
        assert 400 <= response.status_int < 500, (path, response.status)
        assert_no_traceback(response)


# --- hostile input on the change-password form ---------------------------------------


def change_fields(client: webtest.TestApp, **overrides: str) -> dict[str, str]:
    """What a browser would post from a fresh change-password page."""
    form = client.get("/account/password").forms["change-password"]
    fields = {
        "_charset_": "UTF-8",
        "__formid__": "change-password",
        "csrf_token": form["csrf_token"].value,
        "current_password": GOOD_PASSWORD,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
        "next": "",
        "submit": "submit",
    }
    fields.update(overrides)
    return fields


def assert_password_unchanged(app: Any, user_id: int, before: Any) -> None:
    after = get_user(app, user_id)
    assert after.password_hash == before.password_hash
    assert audit_events(app, "password_changed") == []


def test_change_password_without_csrf_token_is_form_expired(app):
    """No token: 400 Form expired, unchanged, and not counted as a failure."""
    user_id = create_user(app, "alice")
    before = get_user(app, user_id)
    client = logged_in(app)
    fields = change_fields(client, current_password="a wrong one")
    del fields["csrf_token"]
    response = client.post("/account/password", fields, status=400)
    refused(response, 400)
    assert error_text(response) == FORM_EXPIRED
    assert_password_unchanged(app, user_id, before)
    assert failure_count(app) == 0


def test_change_password_with_a_huge_current_password_is_a_field_error(app):
    """100 000 characters: a clear limit, no argon2 on it, not a recorded failure."""
    user_id = create_user(app, "alice")
    before = get_user(app, user_id)
    client = logged_in(app)
    fields = change_fields(client, current_password="c" * 100_000)
    response = client.post("/account/password", fields, status=400)
    refused(response, 400)
    assert field_errors(response) == ["Use at most 1024 characters."]
    assert failure_count(app) == 0
    assert_password_unchanged(app, user_id, before)


def test_change_password_with_a_huge_body_is_refused_before_parsing(app):
    """A 2 MB form is a 413 with a message, before anything is parsed."""
    user_id = create_user(app, "alice")
    before = get_user(app, user_id)
    client = logged_in(app)
    fields = change_fields(client, new_password="z" * 2_000_000)
    response = client.post("/account/password", fields, status=413)
    refused(response, 413)
    assert "too large" in response.text
    assert_password_unchanged(app, user_id, before)


def test_change_password_with_a_huge_next_changes_and_goes_home(app):
    """A tampered next past its limit is dropped: the change works and goes home."""
    create_user(app, "alice")
    client = logged_in(app)
    fields = change_fields(client, next="/" + "n" * 10_000)
    response = client.post("/account/password", fields, status=303)
    assert response.location == "http://localhost/"


def test_nul_in_the_current_password_is_just_a_wrong_password(app):
    """NUL after the right password is not the right password."""
    user_id = create_user(app, "alice")
    before = get_user(app, user_id)
    client = logged_in(app)
    fields = change_fields(client, current_password=GOOD_PASSWORD + "\x00")
    response = client.post("/account/password", fields, status=400)
    refused(response, 400)
    assert error_text(response) == "Your current password is not correct."
    assert_password_unchanged(app, user_id, before)


def test_invalid_utf8_current_password_is_just_a_wrong_password(app):
    """Undecodable bytes in the body are a wrong password, not an error page."""
    user_id = create_user(app, "alice")
    client = logged_in(app)
    token = change_fields(client)["csrf_token"]
    body = (
        b"csrf_token="
        + token.encode()
        + b"&current_password=x%C3%28y\xff"
        + b"&new_password=granite+otter+plays+the+kazoo+at+dawn"
        + b"&confirm_password=granite+otter+plays+the+kazoo+at+dawn&next=&submit=submit"
    )
    response = client.post("/account/password", body, content_type=URLENCODED, status=400)
    refused(response, 400)
    assert error_text(response) == "Your current password is not correct."
    assert failure_count(app, "alice") == 1
    assert get_user(app, user_id).password_changed_at is not None


@pytest.mark.parametrize(
    "new",
    [
        "ключ к замку на восходе солнца",
        "月曜日の朝は静かな図書館で読書",
        "🦊 jumps over 🐢 near the 🌋 today",
        "granite otter\x00plays the kazoo",
        "<script>alert(1)</script> tall giraffes",
    ],
    ids=["cyrillic", "japanese", "emoji", "nul", "markup"],
)
def test_unusual_new_passwords_work_for_the_next_login(app, new):
    """Whatever the form accepts, the login form accepts too (same text, same bytes)."""
    create_user(app, "alice")
    client = logged_in(app)
    response = client.post(
        "/account/password", change_fields(client, new_password=new, confirm_password=new)
    )
    assert location(response) == "/"
    submit_login(browser(app, ip="192.0.2.11"), "alice", GOOD_PASSWORD, status=403)
    assert location(submit_login(browser(app, ip="192.0.2.12"), "alice", new)) == "/"


@pytest.mark.parametrize("missing", ["current_password", "new_password", "confirm_password"])
def test_missing_fields_are_form_errors(app, missing):
    """A field left out of the post is a form error, not a wrong password."""
    user_id = create_user(app, "alice")
    before = get_user(app, user_id)
    client = logged_in(app)
    fields = change_fields(client)
    del fields[missing]
    response = client.post("/account/password", fields, status=400)
    refused(response, 400)
    assert field_errors(response) == ["Required"]
    assert failure_count(app) == 0
    assert_password_unchanged(app, user_id, before)


def test_json_body_to_the_change_password_form(app):
    """JSON instead of a form: refused with a 4xx page (no token in a form field)."""
    user_id = create_user(app, "alice")
    before = get_user(app, user_id)
    client = logged_in(app)
    response = client.post_json("/account/password", change_fields(client), status=400)
    refused(response, 400)
    assert_password_unchanged(app, user_id, before)
