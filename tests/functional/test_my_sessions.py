"""``/account/sessions``: a person sees their own live sessions (this one marked)
and ends another one, or all others; never someone else's."""

from __future__ import annotations

import pytest

from camauth.models import SessionKind
from camauth.services import accounts, sessions

from ..conftest import app_context
from .admin_helpers import table_rows
from .conftest import browser, create_user, flashes, location, logged_in, session_rows

PAGE = "/account/sessions"


@pytest.fixture
def two_browsers_app(app_factory):
    # two browser sessions of one person at once: one_per_user off
    return app_factory(**{"mfa.required_for": "none", "session.one_per_user": "false"})


def open_api_session(app, username):
    ctx = app_context(app)
    try:
        user = accounts.find_user(ctx, username)
        _token, row = sessions.create_session(ctx, user=user, kind=SessionKind.API)
        ctx.db.commit()
        return row.id
    finally:
        ctx.db.close()


def test_the_page_lists_own_sessions_with_this_one_marked(two_browsers_app):
    app = two_browsers_app
    alice_id = create_user(app, "alice")
    create_user(app, "bob")
    laptop = logged_in(app, "alice", ip="192.0.2.10")
    logged_in(app, "alice", ip="198.51.100.7")
    logged_in(app, "bob", ip="203.0.113.5")
    open_api_session(app, "alice")
    page = laptop.get(PAGE, status=200)
    rows = table_rows(page, "my-sessions")
    assert len(rows) == 3  # bob's is not listed
    assert sorted(row[0] for row in rows) == ["API", "Browser", "Browser"]
    [current] = [row for row in rows if row[-1] == "This session"]
    assert current[1] == "192.0.2.10"
    assert "no-store" in page.headers["Cache-Control"]
    assert len(session_rows(app, alice_id)) == 3


def test_ending_another_session_logs_that_browser_out_and_a_repeat_is_harmless(
    two_browsers_app,
):
    app = two_browsers_app
    create_user(app, "alice")
    laptop = logged_in(app, "alice", ip="192.0.2.10")
    phone = logged_in(app, "alice", ip="198.51.100.7")
    page = laptop.get(PAGE, status=200)
    [end] = [form for form in page.forms.values() if form.action.endswith("/end")]
    done = end.submit(status=303)
    assert location(done) == PAGE
    assert flashes(done.follow()) == ["The session has ended."]
    assert location(phone.get("/", status=303)).startswith("/login")
    assert "Signed in as alice" in laptop.get("/", status=200).text
    again = end.submit(status=303).follow()  # the same form sent again
    assert flashes(again) == ["That session had ended already."]


def test_end_all_other_sessions_keeps_this_one(two_browsers_app):
    app = two_browsers_app
    create_user(app, "alice")
    laptop = logged_in(app, "alice", ip="192.0.2.10")
    phone = logged_in(app, "alice", ip="198.51.100.7")
    open_api_session(app, "alice")
    page = laptop.get(PAGE, status=200)
    [others] = [form for form in page.forms.values() if form.action.endswith("/end-others")]
    assert flashes(others.submit(status=303).follow()) == ["2 other sessions ended."]
    assert location(phone.get("/", status=303)).startswith("/login")
    assert len(table_rows(laptop.get(PAGE, status=200), "my-sessions")) == 1


def test_nobody_ends_someone_elses_session(two_browsers_app):
    app = two_browsers_app
    create_user(app, "alice")
    bob_id = create_user(app, "bob")
    mallory = logged_in(app, "alice")
    bob = logged_in(app, "bob", ip="203.0.113.5")
    [bobs_session] = session_rows(app, bob_id)
    token = mallory.get(PAGE).forms[0]["csrf_token"].value
    answer = mallory.post(f"{PAGE}/{bobs_session.id}/end", {"csrf_token": token}, status=303)
    assert flashes(answer.follow()) == ["That session had ended already."]
    assert "Signed in as bob" in bob.get("/", status=200).text


def test_ending_needs_the_csrf_token_and_visitors_are_sent_to_log_in(two_browsers_app):
    app = two_browsers_app
    create_user(app, "alice")
    laptop = logged_in(app, "alice")
    [own] = session_rows(app)
    laptop.post(f"{PAGE}/{own.id}/end", {}, status=400)
    laptop.post(f"{PAGE}/end-others", {}, status=400)
    visitor = browser(app)
    assert location(visitor.get(PAGE, status=303)).startswith("/login?next=")
    assert len(session_rows(app)) == 1
