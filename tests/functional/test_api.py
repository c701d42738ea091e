"""API sessions and the JSON API (PRODUCT §11, points 4 and 5): bearer tokens served by the same
security policy as browsers, with their own timeouts, ended like any session."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from camauth.models import SessionKind, User, UserStatus
from camauth.services import accounts, mfa, sessions

from ..conftest import GOOD_PASSWORD, app_context, make_app
from .conftest import audit_events, create_user, logged_in, session_rows, set_cookie_headers
from .device_helpers import api_token, approver, ask, bearer, poll, tool
from .two_factor_helpers import log_in_with_code

NEW_PASSWORD = "a quite different passphrase 42"


def api_rows(app, user_id):
    return [row for row in session_rows(app, user_id) if row.kind == SessionKind.API]


def with_user(app, user_id, change):
    ctx = app_context(app)
    try:
        change(ctx, ctx.db.get(User, user_id))
        ctx.db.commit()
    finally:
        ctx.db.close()


def test_me_and_my_sessions_with_a_bearer_token(app, clock):
    person = approver(app, clock, full_name="Alice Example", email="alice@example.org")
    token = api_token(app, person, hostname="build-box")
    client = tool(app)
    me = client.get("/api/v1/me", headers=bearer(token), status=200)
    assert me.content_type == "application/json"
    [api] = api_rows(app, person.user_id)
    assert me.json == {
        "username": "alice",
        "full_name": "Alice Example",
        "email": "alice@example.org",
        "scopes": ["api"],
        "session": {
            "id": api.id,
            "created_at": api.created_at.isoformat().replace("+00:00", "Z"),
            # the idle timeout comes first: 30 days after the last use
            "expires_at": (api.last_seen_at + timedelta(days=30))
            .isoformat()
            .replace("+00:00", "Z"),
        },
    }
    assert set_cookie_headers(me, "camauth_session") == []
    assert "Set-Cookie" not in me.headers

    listed = client.get("/api/v1/sessions", headers=bearer(token), status=200).json["sessions"]
    assert sorted((row["kind"], row["current"]) for row in listed) == [
        ("api", True),
        ("browser", False),
    ]
    [mine] = [row for row in listed if row["current"]]
    assert (mine["client_id"], mine["hostname"], mine["ip"]) == (
        "camauth-cli",
        "build-box",
        "192.0.2.77",
    )


def test_the_owner_ends_a_browser_session_and_then_the_token_itself(app, clock):
    person = approver(app, clock)
    token = api_token(app, person)
    client = tool(app)
    [browser_row] = [r for r in session_rows(app, person.user_id) if r.kind == "browser"]
    client.delete(f"/api/v1/sessions/{browser_row.id}", headers=bearer(token), status=204)
    assert person.client.get("/account/sessions", status=303)  # logged out
    again = client.delete(f"/api/v1/sessions/{browser_row.id}", headers=bearer(token), status=404)
    assert again.json["error"] == "not_found"

    client.delete("/api/v1/session", headers=bearer(token), status=204)
    refused = client.get("/api/v1/me", headers=bearer(token), status=401)
    assert refused.json["error"] == "invalid_token"
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    assert api_rows(app, person.user_id) == []
    [ended] = audit_events(app, "api_session_ended")
    assert ended.details["reason"] == "ended_by_owner"
    assert ended.details["client_id"] == "camauth-cli"


def test_no_token_or_a_browser_cookie_gets_401_and_both_at_once_400(app, clock):
    person = approver(app, clock)
    token = api_token(app, person)
    anonymous = tool(app).get("/api/v1/me", status=401)
    assert anonymous.json["error"] == "invalid_token"
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="camauth"'
    # the API is for tokens: a browser's cookie alone does not open it
    assert person.client.get("/api/v1/me", status=401).json["error"] == "invalid_token"
    both = person.client.get("/api/v1/me", headers=bearer(token), status=400)
    assert both.json["error"] == "invalid_request"
    assert "both a session cookie and a bearer token" in both.json["message"]
    # a browser's token is not a bearer token
    [browser_row] = [r for r in session_rows(app, person.user_id) if r.kind == "browser"]
    cookie = person.client.cookies["camauth_session"]
    assert sessions.token_digest(cookie) == browser_row.token_digest
    tool(app).get("/api/v1/me", headers=bearer(cookie), status=401)
    # and an API token is no cookie
    stranger = tool(app)
    stranger.set_cookie("camauth_session", token)
    assert (
        stranger.get("/account/sessions", status=303)
        .headers["Location"]
        .startswith("http://localhost/login")
    )


def test_a_bearer_token_needs_no_csrf_token_for_camauth_s_own_forms(app, clock):
    person = approver(app, clock)
    token = api_token(app, person)
    response = tool(app).post("/account/sessions/end-others", headers=bearer(token), status=303)
    assert "Set-Cookie" not in response.headers
    kinds = [row.kind for row in session_rows(app, person.user_id)]
    assert kinds == ["api"]  # the browser session ended, the calling one kept
    # without a token the same POST is refused for its missing CSRF token
    create_user(app, "carol")
    carol = logged_in(app, "carol", GOOD_PASSWORD)
    carol.post("/account/sessions/end-others", status=400)


def test_api_sessions_have_their_own_timeouts(app, clock):
    person = approver(app, clock)
    token = api_token(app, person)
    client = tool(app)
    clock.advance(days=29)
    client.get("/api/v1/me", headers=bearer(token), status=200)  # used: idle timer again
    clock.advance(days=29)
    client.get("/api/v1/me", headers=bearer(token), status=200)
    clock.advance(days=30)
    assert client.get("/api/v1/me", headers=bearer(token), status=401).json["error"] == (
        "invalid_token"
    )
    assert api_rows(app, person.user_id) == []  # the dead row is gone


def test_the_absolute_timeout_ends_a_token_in_daily_use(app, clock):
    person = approver(app, clock)
    token = api_token(app, person)
    client = tool(app)
    for _ in range(89):
        clock.advance(days=1)
        client.get("/api/v1/me", headers=bearer(token), status=200)
    clock.advance(days=1)
    client.get("/api/v1/me", headers=bearer(token), status=401)


def test_a_new_browser_login_leaves_api_sessions_alone(app, clock):
    person = approver(app, clock)
    token = api_token(app, person)
    log_in_with_code(tool(app, "198.51.100.3"), "alice", person.device)
    tool(app).get("/api/v1/me", headers=bearer(token), status=200)


def test_password_change_disable_two_factor_removal_and_admins_end_api_sessions(app, clock):
    person = approver(app, clock)
    changes = {
        "password": lambda ctx, user: accounts.reset_password(ctx, user, NEW_PASSWORD),
        "disable": lambda ctx, user: accounts.set_status(ctx, user, UserStatus.DISABLED),
        "two-factor": lambda ctx, user: mfa.remove(ctx, user),
        "admin": lambda ctx, user: sessions.end_user_sessions(ctx, user),
    }
    for name, change in changes.items():
        with_user(
            app, person.user_id, lambda ctx, user: accounts.set_status(ctx, user, UserStatus.ACTIVE)
        )
        person = approver(app, clock, f"user-{name}")
        token = api_token(app, person)
        client = tool(app)
        client.get("/api/v1/me", headers=bearer(token), status=200)
        with_user(app, person.user_id, change)
        client.get("/api/v1/me", headers=bearer(token), status=401)
        assert api_rows(app, person.user_id) == [], name


def test_a_token_whose_owner_owes_an_action_is_refused_with_the_reason(ini_settings, clock):
    app = make_app(ini_settings, clock)
    try:
        person = approver(app, clock)
        token = api_token(app, person)
    finally:
        app.registry["camauth.engine"].dispose()
    # the terms of use changed: the owner must agree in a browser first
    newer = make_app({**ini_settings, "camauth.terms.revision": "2027-01"}, clock)
    try:
        refused = tool(newer).get("/api/v1/me", headers=bearer(token), status=403)
        assert refused.json["error"] == "action_required"
        assert "agree_terms" in refused.json["message"]
    finally:
        newer.registry["camauth.engine"].dispose()


def test_a_token_cannot_approve_device_logins(app, clock):
    person = approver(app, clock)
    token = api_token(app, person)
    grant = ask(tool(app))
    client = tool(app)
    for method, path in (("GET", "/device"), ("POST", "/device"), ("POST", "/device/confirm")):
        body = {"user_code": grant["user_code"], "decision": "approve"}
        response = client.request(
            path,
            method=method,
            headers=bearer(token),
            body=urlencode(body).encode() if method == "POST" else b"",
            content_type="application/x-www-form-urlencoded",
            status=403,
        )
        assert response.json["error"] == "browser_required"
    assert poll(tool(app), grant["device_code"], status=400).json["error"] == (
        "authorization_pending"
    )
