"""A host Pyramid application that protects its own views with ``config.include("camauth")``
(PRODUCT §1): camauth's session, security policy, login/logout pages and ``request.user``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import webtest
from pyramid.authorization import Allow
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from pyramid.router import Router

from camauth.clock import FakeClock
from camauth.models import SessionKind, User
from camauth.services import accounts, sessions
from camauth.web.security import VIEW

from ..conftest import GOOD_PASSWORD, app_context, login


def reports(request: Request) -> Response:
    return Response(f"Report for {request.user.username}", content_type="text/plain")


def public(request: Request) -> Response:
    user = request.user
    return Response(
        f"Hello, {user.username if user is not None else 'anonymous'}", content_type="text/plain"
    )


class ExportContext:
    """A host context whose ACL lets API tokens with the ``api`` scope export."""

    __acl__: ClassVar = [(Allow, "scope:api", "reports.export")]

    def __init__(self, request: Request) -> None:
        self.request = request


def export(request: Request) -> Response:
    return Response(json_body={"report": "export", "for": request.user.username})


def make_host_app(settings: dict[str, Any], clock: FakeClock) -> Router:
    config = Configurator(settings={**settings, "host.title": "Reports"})
    config.registry["camauth.clock"] = clock  # camauth keeps a clock it is given
    config.include("camauth")
    config.add_route("reports", "/reports")
    config.add_view(reports, route_name="reports", request_method="GET", permission=VIEW)
    config.add_route("export", "/reports/export", factory=ExportContext)
    config.add_view(export, route_name="export", permission="reports.export")
    config.add_route("public", "/public")
    config.add_view(public, route_name="public", request_method="GET")
    return config.make_wsgi_app()


@pytest.fixture
def host_app(ini_settings: dict[str, Any], clock: FakeClock) -> Iterator[Router]:
    app = make_host_app(ini_settings, clock)
    ctx = app_context(app)
    try:
        accounts.create_user(ctx, "alice", password=GOOD_PASSWORD)
        ctx.db.commit()
    finally:
        ctx.db.close()
    yield app
    app.registry["camauth.engine"].dispose()


@pytest.fixture
def host(host_app: Router) -> webtest.TestApp:
    return webtest.TestApp(host_app, extra_environ={"REMOTE_ADDR": "192.0.2.20"})


def test_camauth_uses_the_clock_the_host_gave(host_app: Router, clock: FakeClock) -> None:
    assert host_app.registry["camauth.clock"] is clock


def test_anonymous_is_sent_to_login_with_next(host: webtest.TestApp) -> None:
    response = host.get("/reports", status=303)
    assert response.location.endswith("/login?next=%2Freports")
    assert "Report for" not in response.text


def test_log_in_through_the_form_then_see_the_report(host: webtest.TestApp) -> None:
    page = host.get("/reports", status=303).follow(status=200)
    form = page.forms["login"]
    assert form["next"].value == "/reports"
    form["username"] = "alice"
    form["password"] = GOOD_PASSWORD
    response = form.submit("submit", status=303)
    assert response.location.endswith("/reports")
    report = response.follow(status=200)
    assert report.text == "Report for alice"
    # camauth's headers cover the host's pages too
    assert report.headers["X-Frame-Options"] == "DENY"
    assert report.headers["Cache-Control"] == "no-store"
    assert host.get("/public", status=200).text == "Hello, alice"


def test_wrong_password_does_not_open_the_report(host: webtest.TestApp) -> None:
    refused = login(host, "alice", "not the password at all", status=403)
    assert "Invalid username or password." in refused.text
    host.get("/reports", status=303)


def test_log_out_from_a_camauth_page(host: webtest.TestApp) -> None:
    login(host, "alice", GOOD_PASSWORD, status=303)
    host.get("/reports", status=200)
    # camauth's own pages work inside the host: the logout button is on them
    account = host.get("/account/password", status=200)
    logout_form = next(f for f in account.forms.values() if f.action.endswith("/logout"))
    logged_out = logout_form.submit(status=303)
    assert logged_out.location.endswith("/login")
    response = host.get("/reports", status=303)
    assert response.location.endswith("/login?next=%2Freports")


def test_public_route_is_anonymous_and_sets_no_cookies(host: webtest.TestApp) -> None:
    response = host.get("/public", status=200)
    assert response.text == "Hello, anonymous"
    assert "Set-Cookie" not in response.headers
    assert host.cookies == {}


def test_host_settings_are_kept(host_app: Router) -> None:
    assert host_app.registry.settings["host.title"] == "Reports"


def test_home_path_setting_is_where_login_goes_without_next(
    ini_settings: dict[str, Any], clock: FakeClock
) -> None:
    """A host without a "/" page names its own landing page."""
    app = make_host_app({**ini_settings, "camauth.home_path": "/reports"}, clock)
    try:
        ctx = app_context(app)
        accounts.create_user(ctx, "alice", password=GOOD_PASSWORD)
        ctx.db.commit()
        ctx.db.close()
        host = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "192.0.2.20"})
        response = login(host, "alice", GOOD_PASSWORD, status=303)
        assert response.location.endswith("/reports")
        assert response.follow(status=200).text == "Report for alice"
    finally:
        app.registry["camauth.engine"].dispose()


def test_host_with_its_own_static_view_keeps_camauths_stylesheet(
    ini_settings: dict[str, Any], clock: FakeClock, tmp_path: Path
) -> None:
    host_static = tmp_path / "host_static"
    host_static.mkdir()
    (host_static / "host.css").write_text("body { margin: 0; }\n")
    config = Configurator(settings=ini_settings)
    config.registry["camauth.clock"] = clock
    config.include("camauth")
    config.add_static_view("static", str(host_static))
    app = config.make_wsgi_app()
    try:
        host = webtest.TestApp(app)
        assert host.get("/static/host.css", status=200).text.startswith("body")
        page = host.get("/login", status=200)
        stylesheets = [link["href"] for link in page.html.find_all("link", rel="stylesheet")]
        assert stylesheets
        for href in stylesheets:
            host.get(href, status=200)
    finally:
        app.registry["camauth.engine"].dispose()


def api_token_of(app: Router, username: str, scope: str = "api") -> str:
    """An API session as an approved device login leaves it."""
    ctx = app_context(app)
    try:
        user = accounts.find_user(ctx, username)
        assert isinstance(user, User)
        token, row = sessions.create_session(ctx, user=user, kind=SessionKind.API)
        row.scope = scope
        ctx.db.commit()
        return token
    finally:
        ctx.db.close()


def test_a_bearer_token_opens_the_host_s_protected_views_without_cookies(
    host_app: Router, host: webtest.TestApp
) -> None:
    token = api_token_of(host_app, "alice")
    headers = {"Authorization": f"Bearer {token}"}
    report = host.get("/reports", headers=headers, status=200)
    assert report.text == "Report for alice"
    assert "Set-Cookie" not in report.headers
    # the host's ACL grants its permission to the token's scope
    exported = host.get("/reports/export", headers=headers, status=200)
    assert exported.json == {"report": "export", "for": "alice"}
    other = api_token_of(host_app, "alice", scope="read")
    refused = host.get("/reports/export", headers={"Authorization": f"Bearer {other}"}, status=403)
    assert refused.json["error"] == "forbidden"
    # a browser session holds no scope: the export is not for it
    login(host, "alice", GOOD_PASSWORD, status=303)
    host.get("/reports/export", status=403)
    forged = {"Authorization": "Bearer " + "x" * 43}
    assert webtest.TestApp(host_app).get("/reports", headers=forged, status=401).json == {
        "error": "invalid_token",
        "message": "The bearer token is unknown, expired or malformed.",
    }
