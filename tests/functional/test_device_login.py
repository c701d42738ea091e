"""The device authorization grant end to end: a tool asks, a person approves, denies
or reports on /device, the tool polls /oauth/token (PRODUCT §11)."""

from __future__ import annotations

import re

from sqlalchemy import select

from camauth.models import DeviceRequest, SessionKind
from camauth.services import sessions

from .conftest import audit_events, location, scalar, session_rows
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
