"""Regression tests for the review fixes, through the full WSGI app.

Each test names the defect it guards against; it failed before the fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from pyramid.authorization import Allow, Everyone
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from sqlalchemy import select, text

from camauth.db import make_engine
from camauth.models import LoginFailure, User
from camauth.web.security import VIEW

from ..conftest import (
    GOOD_PASSWORD,
    login,
)
from .conftest import (
    all_rows,
    app_on_engine,
    assert_no_traceback,
    browser,
    create_user,
    failure_count,
    get_user,
    session_rows,
)

WRONG = "not the right password at all"


def location_path(response: Any) -> str:
    """The path (and query, if any) a redirect points to."""
    parts = urlsplit(response.location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- refusals are kept under a host's commit veto (web/navigation.py commit_anyway) ---


def with_commit_veto(config: Configurator) -> None:
    config.add_settings({"tm.commit_veto": "pyramid_tm.default_commit_veto"})


def test_failures_are_recorded_and_lock_under_a_commit_veto(app_factory):
    app = app_factory(configure=with_commit_veto, **{"lockout.threshold": "3"})
    create_user(app, "alice")
    client = browser(app)
    login(client, "alice", WRONG, status=403)
    login(client, "alice", WRONG, status=403)
    # the third failure locks the account
    login(client, "alice", WRONG, status=429)
    assert failure_count(app, "alice") == 3
    # locked: even the right password is refused, and nothing more is recorded
    login(client, "alice", GOOD_PASSWORD, status=429)
    assert failure_count(app, "alice") == 3


# --- next= is printable ASCII only (web/navigation.py safe_next) ----------------------

UNSAFE_NEXT = ["/☃", "/café", "/a b", "/a\tb", "/a\u00a0b", "/a\u2028b"]


@pytest.mark.parametrize("next_value", UNSAFE_NEXT)
def test_login_posting_a_non_ascii_or_spaced_next_goes_home(app, next_value):
    create_user(app, "alice")
    client = browser(app)
    form = client.get("/login").forms["login"]
    form["username"] = "alice"
    form["password"] = GOOD_PASSWORD
    form["next"].force_value(next_value)
    response = form.submit("submit", status=303)
    assert location_path(response) == "/"
    client.get("/", status=200)


@pytest.mark.parametrize("query", ["next=%2F%E2%98%83", "next=/%E2%98%83", "next=%2Fa%20b"])
def test_login_page_with_a_non_ascii_next_goes_home_when_logged_in(app, query):
    create_user(app, "alice")
    client = browser(app)
    login(client, "alice", GOOD_PASSWORD, status=303)
    response = client.get(f"/login?{query}", status=303)
    assert location_path(response) == "/"


@pytest.mark.parametrize("query", ["next=%2F%E2%98%83", "next=%2Fa%20b"])
def test_login_page_drops_a_non_ascii_next_from_its_form(app, query):
    create_user(app, "alice")
    client = browser(app)
    page = client.get(f"/login?{query}", status=200)
    assert page.forms["login"]["next"].value == ""


# --- forms in other charsets are a 400 (web/views/errors.py) --------------------------


def post_login_form(client: Any, charset: str) -> Any:
    """A complete, correct login form posted with ``charset`` in its content type."""
    form = client.get("/login").forms["login"]
    form["username"] = "alice"
    form["password"] = GOOD_PASSWORD
    body = urlencode(form.submit_fields("submit")).encode("ascii")
    content_type = f"application/x-www-form-urlencoded; charset={charset}"
    return client.post("/login", body, content_type=content_type, status="*")


@pytest.mark.parametrize("charset", ["latin-1", "utf-16", "bogus-xyz"])
def test_login_form_in_another_charset_is_400(app, charset):
    create_user(app, "alice")
    client = browser(app)
    response = post_login_form(client, charset)
    assert response.status_int == 400
    assert "The request is not valid UTF-8 text." in response.text
    assert_no_traceback(response)
    assert failure_count(app) == 0
    assert session_rows(app) == []


def test_the_same_form_in_utf8_logs_in(app):
    create_user(app, "alice")
    assert post_login_form(browser(app), "UTF-8").status_int == 303


# --- one User instance per request; changes to request.user saved (web/session.py) ----


def host_views(config: Configurator) -> None:
    def all_users(request: Request) -> Response:
        users = request.dbsession.scalars(select(User).order_by(User.id)).all()
        me = request.user
        same = [user for user in users if user is me]
        return Response(f"{me.username} of {len(users)}, same={len(same)}")

    def rename(request: Request) -> Response:
        request.user.full_name = "Alice Renamed"
        return Response("renamed")

    config.add_route("host.all_users", "/host/all-users")
    config.add_view(all_users, route_name="host.all_users", request_method="GET")

    def edit_then_read_user(request: Request) -> Response:
        alice = request.dbsession.scalars(select(User).where(User.username == "alice")).one()
        alice.full_name = "Edited Via Query"
        return Response(f"{request.user.full_name}, same={request.user is alice}")

    config.add_route("host.edit_then_read", "/host/edit-then-read")
    config.add_view(edit_then_read_user, route_name="host.edit_then_read", request_method="GET")
    config.add_route("host.rename", "/host/rename")
    config.add_view(rename, route_name="host.rename", request_method="GET")


def test_request_user_after_a_query_loading_all_users_is_that_instance(app_factory):
    app = app_factory(configure=host_views)
    create_user(app, "alice")
    create_user(app, "bob")
    client = browser(app)
    login(client, "alice", GOOD_PASSWORD, status=303)
    response = client.get("/host/all-users", status=200)
    assert response.text == "alice of 2, same=1"


def test_unsaved_change_to_the_queried_user_survives_reading_request_user(app_factory):
    app = app_factory(configure=host_views)
    user_id = create_user(app, "alice", full_name="Alice")
    client = browser(app)
    login(client, "alice", GOOD_PASSWORD, status=303)
    response = client.get("/host/edit-then-read", status=200)
    assert response.text == "Edited Via Query, same=True"
    assert get_user(app, user_id).full_name == "Edited Via Query"


def test_change_to_request_user_alone_is_saved(app_factory):
    app = app_factory(configure=host_views)
    user_id = create_user(app, "alice", full_name="Alice")
    client = browser(app)
    login(client, "alice", GOOD_PASSWORD, status=303)
    client.get("/host/rename", status=200)
    assert get_user(app, user_id).full_name == "Alice Renamed"


# --- X-Forwarded-For is not believed (web/context.py, web/session.py) -----------------


def test_forged_forwarded_for_does_not_escape_the_ip_throttle(app_factory):
    app = app_factory(**{"lockout.ip_threshold": "3", "lockout.threshold": "100"})
    client = browser(app, ip="203.0.113.66")
    for number in range(4):
        forged = {"X-Forwarded-For": f"198.51.100.{number + 1}"}
        login(client, f"victim{number}", WRONG, headers=forged, status=403)
    # more than ip_threshold failures from REMOTE_ADDR: throttled, whatever the header says
    refused = login(
        client, "victim9", WRONG, headers={"X-Forwarded-For": "198.51.100.99"}, status="*"
    )
    assert refused.status_int == 429
    ips = [row.ip for row in all_rows(app, select(LoginFailure))]
    assert ips == ["203.0.113.66"] * 4


def test_forged_forwarded_for_is_not_the_address_of_a_bound_session(app_factory):
    app = app_factory(**{"session.bind_ip": "true"})
    create_user(app, "alice")
    client = browser(app, ip="203.0.113.66")
    login(client, "alice", GOOD_PASSWORD, headers={"X-Forwarded-For": "198.51.100.1"}, status=303)
    # the session belongs to REMOTE_ADDR, so it works without (or with another) header
    client.get("/", status=200)
    client.get("/", headers={"X-Forwarded-For": "198.51.100.2"}, status=200)


# --- the home redirect below SCRIPT_NAME (web/navigation.py home_path) ----------------


def test_login_without_next_under_a_script_name_goes_to_the_mounted_home(app):
    create_user(app, "alice")
    client = browser(app, SCRIPT_NAME="/auth")
    form = client.get("/login").forms["login"]
    assert form.action == "/auth/login"
    form["username"] = "alice"
    form["password"] = GOOD_PASSWORD
    # WebTest would post to SCRIPT_NAME + action; the app below /auth sees /login
    response = client.post("/login", form.submit_fields("submit"), status=303)
    assert response.location.endswith("/auth/")
    assert location_path(response) == "/auth/"


# --- host ACLs for anonymous visitors (web/security.py) -------------------------------


class OpenRoot:
    __acl__ = [(Allow, Everyone, "view")]

    def __init__(self, request: Request) -> None:
        self.request = request


def host_with_acl(config: Configurator) -> None:
    def page(request: Request) -> Response:
        return Response("open to all")

    def members(request: Request) -> Response:
        return Response("members only")

    config.set_root_factory(OpenRoot)
    config.add_route("host.open", "/open")
    config.add_view(page, route_name="host.open", permission="view")
    config.add_route("host.members", "/members")
    config.add_view(members, route_name="host.members", permission=VIEW)


def test_host_acl_granting_everyone_opens_the_view_anonymously(app_factory):
    app = app_factory(configure=host_with_acl)
    client = browser(app)
    assert client.get("/open", status=200).text == "open to all"
    refused = client.get("/members", status=303)
    assert location_path(refused) == "/login?next=%2Fmembers"
    create_user(app, "alice")
    login(client, "alice", GOOD_PASSWORD, status=303)
    assert client.get("/open", status=200).text == "open to all"
    assert client.get("/members", status=200).text == "members only"


# --- no pooled connection left in autocommit (services/session_lookup.py) -------------


@pytest.fixture
def one_connection_app(postgres_url: str, clock: Any) -> Iterator[Any]:
    """camauth on PostgreSQL with a pool of one connection whose statements time out
    after 200 ms (a host application may hand camauth its own engine)."""
    engine = make_engine(
        postgres_url,
        connect_args={"options": "-c statement_timeout=200"},
        pool_size=1,
        max_overflow=0,
        pool_timeout=30,
    )
    app = app_on_engine(engine, clock)
    yield app
    app.registry["camauth.engine"].dispose()


def test_failed_session_lookup_leaves_no_connection_in_autocommit(one_connection_app, postgres_url):
    app = one_connection_app
    engine = app.registry["camauth.engine"]
    create_user(app, "alice")
    client = browser(app)
    login(client, "alice", GOOD_PASSWORD, status=303)
    client.get("/", status=200)

    blocker = make_engine(postgres_url)
    try:
        with blocker.connect() as other:
            other.execute(text("LOCK TABLE web_sessions IN ACCESS EXCLUSIVE MODE"))
            # the lookup waits for the lock until its statement times out
            unavailable = client.get("/", status=503)
            assert_no_traceback(unavailable)
            other.rollback()
    finally:
        blocker.dispose()

    pooled = engine.raw_connection()  # the pool's only connection: the one that failed
    try:
        assert pooled.driver_connection.autocommit is False
    finally:
        pooled.close()
    assert client.get("/", status=200).status_int == 200
