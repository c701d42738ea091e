"""The database-backed ``ISession`` as a browser meets it (PRODUCT §5)."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

import pytest
from pyramid.config import Configurator
from pyramid.interfaces import ISession
from pyramid.request import Request
from sqlalchemy import select
from zope.interface.verify import verifyObject

from camauth.models import UserStatus, WebSession
from camauth.services import accounts
from camauth.web.session import CSRF_COOKIE, SESSION_COOKIE, DatabaseSession

from ..conftest import GOOD_PASSWORD, app_context, login
from .conftest import (
    HOME_LOGIN_REDIRECT,
    StatementLog,
    all_rows,
    audit_events,
    browser,
    create_user,
    engine_of,
    logout,
    session_rows,
    set_cookie_headers,
    table_counts,
)

# --- a probe app: camauth plus two tiny views that use request.session ---------


def _probe_routes(seen: list[Any]) -> Any:
    def configure(config: Configurator) -> None:
        def keep(request: Request) -> dict[str, Any]:
            seen.append(request.session)
            return {"user": request.user.username if request.user else None}

        def store(request: Request) -> dict[str, Any]:
            request.session[request.GET["key"]] = request.GET["value"]
            return {"stored": True}

        config.add_route("probe.keep", "/probe/keep")
        config.add_view(keep, route_name="probe.keep", renderer="json")
        config.add_route("probe.store", "/probe/store")
        config.add_view(store, route_name="probe.store", renderer="json")

    return configure


@pytest.fixture
def seen() -> list[Any]:
    return []


@pytest.fixture
def probe_app(app_factory, seen):
    return app_factory(configure=_probe_routes(seen))


def test_request_session_provides_pyramid_isession(probe_app, seen):
    client = browser(probe_app)
    client.get("/probe/keep")
    create_user(probe_app, "alice")
    login(client, "alice", GOOD_PASSWORD, status=303)
    client.get("/probe/keep")
    anonymous, logged_in = seen
    for session in (anonymous, logged_in):
        assert isinstance(session, DatabaseSession)
        assert verifyObject(ISession, session)
    assert anonymous.new is True
    assert logged_in.new is False
    assert logged_in.user.username == "alice"


# --- nothing stored for visitors who store nothing ------------------------------


def test_login_page_writes_nothing_and_sets_no_session_cookie(testapp, app):
    create_user(app, "alice")
    before = table_counts(app)
    with StatementLog(engine_of(app)) as log:
        first = testapp.get("/login")
        second = testapp.get("/login")
    assert log.writes() == []
    assert table_counts(app) == before
    assert set_cookie_headers(first, SESSION_COOKIE) == []
    assert set_cookie_headers(second, SESSION_COOKIE) == []
    # the anonymous CSRF token lives in its own cookie, set once
    assert len(set_cookie_headers(first, CSRF_COOKIE)) == 1
    assert set_cookie_headers(second, CSRF_COOKIE) == []
    assert first.forms["login"]["csrf_token"].value == testapp.cookies[CSRF_COOKIE]
    assert second.forms["login"]["csrf_token"].value == testapp.cookies[CSRF_COOKIE]


def test_anonymous_health_check_sets_no_cookies(testapp, app):
    before = table_counts(app)
    response = testapp.get("/healthz")
    assert response.headers.getall("Set-Cookie") == []
    assert table_counts(app) == before


def test_anonymous_home_redirects_without_storing_anything(testapp, app):
    before = table_counts(app)
    response = testapp.get("/", status=303)
    assert urlsplit(response.headers["Location"]).path == "/login"
    assert set_cookie_headers(response, SESSION_COOKIE) == []
    assert table_counts(app) == before


# --- the token ------------------------------------------------------------------


def test_only_the_sha256_of_the_token_is_stored(testapp, app):
    create_user(app, "alice")
    login(testapp, "alice", GOOD_PASSWORD, status=303)
    token = testapp.cookies[SESSION_COOKIE]
    assert len(token) >= 22  # >= 128 bits in URL-safe base64
    (row,) = session_rows(app)
    assert row.token_digest == hashlib.sha256(token.encode()).hexdigest()
    ctx = app_context(app)
    try:
        raw = ctx.db.execute(select(WebSession.__table__)).all()
    finally:
        ctx.db.close()
    assert raw
    assert all(token not in str(value) for stored in raw for value in stored)


def test_login_issues_a_new_token_and_csrf_token(probe_app):
    """Session fixation: a token planted before login is worthless after it."""
    app = probe_app
    create_user(app, "alice")
    victim = browser(app)
    victim.get("/probe/store", params={"key": "theme", "value": "dark"})
    planted = victim.cookies[SESSION_COOKIE]
    assert len(session_rows(app)) == 1  # an anonymous session that stored something

    page = victim.get("/login")
    csrf_before = page.forms["login"]["csrf_token"].value
    form = page.forms["login"]
    form["username"] = "alice"
    form["password"] = GOOD_PASSWORD
    form.submit("submit", status=303)

    issued = victim.cookies[SESSION_COOKIE]
    assert issued != planted
    home = victim.get("/")
    csrf_after = home.html.find("input", attrs={"name": "csrf_token"})["value"]
    assert csrf_after != csrf_before
    # the attacker who planted the old token is not logged in
    attacker = browser(app, ip="203.0.113.66")
    attacker.set_cookie(SESSION_COOKIE, planted)
    assert attacker.get("/probe/keep").json == {"user": None}
    # what the visitor stored before logging in is kept
    (row,) = session_rows(app)
    assert '"theme":"dark"' in row.data


def test_login_from_an_anonymous_csrf_cookie_rotates_the_csrf_token(testapp, app):
    create_user(app, "alice")
    csrf_before = testapp.get("/login").forms["login"]["csrf_token"].value
    login(testapp, "alice", GOOD_PASSWORD, status=303)
    home = testapp.get("/")
    assert home.html.find("input", attrs={"name": "csrf_token"})["value"] != csrf_before
    assert CSRF_COOKIE not in testapp.cookies  # moved into the session row


# --- cookie flags ---------------------------------------------------------------


def _flags(header: str) -> dict[str, str]:
    parts = [part.strip() for part in header.split(";")][1:]
    return {
        name.lower(): value for name, _, value in (part.partition("=") for part in parts) if name
    }


def test_session_cookie_flags_in_development(testapp, app):
    create_user(app, "alice")
    response = login(testapp, "alice", GOOD_PASSWORD, status=303)
    (header,) = set_cookie_headers(response, SESSION_COOKIE)
    flags = _flags(header)
    assert "httponly" in flags
    assert flags["samesite"].lower() == "lax"
    assert flags["path"] == "/"
    assert "expires" not in flags
    assert "max-age" not in flags
    assert "secure" not in flags  # cookie_secure=false, as development.ini sets


def test_cookies_are_secure_by_default(app_factory):
    """Secure cookies carry the ``__Host-`` prefix: browsers then take them only
    from this host over https with path ``/`` and no Domain."""
    app = app_factory(**{"session.cookie_secure": None})
    create_user(app, "alice")
    client = browser(app, HTTP_REFERER="https://localhost/login")
    page = client.get("https://localhost/login")
    assert set_cookie_headers(page, CSRF_COOKIE) == []  # only under the prefixed name
    (csrf_header,) = set_cookie_headers(page, "__Host-" + CSRF_COOKIE)
    assert "secure" in _flags(csrf_header)
    form = page.forms["login"]
    form["username"] = "alice"
    form["password"] = GOOD_PASSWORD
    response = form.submit("submit", status=303)
    (header,) = set_cookie_headers(response, "__Host-" + SESSION_COOKIE)
    flags = _flags(header)
    assert "secure" in flags
    assert flags["path"] == "/" and "domain" not in flags
    assert "httponly" in flags
    assert flags["samesite"].lower() == "lax"
    assert "expires" not in flags
    assert "max-age" not in flags
    (device,) = set_cookie_headers(response, "__Host-camauth_device")
    device_flags = _flags(device)
    assert {"secure", "httponly", "max-age"} <= set(device_flags)
    assert device_flags["path"] == "/" and "domain" not in device_flags
    assert device_flags["samesite"].lower() == "lax"
    assert "Signed in as alice" in client.get("https://localhost/").text


# --- timeouts -------------------------------------------------------------------


def test_idle_timeout(testapp, app, clock):
    create_user(app, "alice")
    login(testapp, "alice", GOOD_PASSWORD, status=303)
    # activity refreshes the idle timer: 29 + 29 minutes is longer than 30 in all
    clock.advance(minutes=29)
    testapp.get("/", status=200)
    clock.advance(minutes=29)
    testapp.get("/", status=200)
    clock.advance(minutes=31)
    response = testapp.get("/", status=303)
    assert response.headers["Location"].endswith(HOME_LOGIN_REDIRECT)
    assert SESSION_COOKIE not in testapp.cookies  # the dead cookie is cleared


def test_absolute_timeout(testapp, app, clock):
    create_user(app, "alice")
    login(testapp, "alice", GOOD_PASSWORD, status=303)
    for _ in range(35):  # 35 x 20 minutes = 11 h 40 min of steady activity
        clock.advance(minutes=20)
        testapp.get("/", status=200)
    clock.advance(minutes=20)  # 12 h after login
    response = testapp.get("/", status=303)
    assert response.headers["Location"].endswith(HOME_LOGIN_REDIRECT)


def test_last_seen_is_written_at_most_once_per_touch_interval(testapp, app, clock):
    user_id = create_user(app, "alice")
    login(testapp, "alice", GOOD_PASSWORD, status=303)
    (row,) = session_rows(app, user_id)
    logged_in_at = row.last_seen_at
    with StatementLog(engine_of(app)) as log:
        for _ in range(5):  # 50 seconds of requests inside one minute
            clock.advance(seconds=10)
            testapp.get("/", status=200)
    assert log.updates_of("web_sessions") == []
    assert session_rows(app, user_id)[0].last_seen_at == logged_in_at

    clock.advance(seconds=10)  # now a minute since the last write
    with StatementLog(engine_of(app)) as log:
        testapp.get("/", status=200)
        testapp.get("/", status=200)
    assert len(log.updates_of("web_sessions")) == 1
    assert session_rows(app, user_id)[0].last_seen_at == clock()


# --- binding, one session per user, logout, disabling ---------------------------


def test_bind_ip_treats_another_address_as_logged_out(app_factory):
    app = app_factory(**{"session.bind_ip": "true"})
    create_user(app, "alice")
    owner = browser(app, ip="192.0.2.10")
    login(owner, "alice", GOOD_PASSWORD, status=303)
    thief = browser(app, ip="203.0.113.66")
    thief.set_cookie(SESSION_COOKIE, owner.cookies[SESSION_COOKIE])
    response = thief.get("/", status=303)
    assert response.headers["Location"].endswith(HOME_LOGIN_REDIRECT)
    assert "Signed in as alice" in owner.get("/").text


def test_without_bind_ip_another_address_keeps_the_session(testapp, app):
    create_user(app, "alice")
    login(testapp, "alice", GOOD_PASSWORD, status=303)
    moved = browser(app, ip="203.0.113.66")
    moved.set_cookie(SESSION_COOKIE, testapp.cookies[SESSION_COOKIE])
    assert "Signed in as alice" in moved.get("/").text


def test_one_session_per_user(app_factory):
    app = app_factory()
    user_id = create_user(app, "alice")
    first, second = browser(app), browser(app, ip="192.0.2.11")
    login(first, "alice", GOOD_PASSWORD, status=303)
    login(second, "alice", GOOD_PASSWORD, status=303)
    assert first.get("/", status=303).headers["Location"].endswith(HOME_LOGIN_REDIRECT)
    assert "Signed in as alice" in second.get("/").text
    assert len(session_rows(app, user_id)) == 1
    # the first session's end is audited, by the same statement on PostgreSQL
    [ended] = audit_events(app, "session_ended")
    assert (ended.target_id, ended.target_name, ended.details) == (user_id, "alice", {"count": 1})
    assert ended.ip == "192.0.2.11"


def test_several_sessions_when_one_per_user_is_off(app_factory):
    app = app_factory(**{"session.one_per_user": "false"})
    user_id = create_user(app, "alice")
    first, second = browser(app), browser(app, ip="192.0.2.11")
    login(first, "alice", GOOD_PASSWORD, status=303)
    login(second, "alice", GOOD_PASSWORD, status=303)
    assert "Signed in as alice" in first.get("/").text
    assert "Signed in as alice" in second.get("/").text
    assert len(session_rows(app, user_id)) == 2


def test_logout_deletes_the_row_and_the_old_token_is_useless(testapp, app):
    user_id = create_user(app, "alice")
    login(testapp, "alice", GOOD_PASSWORD, status=303)
    token = testapp.cookies[SESSION_COOKIE]
    assert len(session_rows(app, user_id)) == 1
    response = logout(testapp)
    assert response.status_int == 303
    assert urlsplit(response.headers["Location"]).path == "/login"
    (cleared,) = set_cookie_headers(response, SESSION_COOKIE)
    assert "max-age=0" in cleared.lower()
    assert SESSION_COOKIE not in testapp.cookies
    assert session_rows(app) == []
    replay = browser(app)
    replay.set_cookie(SESSION_COOKIE, token)
    assert replay.get("/", status=303).headers["Location"].endswith(HOME_LOGIN_REDIRECT)
    assert session_rows(app) == []


def test_logout_is_a_post_with_csrf(testapp, app):
    create_user(app, "alice")
    login(testapp, "alice", GOOD_PASSWORD, status=303)
    testapp.get("/logout", status=404)
    testapp.post("/logout", status=400)  # no token
    assert "Signed in as alice" in testapp.get("/").text


def test_session_data_is_written_only_when_changed(probe_app):
    app = probe_app
    user_id = create_user(app, "alice")
    client = browser(app)
    login(client, "alice", GOOD_PASSWORD, status=303)
    engine = engine_of(app)
    with StatementLog(engine) as log:
        client.get("/probe/store", params={"key": "colour", "value": "green"})
    assert len(log.updates_of("web_sessions")) == 1
    assert '"colour":"green"' in session_rows(app, user_id)[0].data
    with StatementLog(engine) as log:
        client.get("/probe/store", params={"key": "colour", "value": "green"})
        client.get("/probe/keep")
        client.get("/")
    assert log.updates_of("web_sessions") == []
    with StatementLog(engine) as log:
        client.get("/probe/store", params={"key": "colour", "value": "blue"})
    assert len(log.updates_of("web_sessions")) == 1
    assert '"colour":"blue"' in session_rows(app, user_id)[0].data


def test_disabling_a_user_ends_their_sessions_at_once(testapp, app):
    user_id = create_user(app, "alice")
    login(testapp, "alice", GOOD_PASSWORD, status=303)
    assert len(session_rows(app, user_id)) == 1
    ctx = app_context(app)
    try:
        user = accounts.find_user(ctx, "alice")
        accounts.set_status(ctx, user, UserStatus.DISABLED)
        ctx.db.commit()
    finally:
        ctx.db.close()
    assert session_rows(app, user_id) == []  # before the browser asks for anything
    assert testapp.get("/", status=303).headers["Location"].endswith(HOME_LOGIN_REDIRECT)
    page = login(testapp, "alice", GOOD_PASSWORD, status=403)
    assert "Invalid username or password." in page.text
    assert all_rows(app, select(WebSession)) == []
