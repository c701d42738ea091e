"""Hostile input to the device grant and the JSON API: every refusal is a 4xx JSON
answer naming the problem, never HTML, never a 500, and stores nothing."""

from __future__ import annotations

import base64
import json

import pytest

from .conftest import assert_no_traceback, table_counts
from .device_helpers import DEVICE_GRANT, api_token, approver, ask, bearer, poll, tool

DEVICE = "/oauth/device_authorization"
TOKEN = "/oauth/token"


def refused(response, status: int, error: str) -> dict:
    assert response.status_int == status, response.text
    assert response.content_type == "application/json"
    assert_no_traceback(response)
    body = response.json
    assert body["error"] == error, body
    assert body["message"]
    return body


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        (json.dumps({"client_id": "cli"}), "application/json", 400, "invalid_request"),
        ("client_id=a&client_id=b", None, 400, "invalid_request"),
        ("", None, 401, "invalid_client"),
        ("client_id=" + "x" * 201, None, 401, "invalid_client"),
        ("client_id=%1b%5B2J", None, 401, "invalid_client"),
        ("client_id=cli&hostname=" + "h" * 201, None, 400, "invalid_request"),
        ("client_id=cli&message=" + "m" * 201, None, 400, "invalid_request"),
        ("client_id=cli&hostname=evil%00box", None, 400, "invalid_request"),
        ("client_id=cli&message=a%0Ab", None, 400, "invalid_request"),
        ("client_id=cli&hostname=%E2%80%AEbox", None, 400, "invalid_request"),  # bidi override
        ("client_id=cli&scope=admin", None, 400, "invalid_scope"),
        ("client_id=cli&scope=api%20admin", None, 400, "invalid_scope"),
        ("client_id=cli&hostname=" + "x" * 9000, None, 400, "invalid_request"),
        (b"client_id=\xff\xfe", None, 400, "invalid_request"),
    ],
)
def test_bad_device_authorization_requests(app, body, content_type, status, error):
    before = table_counts(app)
    kind = content_type or "application/x-www-form-urlencoded"
    raw = body if isinstance(body, bytes) else body.encode()
    response = tool(app).post(DEVICE, raw, content_type=kind, status="*")
    refused(response, status, error)
    assert table_counts(app) == before


def test_unicode_names_are_accepted_and_shown_as_text(app, clock):
    person = approver(app, clock)
    grant = ask(tool(app), client_id="café-tool ✓", hostname="<script>alert(1)</script>")
    from .device_helpers import enter_code

    enter_code(person, grant["user_code"], status=303)
    page = person.client.get("/device/confirm", status=200)
    assert "café-tool ✓" in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_the_client_id_may_come_from_http_basic_authentication(app):
    client = tool(app)
    basic = base64.b64encode(b"basic-tool:ignored-secret").decode()
    grant = client.post(DEVICE, {"scope": "api"}, headers={"Authorization": f"Basic {basic}"}).json
    answer = client.post(
        TOKEN,
        {"grant_type": DEVICE_GRANT, "device_code": grant["device_code"]},
        headers={"Authorization": f"Basic {basic}"},
        status=400,
    )
    assert answer.json["error"] == "authorization_pending"
    mismatch = client.post(
        DEVICE, {"client_id": "other"}, headers={"Authorization": f"Basic {basic}"}, status=400
    )
    refused(mismatch, 400, "invalid_request")
    garbled = client.post(
        DEVICE, {"scope": "api"}, headers={"Authorization": "Basic !!!"}, status=401
    )
    refused(garbled, 401, "invalid_client")
    assert garbled.headers["WWW-Authenticate"] == 'Basic realm="camauth"'


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        ({}, 400, "invalid_request"),
        (
            {"grant_type": "password", "device_code": "x", "client_id": "cli"},
            400,
            "unsupported_grant_type",
        ),
        (
            {"grant_type": "authorization_code", "code": "x", "client_id": "cli"},
            400,
            "unsupported_grant_type",
        ),
        ({"grant_type": DEVICE_GRANT, "client_id": "cli"}, 400, "invalid_request"),
        (
            {"grant_type": DEVICE_GRANT, "device_code": "forged", "client_id": "cli"},
            400,
            "invalid_grant",
        ),
        (
            {"grant_type": DEVICE_GRANT, "device_code": "x" * 10_000, "client_id": "cli"},
            400,
            "invalid_request",
        ),
        ({"grant_type": DEVICE_GRANT, "device_code": "x"}, 401, "invalid_client"),
    ],
)
def test_bad_token_requests(app, fields, status, error):
    before = table_counts(app)
    refused(tool(app).post(TOKEN, fields, status="*"), status, error)
    assert table_counts(app) == before


def test_a_repeated_device_code_field_and_another_client_s_poll_are_refused(app):
    client = tool(app)
    grant = ask(client)
    body = (
        f"grant_type={DEVICE_GRANT}&client_id=camauth-cli"
        f"&device_code={grant['device_code']}&device_code={grant['device_code']}"
    )
    repeated = client.post(
        TOKEN, body, content_type="application/x-www-form-urlencoded", status=400
    )
    refused(repeated, 400, "invalid_request")
    refused(poll(client, grant["device_code"], client_id="impostor"), 400, "invalid_grant")


@pytest.mark.parametrize("path", [DEVICE, TOKEN])
def test_the_oauth_endpoints_take_only_post(app, path):
    response = tool(app).get(path, status=405)
    refused(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer a b c",
        "Bearer " + "t" * 500,
        "Bearer " + "A" * 43,
        "bearer " + "A" * 43,
        "Bearer \u00e9\u00e9\u00e9",
    ],
)
def test_malformed_forged_and_oversized_tokens_get_401(app, header):
    response = tool(app).get("/api/v1/me", headers={"Authorization": header}, status="*")
    body = refused(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="camauth"')
    assert "unknown, expired or malformed" in body["message"]


def test_a_replayed_token_after_logout_gets_401(app, clock):
    person = approver(app, clock)
    token = api_token(app, person)
    client = tool(app)
    client.delete("/api/v1/session", headers=bearer(token), status=204)
    for method in (client.get, client.delete):
        path = "/api/v1/me" if method == client.get else "/api/v1/session"
        refused(method(path, headers=bearer(token), status="*"), 401, "invalid_token")


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("DELETE", "/api/v1/sessions/abc", 400, "invalid_request"),
        ("DELETE", "/api/v1/sessions/-1", 400, "invalid_request"),
        ("DELETE", "/api/v1/sessions/99999999999", 400, "invalid_request"),
        ("DELETE", "/api/v1/sessions/%C2%B2", 400, "invalid_request"),  # a superscript two
        ("DELETE", "/api/v1/sessions/424242", 404, "not_found"),
        ("POST", "/api/v1/me", 405, "method_not_allowed"),
        ("PUT", "/api/v1/sessions", 405, "method_not_allowed"),
        ("GET", "/api/v1/nothing-here", 404, "not_found"),
        ("GET", "/api/v2/me", 404, "not_found"),
    ],
)
def test_bad_api_requests_get_json_errors(app, clock, method, path, status, error):
    person = approver(app, clock)
    token = api_token(app, person)
    before = table_counts(app)
    response = tool(app).request(path, method=method, headers=bearer(token), status="*")
    refused(response, status, error)
    assert table_counts(app) == before


def test_another_user_s_session_cannot_be_ended(app, clock):
    alice, bob = approver(app, clock), approver(app, clock, "bob")
    token = api_token(app, alice)
    from .conftest import session_rows

    [bobs] = session_rows(app, bob.user_id)
    response = tool(app).delete(f"/api/v1/sessions/{bobs.id}", headers=bearer(token), status=404)
    refused(response, 404, "not_found")
    assert [row.id for row in session_rows(app, bob.user_id)] == [bobs.id]
    bob.client.get("/account/sessions", status=200)  # still logged in


def test_a_user_code_guessed_many_times_is_refused_even_when_right(app, clock):
    from .device_helpers import enter_code

    person = approver(app, clock)
    grant = ask(tool(app))
    for left in (4, 3, 2, 1):
        page = enter_code(person, "BCDF-GHJK", status=400)
        assert f"{left} more {'try' if left == 1 else 'tries'}" in page.text
    assert "Too many wrong codes" in enter_code(person, "BCDF-GHJK", status=429).text
    assert "Too many wrong codes" in enter_code(person, grant["user_code"], status=429).text
    neighbour = approver(app, clock, "bob")  # logged in from the same address
    assert "Too many wrong codes" in enter_code(neighbour, grant["user_code"], status=429).text
    clock.advance(minutes=10)
    person = approver(app, clock, "carol")
    enter_code(person, ask(tool(app))["user_code"], status=303)
