"""The required-actions gate through the full app (PRODUCT §3 expiry, §6, §7).

A user who owes an action (change password, then agree to terms) reaches only
that action's page and POST /logout; everything else answers 303 to the page
for the action, GET requests with ``?next=`` the original path and query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import webtest
from pyramid.authorization import Allow, Authenticated
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response

from camauth.clock import FakeClock
from camauth.services import accounts, terms
from camauth.web.security import ADMIN, VIEW

from ..conftest import GOOD_PASSWORD, app_context
from .conftest import (
    audit_events,
    browser,
    create_user,
    get_user,
    session_rows,
    submit_login,
)

REVISION = "2026-01"
OLD_REVISION = "2025-06"
MAX_AGE_DAYS = 90
TEMPORARY_PASSWORD = "temporary walrus umbrella sonata"
NEW_PASSWORD = "granite otter plays the kazoo at dawn"
PASSWORD_PAGE = "/account/password"
TERMS_PAGE = "/account/terms"
HOST_POSTS = "host.posts"


# --- a host application's own pages, which camauth knows nothing about -------------


class Projects:
    """A host context whose own permission an ACL grants to every logged-in user."""

    __acl__ = [(Allow, Authenticated, "projects.read")]

    def __init__(self, request: Request) -> None:
        self.request = request


def _show(request: Request) -> Response:
    user = request.user
    body = f"{request.matched_route.name} for {user.username}: {request.query_string}"
    return Response(body, content_type="text/plain")


def _save(request: Request) -> Response:
    request.registry[HOST_POSTS].append(request.user.username)
    return Response("saved", content_type="text/plain")


def add_host_pages(config: Configurator) -> None:
    config.registry[HOST_POSTS] = []
    config.add_route("reports", "/reports")
    config.add_view(_show, route_name="reports", request_method="GET", permission=VIEW)
    config.add_view(_save, route_name="reports", request_method="POST", permission=VIEW)
    config.add_route("projects", "/projects/{id}", factory=Projects)
    config.add_view(_show, route_name="projects", request_method="GET", permission="projects.read")
    config.add_route("console", "/console")
    config.add_view(_show, route_name="console", request_method="GET", permission=ADMIN)


@pytest.fixture
def gate_app(app_factory: Callable[..., Any]) -> Any:
    return app_factory(
        configure=add_host_pages,
        **{
            "terms.revision": REVISION,
            "password.max_age_days": str(MAX_AGE_DAYS),
            # two-factor is not part of these chains
            "mfa.required_for": "none",
        },
    )


# --- helpers -------------------------------------------------------------------------


def location(response: webtest.TestResponse) -> str:
    """The redirect's path and query (WebOb may make the Location absolute)."""
    assert response.status_int == 303, response.status
    parts = urlsplit(response.headers["Location"])
    assert parts.netloc in ("", "localhost"), response.headers["Location"]
    return parts.path + (f"?{parts.query}" if parts.query else "")


def redirect_target(response: webtest.TestResponse) -> tuple[str, str | None]:
    """(path, next) of a 303; next is None when the redirect carries none."""
    parts = urlsplit(location(response))
    query = parse_qs(parts.query, keep_blank_values=True)
    assert set(query) <= {"next"}, parts.query
    return parts.path, query["next"][0] if "next" in query else None


def agree(app: Any, user_id: int, revision: str) -> None:
    ctx = app_context(app)
    try:
        user = accounts.get_user(ctx, user_id)
        assert user is not None
        terms.agree_terms(ctx, user, revision)
        ctx.db.commit()
    finally:
        ctx.db.close()


def admin_reset(app: Any, user_id: int, password: str) -> None:
    """An administrator's reset that forces a change at next login."""
    ctx = app_context(app)
    try:
        user = accounts.get_user(ctx, user_id)
        assert user is not None
        accounts.set_password(ctx, user, password, force_change=True)
        ctx.db.commit()
    finally:
        ctx.db.close()


def csrf_token(page: webtest.TestResponse) -> str:
    token = page.html.find("input", attrs={"name": "csrf_token"})
    assert token is not None
    return str(token["value"])


def change_password(page: webtest.TestResponse, current: str, new: str) -> webtest.TestResponse:
    form = page.forms["change-password"]
    form["current_password"] = current
    form["new_password"] = new
    form["confirm_password"] = new
    return form.submit("submit")


@dataclass(frozen=True)
class Owing:
    client: webtest.TestApp
    user_id: int
    password: str
    page: str  # the page of the action owed first
    other: str  # the other action's page


def _forced(app: Any, clock: FakeClock) -> tuple[int, str]:
    return create_user(app, "alice", must_change_password=True), GOOD_PASSWORD


def _admin_reset(app: Any, clock: FakeClock) -> tuple[int, str]:
    user_id = create_user(app, "alice")
    admin_reset(app, user_id, TEMPORARY_PASSWORD)
    return user_id, TEMPORARY_PASSWORD


def _expired(app: Any, clock: FakeClock) -> tuple[int, str]:
    user_id = create_user(app, "alice")
    clock.advance(days=MAX_AGE_DAYS)
    return user_id, GOOD_PASSWORD


def _terms_owed(app: Any, clock: FakeClock) -> tuple[int, str]:
    return create_user(app, "alice"), GOOD_PASSWORD


def _terms_bumped(app: Any, clock: FakeClock) -> tuple[int, str]:
    user_id = create_user(app, "alice")
    agree(app, user_id, OLD_REVISION)
    return user_id, GOOD_PASSWORD


# Users owing a password change have not agreed to the terms either: they owe both,
# and the password comes first.
SCENARIOS = {
    "forced-change": (_forced, PASSWORD_PAGE, TERMS_PAGE),
    "admin-reset": (_admin_reset, PASSWORD_PAGE, TERMS_PAGE),
    "expired-password": (_expired, PASSWORD_PAGE, TERMS_PAGE),
    "terms-never-agreed": (_terms_owed, TERMS_PAGE, PASSWORD_PAGE),
    "terms-revision-bumped": (_terms_bumped, TERMS_PAGE, PASSWORD_PAGE),
}


@pytest.fixture(params=sorted(SCENARIOS))
def owing(request: pytest.FixtureRequest, gate_app: Any, clock: FakeClock) -> Owing:
    """alice, logged in through the form, owing the scenario's action."""
    setup, page, other = SCENARIOS[request.param]
    user_id, password = setup(gate_app, clock)
    client = browser(gate_app)
    assert location(submit_login(client, "alice", password)) == "/"
    return Owing(client, user_id, password, page, other)


# --- every redirect of the gate ------------------------------------------------------


def test_home_goes_to_the_owed_page_with_next(owing):
    """GET / while owing: 303 to the action's page, remembering /."""
    response = owing.client.get("/", status=303)
    assert redirect_target(response) == (owing.page, "/")
    assert "Signed in as" not in response.follow().text


def test_the_owed_page_is_served(owing):
    """The action's own page is the one page that answers (with its form)."""
    page = owing.client.get(owing.page, params={"next": "/reports?year=2025"}, status=200)
    formid = "change-password" if owing.page == PASSWORD_PAGE else "agree-terms"
    assert page.forms[formid]["next"].value == "/reports?year=2025"


def test_the_other_actions_page_goes_to_the_owed_one(owing):
    """Actions come in order: the other action's page is not reachable yet."""
    response = owing.client.get(owing.other, status=303)
    assert redirect_target(response) == (owing.page, owing.other)


@pytest.mark.parametrize(
    "path",
    ["/reports?year=2025&q=a+b%26c", "/projects/7?tab=files", "/console"],
    ids=["view-permission", "host-acl-permission", "admin-permission"],
)
def test_host_pages_go_to_the_owed_page_with_path_and_query(owing, path):
    """Pages camauth does not know (a host application's, any permission) are gated too."""
    response = owing.client.get(path, status=303)
    assert redirect_target(response) == (owing.page, path)


def test_undecodable_query_is_carried_along_still_encoded(owing):
    """The gate never decodes the original query: %C3%28 reaches the form as it was."""
    response = owing.client.get("/reports?x=%C3%28", status=303)
    assert redirect_target(response) == (owing.page, "/reports?x=%C3%28")
    page = response.follow(status=200)
    formid = "change-password" if owing.page == PASSWORD_PAGE else "agree-terms"
    assert page.forms[formid]["next"].value == "/reports?x=%C3%28"


def test_health_check_and_static_files_are_not_gated(owing):
    """Monitoring and the action page's own stylesheets keep working while a user owes."""
    health = owing.client.get("/healthz", status=200)
    assert health.json == {"status": "ok", "database": "ok"}
    page = owing.client.get(owing.page)
    for link in page.html.select('link[rel="stylesheet"]'):
        assert owing.client.get(link["href"], status=200).content_type == "text/css"


def test_post_to_a_host_page_goes_to_the_owed_page_and_does_nothing(owing, gate_app):
    """A POST elsewhere is not carried out: 303 to the action's page, without next."""
    token = csrf_token(owing.client.get(owing.page))
    response = owing.client.post("/reports?year=2025", {"csrf_token": token}, status=303)
    assert redirect_target(response) == (owing.page, None)
    assert gate_app.registry[HOST_POSTS] == []


def test_post_to_the_other_actions_form_goes_to_the_owed_page_and_does_nothing(owing, gate_app):
    """Submitting the other action's form (with a valid token) changes nothing."""
    before = get_user(gate_app, owing.user_id)
    agreements = len(audit_events(gate_app, "terms_agreed"))
    token = csrf_token(owing.client.get(owing.page))
    fields = {
        "csrf_token": token,
        "current_password": owing.password,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
        "next": "/reports",
        "submit": "submit",
    }
    response = owing.client.post(owing.other, fields, status=303)
    assert redirect_target(response) == (owing.page, None)
    after = get_user(gate_app, owing.user_id)
    assert after.password_hash == before.password_hash
    assert after.password_changed_at == before.password_changed_at
    assert (after.terms_revision, after.terms_agreed_at) == (
        before.terms_revision,
        before.terms_agreed_at,
    )
    assert len(audit_events(gate_app, "terms_agreed")) == agreements
    assert audit_events(gate_app, "password_changed") == []


def test_logout_works_while_owing(owing, gate_app):
    """POST /logout is never gated: it ends the session."""
    token = csrf_token(owing.client.get(owing.page))
    response = owing.client.post("/logout", {"csrf_token": token}, status=303)
    assert location(response) == "/login"
    assert session_rows(gate_app, owing.user_id) == []
    assert [event.target_id for event in audit_events(gate_app, "logout")] == [owing.user_id]
    assert redirect_target(owing.client.get("/", status=303)) == ("/login", "/")


# --- the chain through the real forms -----------------------------------------------


def test_chain_password_then_terms_then_home(gate_app):
    """Login → change password → agree to terms → home, with each page's flash."""
    user_id = create_user(gate_app, "alice", must_change_password=True)
    client = browser(gate_app)
    response = client.get("/", status=303)
    assert redirect_target(response) == ("/login", "/")
    login_form = response.follow().forms["login"]
    assert login_form["next"].value == "/"
    login_form["username"] = "alice"
    login_form["password"] = GOOD_PASSWORD
    response = login_form.submit("submit")
    assert location(response) == "/"

    response = response.follow(status=303)
    assert redirect_target(response) == (PASSWORD_PAGE, "/")
    page = response.follow()
    assert "You must choose a new password before you continue." in page.text
    response = change_password(page, GOOD_PASSWORD, NEW_PASSWORD)
    assert location(response) == "/"

    response = response.follow(status=303)
    assert redirect_target(response) == (TERMS_PAGE, "/")
    terms_page = response.follow()
    assert [f.get_text(strip=True) for f in terms_page.html.select('[role="status"]')] == [
        "Your password has been changed."
    ]
    assert f"revision {REVISION}" in terms_page.text
    response = terms_page.forms["agree-terms"].submit("submit")
    assert location(response) == "/"

    home = response.follow(status=200)
    assert "Signed in as alice" in home.text
    assert [f.get_text(strip=True) for f in home.html.select('[role="status"]')] == [
        "Thank you: you have agreed to the terms of use."
    ]
    user = get_user(gate_app, user_id)
    assert not user.must_change_password
    assert user.terms_revision == REVISION
    # nothing is owed any more: the next login goes straight home
    client.get("/", status=200)
    again = browser(gate_app)
    assert location(submit_login(again, "alice", NEW_PASSWORD)) == "/"
    assert "Signed in as alice" in again.get("/", status=200).text


def test_host_destination_with_query_survives_the_chain(gate_app):
    """A deep link with a query string is where the user lands after both actions."""
    create_user(gate_app, "alice", must_change_password=True)
    deep = "/reports?year=2025&q=a+b%26c&sort=-name"
    client = browser(gate_app)
    response = client.get(deep, status=303)
    assert redirect_target(response) == ("/login", deep)
    login_form = response.follow().forms["login"]
    assert login_form["next"].value == deep
    login_form["username"] = "alice"
    login_form["password"] = GOOD_PASSWORD
    response = login_form.submit("submit")
    assert location(response) == deep

    response = response.follow(status=303)
    assert redirect_target(response) == (PASSWORD_PAGE, deep)
    page = response.follow()
    assert page.forms["change-password"]["next"].value == deep
    response = change_password(page, GOOD_PASSWORD, NEW_PASSWORD)
    assert location(response) == deep

    response = response.follow(status=303)
    assert redirect_target(response) == (TERMS_PAGE, deep)
    terms_page = response.follow()
    assert terms_page.forms["agree-terms"]["next"].value == deep
    response = terms_page.forms["agree-terms"].submit("submit")
    assert location(response) == deep

    report = response.follow(status=200)
    assert report.text == "reports for alice: year=2025&q=a+b%26c&sort=-name"


def test_expired_password_chain_and_the_next_expiry(gate_app, clock):
    """max_age_days: expiry gates even a live session; a change lets the user through
    until the new password expires in turn."""
    user_id = create_user(gate_app, "alice")
    agree(gate_app, user_id, REVISION)
    clock.advance(days=MAX_AGE_DAYS - 1, hours=23, minutes=50)
    client = browser(gate_app)
    submit_login(client, "alice", GOOD_PASSWORD)
    client.get("/reports", status=200)

    clock.advance(minutes=10)  # exactly max_age_days after the password was set
    response = client.get("/reports", status=303)
    assert redirect_target(response) == (PASSWORD_PAGE, "/reports")
    page = response.follow()
    response = change_password(page, GOOD_PASSWORD, NEW_PASSWORD)
    assert location(response) == "/reports"
    assert response.follow(status=200).text == "reports for alice: "
    assert get_user(gate_app, user_id).password_changed_at == clock()

    clock.advance(days=MAX_AGE_DAYS - 1)
    fresh = browser(gate_app)
    assert location(submit_login(fresh, "alice", NEW_PASSWORD)) == "/"
    fresh.get("/", status=200)
    clock.advance(days=1)
    later = browser(gate_app)
    submit_login(later, "alice", NEW_PASSWORD)
    assert redirect_target(later.get("/", status=303)) == (PASSWORD_PAGE, "/")


def test_expired_password_page_says_why_the_change_is_needed(gate_app, clock):
    """A user sent to the page by max_age_days is told a new password is required (as a
    forced change is), not shown a bare form they cannot leave."""
    user_id = create_user(gate_app, "alice")
    agree(gate_app, user_id, REVISION)
    clock.advance(days=MAX_AGE_DAYS)
    client = browser(gate_app)
    submit_login(client, "alice", GOOD_PASSWORD)
    page = client.get("/", status=303).follow(status=200)
    assert "change-password" in page.forms
    notice = page.html.select_one(".narrow").get_text(" ", strip=True)
    assert f"Your password is more than {MAX_AGE_DAYS} days old and has expired" in notice


def test_first_administrator_must_change_password_and_agree(gate_app):
    """The bootstrap admin (one-time password) is not exempt from either action."""
    ctx = app_context(gate_app)
    try:
        created = accounts.ensure_first_admin(ctx)
        assert created is not None
        admin, one_time = created
        ctx.db.commit()
        username = admin.username
    finally:
        ctx.db.close()
    client = browser(gate_app)
    response = submit_login(client, username, one_time, next_path="/console")
    assert location(response) == "/console"
    response = response.follow(status=303)
    assert redirect_target(response) == (PASSWORD_PAGE, "/console")
    response = change_password(response.follow(), one_time, NEW_PASSWORD)
    assert location(response) == "/console"
    response = response.follow(status=303)
    assert redirect_target(response) == (TERMS_PAGE, "/console")
    response = response.follow().forms["agree-terms"].submit("submit")
    assert location(response) == "/console"
    assert response.follow(status=200).text == f"console for {username}: "


def test_administrator_owing_terms_is_gated_from_the_console(gate_app):
    """An administrator who has not agreed to the current terms cannot reach /console."""
    admin_id = create_user(gate_app, "root-admin", is_admin=True)
    agree(gate_app, admin_id, OLD_REVISION)
    client = browser(gate_app)
    submit_login(client, "root-admin", GOOD_PASSWORD)
    response = client.get("/console?view=users", status=303)
    assert redirect_target(response) == (TERMS_PAGE, "/console?view=users")
    token = csrf_token(response.follow())
    response = client.post("/reports", {"csrf_token": token}, status=303)
    assert redirect_target(response) == (TERMS_PAGE, None)
    assert gate_app.registry[HOST_POSTS] == []


def test_user_owing_nothing_is_not_redirected(gate_app):
    """The gate is not a blanket redirect: a user owing nothing sees the pages (and a
    non-administrator gets 403 on the console rather than an action page)."""
    user_id = create_user(gate_app, "alice")
    agree(gate_app, user_id, REVISION)
    client = browser(gate_app)
    submit_login(client, "alice", GOOD_PASSWORD)
    assert "Signed in as alice" in client.get("/", status=200).text
    assert client.get("/reports?year=2025").text == "reports for alice: year=2025"
    assert client.get("/projects/7").text == "projects for alice: "
    client.get("/console", status=403)
    token = csrf_token(client.get("/"))
    assert client.post("/reports", {"csrf_token": token}).text == "saved"
    assert gate_app.registry[HOST_POSTS] == ["alice"]
    page = client.get(TERMS_PAGE, status=200)
    assert "agree-terms" not in page.forms
    assert "change-password" in client.get(PASSWORD_PAGE, status=200).forms


def test_revision_bump_gates_a_session_that_is_already_logged_in(app_factory):
    """A deploy that bumps the revision asks a user who is in the middle of a session."""
    settings = {"configure": add_host_pages, "mfa.required_for": "none"}
    before = app_factory(**settings, **{"terms.revision": OLD_REVISION})
    user_id = create_user(before, "alice")
    agree(before, user_id, OLD_REVISION)
    client = browser(before)
    submit_login(client, "alice", GOOD_PASSWORD)
    client.get("/reports", status=200)

    after = app_factory(**settings, **{"terms.revision": REVISION})
    same_browser = browser(after)
    for name, value in client.cookies.items():
        same_browser.set_cookie(name, value)
    response = same_browser.get("/reports?year=2026", status=303)
    assert redirect_target(response) == (TERMS_PAGE, "/reports?year=2026")
    page = response.follow()
    assert f"revision {REVISION}" in page.text
    response = page.forms["agree-terms"].submit("submit")
    assert location(response) == "/reports?year=2026"
    assert same_browser.get("/reports?year=2026").text == "reports for alice: year=2026"
    assert get_user(after, user_id).terms_revision == REVISION


def test_chain_below_a_script_name_keeps_the_mounted_paths(gate_app):
    """Mounted below /auth: the action pages and next carry the prefix, so the user
    comes back to /auth/reports, not /reports."""
    create_user(gate_app, "alice", must_change_password=True)
    client = browser(gate_app, SCRIPT_NAME="/auth")
    form = client.get("/login").forms["login"]
    form["username"] = "alice"
    form["password"] = GOOD_PASSWORD
    # WebTest would post to SCRIPT_NAME + action; the app below /auth sees PATH_INFO
    client.post("/login", form.submit_fields("submit"), status=303)

    response = client.get("/reports?x=1", status=303)
    assert redirect_target(response) == ("/auth/account/password", "/auth/reports?x=1")
    page = client.get("/account/password", params={"next": "/auth/reports?x=1"})
    form = page.forms["change-password"]
    assert form.action == "/auth/account/password"
    assert form["next"].value == "/auth/reports?x=1"
    form["current_password"] = GOOD_PASSWORD
    form["new_password"] = NEW_PASSWORD
    form["confirm_password"] = NEW_PASSWORD
    response = client.post("/account/password", form.submit_fields("submit"), status=303)
    assert location(response) == "/auth/reports?x=1"

    response = client.get("/reports?x=1", status=303)
    assert redirect_target(response) == ("/auth/account/terms", "/auth/reports?x=1")
    form = client.get("/account/terms", params={"next": "/auth/reports?x=1"}).forms["agree-terms"]
    response = client.post("/account/terms", form.submit_fields("submit"), status=303)
    assert location(response) == "/auth/reports?x=1"
    assert client.get("/reports?x=1").text == "reports for alice: x=1"
