"""The device authorization grant end to end: a tool asks, a person approves, denies
or reports on /device, the tool polls /oauth/token (PRODUCT §11)."""

from __future__ import annotations

import re

from sqlalchemy import select

from camauth.models import DeviceRequest, SessionKind, User, UserStatus
from camauth.services import accounts, sessions

from ..conftest import app_context, make_app
from .admin_helpers import table_rows
from .conftest import (
    all_rows,
    audit_events,
    create_user,
    location,
    logged_in,
    scalar,
    session_rows,
)
from .device_helpers import (
    approver,
    ask,
    bearer,
    decide,
    enter_code,
    poll,
    tool,
)

USER_CODE = re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")


def test_a_device_code_is_asked_for_approved_and_exchanged_once(app, clock):
    person = approver(app, clock)
    client = tool(app)
    grant = ask(client, hostname="build-box", message="nightly sync", scope="api")
    assert set(grant) == {
        "device_code",
        "user_code",
        "verification_uri",
        "verification_uri_complete",
        "expires_in",
        "interval",
    }
    assert USER_CODE.match(grant["user_code"])
    assert len(grant["device_code"]) >= 43  # 256 bits, URL-safe base64
    assert grant["verification_uri"] == "http://localhost/device"
    assert grant["verification_uri_complete"] == (
        f"http://localhost/device?user_code={grant['user_code']}"
    )
    assert (grant["expires_in"], grant["interval"]) == (600, 5)
    stored = scalar(app, select(DeviceRequest))
    assert stored.device_code_digest == sessions.token_digest(grant["device_code"])
    assert grant["device_code"] not in {stored.device_code_digest, stored.user_code}

    pending = poll(client, grant["device_code"], status=400)
    assert pending.json["error"] == "authorization_pending"
    assert pending.headers["Cache-Control"] == "no-store"

    page = decide(person, grant["user_code"])
    assert "Approved. camauth-cli can continue now." in page.text
    clock.advance(seconds=5)
    answer = poll(client, grant["device_code"], status=200).json
    assert answer["token_type"] == "Bearer"
    assert answer["scope"] == "api"
    assert answer["expires_in"] == 90 * 24 * 3600
    token = answer["access_token"]
    assert len(token) >= 43

    clock.advance(seconds=5)
    again = poll(client, grant["device_code"], status=400)
    assert again.json["error"] == "invalid_grant"

    [api] = [row for row in session_rows(app, person.user_id) if row.kind == SessionKind.API]
    assert (api.client_id, api.hostname, api.scope, api.ip) == (
        "camauth-cli",
        "build-box",
        "api",
        "192.0.2.77",
    )
    assert api.token_digest == sessions.token_digest(token)
    me = client.get("/api/v1/me", headers=bearer(token), status=200).json
    assert me["username"] == "alice" and me["scopes"] == ["api"]
    assert [e.details["client_id"] for e in audit_events(app, "device_login_approved")] == [
        "camauth-cli"
    ]


def test_the_code_is_typed_in_any_case_with_or_without_the_dash(app, clock):
    person = approver(app, clock)
    for typed in ("lower", "nodash", "spaced"):
        grant = ask(tool(app))
        code = grant["user_code"]
        variant = {
            "lower": code.lower(),
            "nodash": code.replace("-", ""),
            "spaced": f"  {code[:4].lower()} {code[5:]} ",
        }[typed]
        response = enter_code(person, variant, status=303)
        assert location(response) == "/device/confirm", typed


def test_deny_and_report_refuse_the_tool(app, clock):
    person = approver(app, clock)
    client = tool(app)
    denied = ask(client)
    assert "Denied. camauth-cli was refused." in decide(person, denied["user_code"], "deny").text
    assert poll(client, denied["device_code"], status=400).json["error"] == "access_denied"

    reported = ask(client)
    decide(person, reported["user_code"], "report")
    assert poll(client, reported["device_code"], status=400).json["error"] == "access_denied"
    blocked = ask(client, status=403)
    assert blocked["error"] == "access_denied"
    assert "reported as suspicious" in blocked["error_description"]
    # another network may still ask
    ask(tool(app, "198.51.100.9"))
    clock.advance(minutes=60)
    ask(client)
    assert len(audit_events(app, "device_login_reported")) == 1


def test_polling_faster_than_the_interval_is_told_to_slow_down(app, clock):
    approver(app, clock)
    client = tool(app)
    grant = ask(client)
    assert poll(client, grant["device_code"], status=400).json["error"] == "authorization_pending"
    clock.advance(seconds=4)
    assert poll(client, grant["device_code"], status=400).json["error"] == "slow_down"
    # the interval grew by 5 s, counted from the poll that was too fast
    clock.advance(seconds=9)
    assert poll(client, grant["device_code"], status=400).json["error"] == "slow_down"
    assert scalar(app, select(DeviceRequest.interval_seconds)) == 15
    clock.advance(seconds=15)
    assert poll(client, grant["device_code"], status=400).json["error"] == "authorization_pending"


def test_an_unapproved_request_expires_for_the_tool_and_for_the_person(app, clock):
    client = tool(app)
    grant = ask(client)
    clock.advance(minutes=10)
    assert poll(client, grant["device_code"], status=400).json["error"] == "expired_token"
    person = approver(app, clock)
    page = enter_code(person, grant["user_code"], status=400)
    assert "No device login is waiting for the code" in page.text


def test_an_approval_not_collected_in_time_expires(app, clock):
    person = approver(app, clock)
    client = tool(app)
    grant = ask(client)
    decide(person, grant["user_code"])
    clock.advance(minutes=10)
    assert poll(client, grant["device_code"], status=400).json["error"] == "expired_token"
    assert [row.kind for row in session_rows(app, person.user_id)] == ["browser"]


def test_a_request_decided_in_another_tab_is_not_decided_again(app, clock):
    person = approver(app, clock)
    grant = ask(tool(app))
    assert location(enter_code(person, grant["user_code"], status=303)) == "/device/confirm"
    page = person.client.get("/device/confirm", status=200)
    first = page.forms["device-decision"].submit("decision", value="approve", status=303)
    assert "Approved." in first.follow().text
    second = page.forms["device-decision"].submit("decision", value="deny", status=303)
    assert "had already been decided or has expired" in second.follow().text
    assert len(audit_events(app, "device_login_approved")) == 1
    assert audit_events(app, "device_login_denied") == []


def test_the_decision_page_needs_the_code_typed_in_this_session(app, clock):
    person = approver(app, clock)
    other = approver(app, clock, "bob")
    grant = ask(tool(app))
    enter_code(person, grant["user_code"], status=303)
    # bob never typed the code: his decision page has nothing to decide
    assert location(other.client.get("/device/confirm", status=303)) == "/device"
    page = other.client.get("/device", status=200)
    form = page.forms["device"]  # a CSRF token of bob's
    response = other.client.post(
        "/device/confirm",
        {"csrf_token": form["csrf_token"].value, "decision": "approve"},
        status=303,
    )
    assert "had already been decided or has expired" in response.follow().text
    assert audit_events(app, "device_login_approved") == []


def test_the_prefilled_link_shows_the_code_and_decides_nothing(app, clock):
    person = approver(app, clock)
    grant = ask(tool(app))
    page = person.client.get(grant["verification_uri_complete"].replace("http://localhost", ""))
    assert page.forms["device"]["user_code"].value == grant["user_code"]
    assert scalar(app, select(DeviceRequest.status)) == "pending"


def test_a_visitor_is_sent_to_log_in_and_back(app):
    response = tool(app).get("/device?user_code=BCDF-GHJK", status=303)
    assert location(response).startswith("/login?next=")


def test_approving_needs_two_factor_and_a_recent_login(app, clock):
    create_user(app, "carol")
    carol = logged_in(app, "carol")
    page = carol.get("/device", status=403)
    assert "needs two-factor authentication" in page.text
    assert page.html.select_one('a[href="/account/two-factor"]') is not None

    person = approver(app, clock)
    clock.advance(minutes=6)
    response = person.client.get("/device?user_code=BCDF-GHJK", status=303)
    assert location(response).startswith("/account/reauthenticate?next=")
    assert "user_code%3DBCDF-GHJK" in location(response)


def test_the_tool_is_refused_if_its_approver_was_disabled_meanwhile(app, clock):
    person = approver(app, clock)
    client = tool(app)
    grant = ask(client)
    decide(person, grant["user_code"])
    ctx = app_context(app)
    try:
        accounts.set_status(ctx, ctx.db.get(User, person.user_id), UserStatus.DISABLED)
        ctx.db.commit()
    finally:
        ctx.db.close()
    assert poll(client, grant["device_code"], status=400).json["error"] == "access_denied"


def test_scopes_are_those_configured(ini_settings, clock):
    app = make_app({**ini_settings, "camauth.api.scopes": "api read"}, clock)
    try:
        client = tool(app)
        assert ask(client, scope="nope", status=400)["error"] == "invalid_scope"
        ask(client, scope="read")
        ask(client)
        assert sorted(all_rows(app, select(DeviceRequest.scope))) == ["api read", "read"]
    finally:
        app.registry["camauth.engine"].dispose()


def test_a_network_may_not_flood_the_table_with_requests(app, clock):
    client = tool(app)
    for _ in range(20):
        ask(client)
    refused = ask(client, status=429)
    assert refused["error"] == "slow_down"
    ask(tool(app, "198.51.100.9"))  # another network is not affected
    clock.advance(minutes=10)
    ask(client)


def test_the_console_shows_reports_device_logins_and_api_sessions(app, clock):
    person = approver(app, clock)
    admin = approver(app, clock, "root", is_admin=True)
    client = tool(app)
    approved, reported = ask(client, hostname="laptop"), ask(client, hostname="evil-box")
    decide(person, approved["user_code"])
    clock.advance(seconds=5)
    poll(client, approved["device_code"], status=200)
    decide(person, reported["user_code"], "report")

    dashboard = admin.client.get("/admin", status=200)
    [row] = table_rows(dashboard, "device-reports")
    assert row[1:5] == ["alice", "camauth-cli", "evil-box", "192.0.2.77"]

    user_page = admin.client.get(f"/admin/users/{person.user_id}", status=200)
    decided = table_rows(user_page, "user-device-requests")
    assert sorted((r[2], r[4]) for r in decided) == [
        ("evil-box", "reported"),
        ("laptop", "exchanged"),
    ]
    sessions_shown = table_rows(user_page, "user-sessions")
    assert any(r[0] == "api" and r[2].startswith("camauth-cli on laptop") for r in sessions_shown)
    all_sessions = table_rows(admin.client.get("/admin/sessions", status=200), "sessions")
    assert any(r[3].startswith("camauth-cli on laptop") for r in all_sessions)
