"""The console under hostile input (PRODUCT §9, §16): markup in names, addresses and
user agents shows as text on every page; a POST without the session's CSRF token
changes nothing; oversized, malformed, repeated and mistyped values get a clear
4xx page, never a 500 or a trace; and two administrators removing each other at
the same moment leave one administrator standing."""

from __future__ import annotations

from typing import Any

import pytest
import webtest
from sqlalchemy import select

from camauth.db import make_engine
from camauth.models import AuditEvent, Lockout, User, UserStatus, WebSession
from camauth.web.views.admin.user_actions import ACTIONS

from ..conftest import GOOD_PASSWORD
from .admin_helpers import (
    ADMIN,
    AUDIT,
    AUDIT_CSV,
    LOCKOUTS,
    NEW_USER,
    OTHER_PASSWORD,
    SESSIONS,
    USERS,
    admin_browser,
    alert,
    console_app,
    make_admin,
    open_session,
    table_rows,
    user_path,
)
from .conftest import (
    all_rows,
    app_on_engine,
    assert_no_traceback,
    at_the_same_moment,
    audit_events,
    browser,
    create_user,
    field_errors,
    get_user,
    logged_in,
    submit_login,
)
from .two_factor_helpers import Token, enrol

SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
IMG = '<img src=x onerror="alert(2)">'
ESCAPED_IMG = "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;"
MARKUP_EMAIL = "tom&jerry'@example.org"
FORM_EXPIRED = "This form was not accepted because its security token is missing or out of date"
TOKEN_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def console(app_factory):
    return console_app(app_factory)


@pytest.fixture
def root(console):
    return make_admin(console)


@pytest.fixture
def alice(console):
    return create_user(console, "alice", email="alice@example.org", full_name="Alice Liddell")


@pytest.fixture
def admin(console, root):
    return admin_browser(console)


def csrf_token(page: webtest.TestResponse) -> str:
    return str(page.html.select_one('input[name="csrf_token"]')["value"])


def assert_clean_4xx(response: webtest.TestResponse, status: int) -> None:
    assert response.status_int == status, response.status
    assert response.content_type == "text/html"
    assert_no_traceback(response)


def state(app: Any) -> tuple[Any, ...]:
    """What a console change could alter: users, sessions, locks, the audit log."""
    users = [
        (
            u.id,
            u.username,
            u.email,
            u.full_name,
            u.status,
            u.is_admin,
            u.password_hash,
            u.must_change_password,
            u.two_factor_enabled_at,
        )
        for u in all_rows(app, select(User).order_by(User.id))
    ]
    sessions = [row.id for row in all_rows(app, select(WebSession).order_by(WebSession.id))]
    locks = [
        (row.username_key, row.scope, row.locked_until, row.counted_since)
        for row in all_rows(app, select(Lockout).order_by(Lockout.username_key))
    ]
    events = [row.event for row in all_rows(app, select(AuditEvent).order_by(AuditEvent.id))]
    return users, sessions, locks, events


# --- markup shows as text -----------------------------------------------------------------


def test_markup_in_names_addresses_and_user_agents_is_text_everywhere(console, root, clock):
    mallory = create_user(console, "mallory", email=MARKUP_EMAIL, full_name=SCRIPT)
    logged_in(console, "mallory", HTTP_USER_AGENT=IMG)
    clock.advance(seconds=1)
    submit_login(browser(console, HTTP_USER_AGENT=IMG), "mallory", "wrong password", status=403)
    open_session(console, mallory, kind="api", user_agent=SCRIPT)
    admin = admin_browser(console)
    # an edit puts the name into the audit log's details too
    form = admin.get(user_path(mallory, "edit"), status=200).forms["edit-user"]
    form["full_name"] = IMG
    form.submit("submit", status=303)
    form = admin.get(user_path(mallory, "edit"), status=200).forms["edit-user"]
    form["full_name"] = SCRIPT
    form.submit("submit", status=303)
    pages = {
        "users": USERS,
        "search": f"{USERS}?q=mallory",
        "user": user_path(mallory),
        "edit": user_path(mallory, "edit"),
        "reset": user_path(mallory, "reset-password"),
        "delete": user_path(mallory, "delete"),
        "sessions": SESSIONS,
        "lockouts": LOCKOUTS,
        "audit": AUDIT,
        "audit filtered": f"{AUDIT}?user=mallory",
        "dashboard": "/admin",
    }
    for name, path in pages.items():
        page = admin.get(path, status=200)
        for raw in (SCRIPT, IMG, "<img", "<script"):
            assert raw not in page.text, f"{raw!r} unescaped on the {name} page"
    assert ESCAPED_SCRIPT in admin.get(USERS).text
    user_page = admin.get(user_path(mallory))
    assert ESCAPED_SCRIPT in user_page.text
    assert "tom&amp;jerry&#39;@example.org" in user_page.text
    assert ESCAPED_IMG in user_page.text  # her browser's user agent
    assert ESCAPED_SCRIPT in admin.get(user_path(mallory, "edit")).text
    assert ESCAPED_IMG in admin.get(SESSIONS).text
    assert ESCAPED_SCRIPT in admin.get(SESSIONS).text  # the API client's
    assert ESCAPED_IMG in admin.get(LOCKOUTS).text  # the failure's user agent
    assert ESCAPED_IMG in admin.get(AUDIT).text  # the edit's details
    # and as data: the cells hold the very text
    [row] = table_rows(admin.get(f"{USERS}?q=mallory"), "users")
    assert row[1:3] == [SCRIPT, MARKUP_EMAIL]


def test_typed_markup_comes_back_as_text(admin):
    for path, params in [
        (USERS, {"q": SCRIPT}),
        (AUDIT, {"user": SCRIPT}),
        (AUDIT, {"user": "alice", "since": SCRIPT}),
    ]:
        page = admin.get(path, params=params, status="*")
        assert page.status_int in (200, 400)
        assert_no_traceback(page)
        assert SCRIPT not in page.text
        assert ESCAPED_SCRIPT in page.text or "&lt;script&gt;" in page.text


def test_markup_in_a_new_users_refused_form_is_text(admin):
    form = admin.get(NEW_USER, status=200).forms["new-user"]
    form["username"] = "newbie"
    form["full_name"] = SCRIPT
    form["email"] = '"><script>alert(3)</script>@example.org'
    page = form.submit("submit", status=400)
    assert_no_traceback(page)
    assert "<script>" not in page.text


# --- CSRF -------------------------------------------------------------------------------


def console_posts(app: Any, alice: int, root: int) -> dict[str, tuple[str, dict[str, str]]]:
    """Every POST the console takes, with fields a browser would send (but the token)."""
    session = open_session(app, alice, ip="198.51.100.5")
    posts: dict[str, tuple[str, dict[str, str]]] = {
        "new user": (
            NEW_USER,
            {"username": "newbie", "temporary_password": OTHER_PASSWORD, "is_admin": "true"},
        ),
        "edit": (user_path(alice, "edit"), {"email": "x@example.org", "full_name": "X"}),
        "reset password": (
            user_path(alice, "reset-password"),
            {"temporary_password": OTHER_PASSWORD},
        ),
        "hardware token": (
            user_path(alice, "hardware-token"),
            {"secret": TOKEN_SECRET, "code": "123456", "period": "30", "digits": "6"},
        ),
        "unlock username": ("/admin/lockouts/unlock", {"username": "alice"}),
        "end session": (f"/admin/sessions/{session}/end", {}),
        "end all sessions": ("/admin/sessions/end-all", {}),
    }
    for action in ACTIONS:
        target = root if action.slug == "revoke-admin" else alice
        posts[action.slug] = (user_path(target, action.slug), {})
    return posts


@pytest.fixture
def prepared(console, root, alice, clock):
    """alice is locked out and has two-factor (so every action applies to her), and a
    second administrator exists (so none is refused for being the last)."""
    enrol(console, alice, clock)
    make_admin(console, "boss")
    for _ in range(10):
        submit_login(browser(console, ip="203.0.113.9"), "alice", "wrong", status="*")
    return console


@pytest.mark.parametrize("token", ["missing", "foreign", "empty"])
def test_every_console_post_needs_the_sessions_csrf_token(prepared, root, alice, token):
    console = prepared
    admin = admin_browser(console)
    other = admin_browser(console, "boss")
    foreign = csrf_token(other.get(USERS))
    posts = console_posts(console, alice, root)
    assert len(posts) == 7 + len(ACTIONS)
    admin.get(USERS, status=200)
    before = state(console)
    for name, (path, fields) in posts.items():
        data = dict(fields)
        if token == "foreign":
            data["csrf_token"] = foreign
        elif token == "empty":
            data["csrf_token"] = ""
        response = admin.post(path, data, status="*")
        assert_clean_4xx(response, 400)
        assert FORM_EXPIRED in response.text, name
        assert state(console) == before, f"{name} changed something without a valid token"
    # the administrator is still logged in and the forms work with the right token
    admin.get("/admin", status=200)


def test_a_token_sent_in_the_query_string_does_not_count(admin, console, alice):
    token = csrf_token(admin.get(USERS))
    before = state(console)
    response = admin.post(f"{user_path(alice, 'disable')}?csrf_token={token}", {}, status="*")
    assert_clean_4xx(response, 400)
    assert state(console) == before


# --- oversized, malformed and mistyped input -----------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        (USERS, {"q": "a" * 5000}, "Search for at most 200 characters."),
        (USERS, {"q": "al\x00ice"}, "The search contains a character that cannot be searched"),
        (USERS, {"status": "bogus"}, "Choose a status from the list."),
        (USERS, {"status": "\x00"}, "Choose a status from the list."),
        (USERS, {"status": "ACTIVE"}, "Choose a status from the list."),
        (AUDIT, {"event": "nope"}, "Choose an event type from the list."),
        (AUDIT, {"event": "login_success\x00"}, "Choose an event type from the list."),
        (AUDIT, {"since": "yesterday"}, "From: enter a date and time such as"),
        (AUDIT, {"until": "2026-01-05T25:00"}, "Until: enter a date and time such as"),
        (AUDIT, {"until": "\x00"}, "Until: enter a date and time such as"),
        (AUDIT, {"since": "9" * 5000}, "From: enter a date and time such as"),
        (AUDIT, {"user": "a" * 5000}, "Enter a username of at most 150 characters."),
        (AUDIT, {"user": "al\x00ice"}, "Enter a username of at most 150 characters."),
        (AUDIT_CSV, {"event": "nope"}, "Choose an event type from the list."),
        (AUDIT_CSV, {"since": "yesterday"}, "From: enter a date and time such as"),
        (USERS, {"after": "x" * 5000}, "page link"),
        (SESSIONS, {"before": "!!"}, "page link"),
    ],
)
def test_bad_query_values_are_a_clear_400(admin, console, path, params, message):
    response = admin.get(path, params=params, status="*")
    assert_clean_4xx(response, 400)
    assert message in alert(response)
    assert audit_events(console, "audit_exported") == []


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (USERS, {"q": "Zoë 😀 ß"}),
        (USERS, {"q": "%_\\"}),
        (USERS, {"q": "  "}),
        (AUDIT, {"user": "ünïcödé 😀"}),
        (AUDIT, {"user": "   "}),
        (AUDIT, {"since": "2026-01-05", "until": "2026-01-06T00:00+02:00"}),
    ],
)
def test_unicode_in_search_and_filters(admin, path, params):
    response = admin.get(path, params=params, status=200)
    assert_no_traceback(response)


@pytest.mark.parametrize(
    "url",
    [
        f"{USERS}?q=%ff%fe",
        f"{USERS}?status=%ff",
        f"{AUDIT}?user=%c3%28",
        f"{AUDIT}?event=%ff",
        f"{AUDIT}?since=%ed%a0%80",
    ],
)
def test_query_values_that_are_not_utf8(admin, url):
    response = admin.get(url, status="*")
    assert_clean_4xx(response, 400)


@pytest.mark.parametrize(
    "path",
    [
        user_path(2**31),
        user_path(2**31, "edit"),
        user_path(2**63, "reset-password"),
        user_path(2**64, "delete"),
        f"/admin/sessions/{2**31}/end",
        user_path(10**40),
        f"{USERS}/{'9' * 5000}",
        f"/admin/sessions/{'9' * 5000}/end",
        f"{USERS}/{'0' * 4999}1/edit",
    ],
)
def test_ids_beyond_any_row_are_404(admin, path):
    response = admin.get(path, status="*")
    assert_clean_4xx(response, 404)


@pytest.mark.parametrize("slug", [action.slug for action in ACTIONS])
def test_post_to_an_action_beyond_any_row_is_404(admin, slug):
    token = csrf_token(admin.get(USERS))
    for number in (str(2**31), str(10**30), "9" * 5000):
        response = admin.post(f"{USERS}/{number}/{slug}", {"csrf_token": token}, status="*")
        assert_clean_4xx(response, 404)


def test_huge_full_name_is_refused(admin, console, alice):
    before = state(console)
    form = admin.get(user_path(alice, "edit"), status=200).forms["edit-user"]
    form["full_name"] = "x" * 5000
    response = form.submit("submit", status="*")
    assert_clean_4xx(response, 400)
    assert "Use at most 200 characters." in field_errors(response)
    assert state(console) == before
    form = admin.get(NEW_USER, status=200).forms["new-user"]
    form["username"] = "newbie"
    form["full_name"] = "y" * 5000
    assert_clean_4xx(form.submit("submit", status="*"), 400)
    assert state(console) == before


def test_huge_hardware_token_secret_is_refused_and_not_echoed(admin, console, alice, clock):
    before = state(console)
    form = admin.get(user_path(alice, "hardware-token"), status=200).forms["hardware-token"]
    huge = "A" * 5000
    form["secret"] = huge
    form["code"] = Token(TOKEN_SECRET, clock, period=30, algorithm="sha1").now()
    response = form.submit("submit", status="*")
    assert_clean_4xx(response, 400)
    assert any("at most 200 characters" in message for message in field_errors(response))
    assert huge not in response.text
    assert state(console) == before


@pytest.mark.parametrize(
    "secret",
    ["not base32 at all!", "\x00" * 16, "😀" * 20, "A", "ABCDEFGH" * 25],
)
def test_malformed_hardware_token_secrets_are_refused(admin, console, alice, secret):
    before = state(console)
    form = admin.get(user_path(alice, "hardware-token"), status=200).forms["hardware-token"]
    form["secret"] = secret
    form["code"] = "123456"
    response = form.submit("submit", status="*")
    assert_clean_4xx(response, 400)
    assert alert(response) or field_errors(response)
    assert state(console) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [("period", "45"), ("digits", "7"), ("algorithm", "md5"), ("period", "30\x00")],
)
def test_hardware_token_choices_outside_the_list(admin, console, alice, clock, field, value):
    page = admin.get(user_path(alice, "hardware-token"), status=200)
    token = Token(TOKEN_SECRET, clock, period=30, algorithm="sha1")
    fields = {
        "csrf_token": csrf_token(page),
        "secret": TOKEN_SECRET,
        "code": token.now(),
        "period": "30",
        "digits": "6",
        "algorithm": "sha1",
        field: value,
    }
    before = state(console)
    response = admin.post(user_path(alice, "hardware-token"), fields, status="*")
    assert_clean_4xx(response, 400)
    assert state(console) == before


def test_huge_and_nul_usernames_to_unlock(admin, console):
    token = csrf_token(admin.get(LOCKOUTS))
    before = state(console)
    for username in ("a" * 5000, "gh\x00ost"):
        response = admin.post(
            "/admin/lockouts/unlock", {"csrf_token": token, "username": username}, status="*"
        )
        assert_clean_4xx(response, 400)
        assert alert(response)
    assert state(console) == before


def test_huge_temporary_password_is_refused(admin, console, alice):
    before = state(console)
    form = admin.get(user_path(alice, "reset-password"), status=200).forms["reset-password"]
    form["temporary_password"] = "correct horse " * 400
    response = form.submit("submit", status="*")
    assert_clean_4xx(response, 400)
    assert state(console) == before


# --- repeated fields --------------------------------------------------------------------------


def test_repeated_query_fields(admin, console):
    create_user(console, "bob", status=UserStatus.DISABLED)
    for query in (
        "status=active&status=disabled",
        "q=bob&q=alice&q=",
        "after=&after=",
    ):
        response = admin.get(f"{USERS}?{query}", status="*")
        assert response.status_int in (200, 400), query
        assert_no_traceback(response)
    for query in ("event=login_success&event=nope", "user=a&user=b", "since=2026-01-05&since=x"):
        response = admin.get(f"{AUDIT}?{query}", status="*")
        assert response.status_int in (200, 400), query
        assert_no_traceback(response)


def test_repeated_form_fields(admin, console, alice):
    token = csrf_token(admin.get(USERS))
    response = admin.post(
        user_path(alice, "edit"),
        [
            ("csrf_token", token),
            ("email", "one@example.org"),
            ("email", "two@example.org"),
            ("full_name", "A"),
            ("full_name", "B"),
        ],
        status="*",
    )
    assert response.status_int in (303, 400)
    assert_no_traceback(response)
    email = get_user(console, alice).email
    assert email in ("alice@example.org", "one@example.org", "two@example.org")
    for slug in ("unlock", "disable", "end-sessions"):
        response = admin.post(
            user_path(alice, slug),
            [("csrf_token", token), ("csrf_token", token), ("next", "/"), ("next", "//evil")],
            status="*",
        )
        assert response.status_int in (303, 400), slug
        assert_no_traceback(response)
        if response.status_int == 303:
            assert "evil" not in response.headers["Location"]


# --- users that are gone --------------------------------------------------------------------


@pytest.mark.parametrize("slug", [action.slug for action in ACTIONS if action.slug != "delete"])
def test_an_action_on_a_user_deleted_meanwhile_is_404(console, root, alice, slug, clock):
    enrol(console, alice, clock)
    make_admin(console, "boss")
    admin = admin_browser(console)
    token = csrf_token(admin.get(user_path(alice)))
    boss = admin_browser(console, "boss")
    page = boss.get(user_path(alice, "delete"), status=200)
    page.forms["confirm-delete"].submit("submit", status=303)
    response = admin.post(user_path(alice, slug), {"csrf_token": token}, status="*")
    assert_clean_4xx(response, 404)
    for path in ("edit", "reset-password", "hardware-token"):
        assert_clean_4xx(admin.post(user_path(alice, path), {"csrf_token": token}, status="*"), 404)
        assert_clean_4xx(admin.get(user_path(alice, path), status="*"), 404)
    assert_clean_4xx(admin.get(user_path(alice), status="*"), 404)


def test_the_404_for_a_deleted_user_says_so(admin, console, alice):
    """Not the generic "no page at this address": the page was there a moment ago."""
    token = csrf_token(admin.get(user_path(alice)))
    admin.get(user_path(alice, "delete")).forms["confirm-delete"].submit("submit", status=303)
    for response in (
        admin.get(user_path(alice), status=404),
        admin.post(user_path(alice, "unlock"), {"csrf_token": token}, status=404),
    ):
        assert alert(response) == "There is no such user: it may have been deleted."


def test_deleting_twice_is_404_the_second_time(admin, console, alice):
    page = admin.get(user_path(alice, "delete"), status=200)
    form = page.forms["confirm-delete"]
    form.submit("submit", status=303)
    response = form.submit("submit", status="*")
    assert_clean_4xx(response, 404)
    assert len(audit_events(console, "user_deleted")) == 1


# --- two administrators at the same moment (PostgreSQL) -------------------------------------


@pytest.fixture
def concurrent_console(postgres_url, clock):
    engine = make_engine(postgres_url, pool_size=10, max_overflow=5, pool_timeout=60)
    app = app_on_engine(engine, clock, **{"mfa.required_for": "none"})
    yield app
    engine.dispose()


def at_once(app: Any, plans: list[tuple[str, int, str]]) -> list[int]:
    """Each (administrator, target id, action) is confirmed in its own browser, all at
    once; returns the status codes."""

    def prepare(number: int) -> Any:
        username, target, slug = plans[number]
        client = browser(app, ip=f"192.0.2.{number + 20}")
        submit_login(client, username, GOOD_PASSWORD, status=303)
        form = client.get(user_path(target, slug), status=200).forms[f"confirm-{slug}"]
        return lambda: form.submit("submit", status="*")

    responses = at_the_same_moment(len(plans), prepare)
    for response in responses:
        assert_no_traceback(response)
    return sorted(response.status_int for response in responses)


def assert_no_deadlock(caplog: Any) -> None:
    # each removal takes the administrators' lock before its target's row, so none
    # waits for another in a circle (a deadlock is retried, and may still end in a
    # 503, but the error page logs every attempt)
    errors = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert not errors, errors


def active_admins(app: Any) -> list[str]:
    return sorted(
        user.username
        for user in all_rows(app, select(User))
        if user.is_admin and user.status == "active"
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("delete", "delete"),
        ("disable", "disable"),
        ("revoke-admin", "revoke-admin"),
        ("delete", "disable"),
        ("revoke-admin", "delete"),
    ],
)
def test_two_administrators_removing_each_other(concurrent_console, caplog, first, second):
    app = concurrent_console
    root = make_admin(app, ADMIN)
    boss = make_admin(app, "boss")
    statuses = at_once(app, [(ADMIN, boss, first), ("boss", root, second)])
    # one wins (303); the other is refused (400), or finds itself logged out (303 to
    # the login page, or a 404 when it is itself gone): never both, never a 500
    assert all(status in (303, 400, 404, 409) for status in statuses), statuses
    survivors = active_admins(app)
    assert len(survivors) == 1, survivors
    removals = [
        e
        for e in all_rows(app, select(AuditEvent))
        if e.event in ("user_deleted", "user_disabled", "admin_revoked")
    ]
    assert len(removals) == 1, [(e.event, e.actor_name, e.target_name) for e in removals]
    assert removals[0].actor_name in (ADMIN, "boss")
    assert removals[0].target_name != removals[0].actor_name
    assert removals[0].actor_name in survivors
    assert_no_deadlock(caplog)


@pytest.mark.parametrize("slug", ["delete", "disable", "revoke-admin"])
def test_three_administrators_removing_one_another(concurrent_console, caplog, slug):
    app = concurrent_console
    ids = {name: make_admin(app, name) for name in ("ann", "ben", "cat")}
    statuses = at_once(
        app,
        [
            ("ann", ids["ben"], slug),
            ("ben", ids["cat"], slug),
            ("cat", ids["ann"], slug),
        ],
    )
    assert all(status in (303, 400, 404, 409) for status in statuses), statuses
    assert len(active_admins(app)) >= 1
    assert_no_deadlock(caplog)


# --- a page that is out of date (another administrator acted first), or forged -------------


@pytest.mark.parametrize(
    ("slug", "event", "whom"),
    [
        ("approve", "user_approved", "alice"),
        ("enable", "user_enabled", "alice"),
        ("force-password-change", "password_change_forced", "alice"),
        ("remove-two-factor", "two_factor_removed", "alice"),
        ("grant-admin", "admin_granted", ADMIN),
        ("revoke-admin", "admin_revoked", "alice"),
    ],
)
def test_an_action_that_no_longer_applies_changes_nothing(
    admin, console, root, alice, mail_dir, slug, event, whom
):
    """alice is active, has no two-factor, no forced change and no rights to lose;
    root is an administrator already."""
    target = alice if whom == "alice" else root
    if slug == "force-password-change":
        page = admin.get(user_path(target), status=200)
        button = next(f for f in page.forms.values() if f.action.endswith(slug))
        button.submit(status=303)  # the first click does it; the second is stale
        before = state(console)
        response = button.submit(status="*")
    else:
        token = csrf_token(admin.get(user_path(target)))
        before = state(console)
        response = admin.post(user_path(target, slug), {"csrf_token": token}, status="*")
    assert_clean_4xx(response, 409)
    assert whom in alert(response)
    assert state(console) == before
    assert len(audit_events(console, event)) == (1 if slug == "force-password-change" else 0)
    assert not mail_dir.exists() or not list(mail_dir.iterdir())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("full_name", "Al\x00ice"),
        ("full_name", "x" * 201),
        ("email", "al\x00ice@example.org"),
        ("email", "a" * 250 + "@example.org"),
        ("email", "alice@exa\x00mple.org"),
    ],
)
def test_nul_and_oversized_values_in_the_edit_form(admin, console, alice, field, value):
    before = state(console)
    form = admin.get(user_path(alice, "edit"), status=200).forms["edit-user"]
    form[field] = value
    response = form.submit("submit", status="*")
    assert_clean_4xx(response, 400)
    assert alert(response) or field_errors(response)
    assert state(console) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("username", "new\x00bie"),
        ("username", "n" * 151),
        ("username", "System"),
        ("full_name", "New\x00Bie"),
        ("email", "newbie@example\x00.org"),
        ("temporary_password", "x" * 1025),
    ],
)
def test_nul_and_oversized_values_in_the_new_user_form(admin, console, field, value):
    before = state(console)
    form = admin.get(NEW_USER, status=200).forms["new-user"]
    form["username"] = "newbie"
    form[field] = value
    response = form.submit("submit", status="*")
    assert_clean_4xx(response, 400)
    assert alert(response) or field_errors(response)
    assert state(console) == before
