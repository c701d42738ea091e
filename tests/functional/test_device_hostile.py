"""Hostile input to the device grant (``/oauth/device_authorization``,
``/oauth/token``), to bearer authentication and the JSON API, and guessed user
codes on ``/device``.

Every refusal here is checked for its exact status and error code, for being JSON
rather than an HTML page, for carrying no traceback, and, where something could
have been written, for having stored nothing.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
import webtest
from sqlalchemy import func, select
from webob import Request

from camauth.models import DeviceRequest, SessionKind, UserCodeFailure

from .conftest import (
    all_rows,
    assert_no_traceback,
    browser,
    create_user,
    location,
    scalar,
    session_rows,
    table_counts,
)
from .device_helpers import (
    DEVICE_GRANT,
    Approver,
    api_token,
    approver,
    ask,
    bearer,
    decide,
    enter_code,
    poll,
    tool,
)
from .two_factor_helpers import enrol, log_in_with_code

DEVICE = "/oauth/device_authorization"
TOKEN = "/oauth/token"
FORM = "application/x-www-form-urlencoded"
ELSEWHERE = "198.51.100.20"  # a person on another network than the approvers' browsers


# --- checks -------------------------------------------------------------------------


def json_refusal(response: Any, status: int, error: str) -> dict[str, Any]:
    """A JSON error (never an HTML page, never a trace) with this status and code."""
    assert response.status_int == status, (response.status, response.text[:500])
    assert response.content_type == "application/json", response.content_type
    assert "<html" not in response.text.lower()
    assert_no_traceback(response)
    body: dict[str, Any] = json.loads(response.text)
    assert body["error"] == error, body
    assert isinstance(body["message"], str) and body["message"], body
    return body


def oauth_refusal(response: Any, status: int, error: str) -> dict[str, Any]:
    """An OAuth error answer: also ``error_description``, and not cacheable."""
    body = json_refusal(response, status, error)
    assert body["error_description"] == body["message"], body
    assert response.headers["Cache-Control"] == "no-store"
    if status == 401:  # RFC 6749 §5.2 and RFC 9110: a 401 names a scheme
        assert "Basic" in response.headers["WWW-Authenticate"]
    return body


def bearer_refusal(response: Any) -> dict[str, Any]:
    body = json_refusal(response, 401, "invalid_token")
    assert "Bearer" in response.headers["WWW-Authenticate"]
    return body


def post_raw(client: webtest.TestApp, path: str, body: bytes | str, **kw: Any) -> Any:
    raw = body if isinstance(body, bytes) else body.encode("ascii")
    kw.setdefault("content_type", FORM)
    return client.post(path, raw, status="*", **kw)


def basic(username: str, password: str = "ignored-secret") -> dict[str, str]:
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {encoded}"}


def device_rows(app: Any) -> list[DeviceRequest]:
    return all_rows(app, select(DeviceRequest).order_by(DeviceRequest.id))


def wrong_code_than(right: str) -> str:
    """A well-formed user code that is not ``right``."""
    return "BCDF-GHJK" if right != "BCDF-GHJK" else "BCDF-GHJL"


def code_failures(app: Any) -> int:
    return scalar(app, select(func.count()).select_from(UserCodeFailure)) or 0


def approver_at(app: Any, clock: Any, username: str, ip: str) -> Approver:
    """Like device_helpers.approver, with the person's browser on another address."""
    user_id = create_user(app, username)
    device, _ = enrol(app, user_id, clock)
    client = browser(app, ip=ip)
    log_in_with_code(client, username, device)
    return Approver(client, user_id, device)


# --- POST /oauth/device_authorization -------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        pytest.param(
            json.dumps({"client_id": "cli"}), "application/json", 400, "invalid_request", id="json"
        ),
        pytest.param(
            "--b\r\nContent-Disposition: form-data; name=client_id\r\n\r\ncli\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
            400,
            "invalid_request",
            id="multipart",
        ),
        pytest.param("client_id=cli", "text/plain", 400, "invalid_request", id="text-plain"),
        pytest.param("", FORM, 401, "invalid_client", id="empty-body"),
        pytest.param("scope=api&hostname=box", FORM, 401, "invalid_client", id="no-client-id"),
        pytest.param("client_id=", FORM, 401, "invalid_client", id="blank-client-id"),
        pytest.param("client_id=%20%20", FORM, 401, "invalid_client", id="spaces-client-id"),
        pytest.param("client_id=a&client_id=b", FORM, 400, "invalid_request", id="client-id-twice"),
        pytest.param(
            "client_id=cli&client_id=cli", FORM, 400, "invalid_request", id="client-id-same-twice"
        ),
        pytest.param("client_id=" + "c" * 201, FORM, 401, "invalid_client", id="client-id-201"),
        pytest.param("client_id=cli%1Bx", FORM, 401, "invalid_client", id="client-id-escape-char"),
        pytest.param(
            "client_id=cli&hostname=" + "h" * 201, FORM, 400, "invalid_request", id="hostname-201"
        ),
        pytest.param(
            "client_id=cli&message=" + "m" * 201, FORM, 400, "invalid_request", id="message-201"
        ),
        pytest.param(
            "client_id=cli&hostname=evil%1B%5B2Jbox", FORM, 400, "invalid_request", id="host-esc"
        ),
        pytest.param(
            "client_id=cli&hostname=evil%00box", FORM, 400, "invalid_request", id="host-nul"
        ),
        pytest.param(
            "client_id=cli&message=line%0D%0Aforged", FORM, 400, "invalid_request", id="msg-crlf"
        ),
        pytest.param(  # a right-to-left override would make the approver misread the name
            "client_id=cli&hostname=%E2%80%AEmoc.knab", FORM, 400, "invalid_request", id="bidi"
        ),
        pytest.param(
            "client_id=cli&hostname=a&hostname=b", FORM, 400, "invalid_request", id="host-twice"
        ),
        pytest.param("client_id=cli&scope=admin", FORM, 400, "invalid_scope", id="scope-unknown"),
        pytest.param(
            "client_id=cli&scope=api+admin", FORM, 400, "invalid_scope", id="scope-one-unknown"
        ),
        pytest.param(
            "client_id=cli&padding=" + "x" * 9000, FORM, 400, "invalid_request", id="body-9000"
        ),
        pytest.param(
            "client_id=cli&hostname=" + "x" * 8200, FORM, 400, "invalid_request", id="host-8200"
        ),
        pytest.param(b"client_id=caf\xc3\xa9", FORM, 400, "invalid_request", id="raw-utf8-bytes"),
        pytest.param(b"client_id=\xff\xfe", FORM, 400, "invalid_request", id="raw-ff-fe"),
        pytest.param("client_id=%FF%FE", FORM, 400, "invalid_request", id="pct-not-utf8"),
        pytest.param(
            "client_id=caf%E9",
            FORM + "; charset=ISO-8859-1",
            400,
            "invalid_request",
            id="latin1-charset",
        ),
    ],
)
def test_a_bad_device_authorization_request_is_refused_and_stores_nothing(
    app, body, content_type, status, error
):
    before = table_counts(app)
    response = post_raw(tool(app), DEVICE, body, content_type=content_type)
    oauth_refusal(response, status, error)
    assert table_counts(app) == before


def test_a_body_without_a_length_is_still_cut_at_8_kb(app):
    """A chunked upload (no Content-Length; the server marks the input terminated)
    is read no further than the limit and refused."""
    before = table_counts(app)
    body = b"client_id=cli&padding=" + b"x" * 9000
    request = Request.blank(
        DEVICE,
        method="POST",
        environ={
            "REMOTE_ADDR": "192.0.2.77",
            "CONTENT_TYPE": FORM,
            "wsgi.input": io.BytesIO(body),
            "wsgi.input_terminated": True,
        },
    )
    request.environ.pop("CONTENT_LENGTH", None)
    response = request.get_response(app)
    oauth_refusal(response, 400, "invalid_request")
    assert "too large" in response.json["message"]
    assert table_counts(app) == before


def test_a_client_id_of_200_characters_is_the_longest_accepted(app):
    grant = ask(tool(app), client_id="c" * 200)
    assert grant["user_code"]
    [row] = device_rows(app)
    assert row.client_id == "c" * 200


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", [DEVICE, TOKEN])
def test_the_oauth_endpoints_answer_other_methods_with_a_json_405(app, path, method):
    before = table_counts(app)
    response = tool(app).request(path, method=method, status="*")
    json_refusal(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST"
    assert table_counts(app) == before


def test_a_unicode_client_id_is_accepted_and_shown_escaped(app, clock):
    person = approver(app, clock)
    client = tool(app)
    grant = ask(
        client,
        client_id="café-tool ✓",
        hostname="<b>bold</b>-box",
        message="<script>alert(1)</script> & more",
    )
    [row] = device_rows(app)
    assert (row.client_id, row.hostname) == ("café-tool ✓", "<b>bold</b>-box")

    assert location(enter_code(person, grant["user_code"], status=303)) == "/device/confirm"
    page = person.client.get("/device/confirm", status=200)
    shown = {
        dt.get_text(strip=True): dt.find_next_sibling("dd").get_text(strip=True)
        for dt in page.html.select("#device-request dt")
    }
    assert shown["Client"] == "café-tool ✓"
    assert shown["Hostname"] == "<b>bold</b>-box"  # as text, not markup
    assert shown["Message"] == "<script>alert(1)</script> & more"
    assert "café-tool ✓" in page.text
    assert "<b>bold</b>" not in page.text and "&lt;b&gt;bold&lt;/b&gt;" in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert page.html.select("#device-request script, #device-request b") == []

    # and the whole grant works for this client's name
    decide(person, grant["user_code"])
    token = poll(client, grant["device_code"], client_id="café-tool ✓", status=200).json
    [api] = [r for r in session_rows(app, person.user_id) if r.kind == SessionKind.API]
    assert api.client_id == "café-tool ✓"
    me = client.get("/api/v1/sessions", headers=bearer(token["access_token"]), status=200).json
    assert [s["client_id"] for s in me["sessions"] if s["kind"] == "api"] == ["café-tool ✓"]


def test_http_basic_authentication_carries_the_client_id(app, clock):
    person = approver(app, clock)
    client = tool(app)
    grant = client.post(DEVICE, {"scope": "api"}, headers=basic("basic-tool"), status=200).json
    [row] = device_rows(app)
    assert row.client_id == "basic-tool"

    decide(person, grant["user_code"])
    answer = client.post(
        TOKEN,
        {"grant_type": DEVICE_GRANT, "device_code": grant["device_code"]},
        headers=basic("basic-tool", "any-password"),
        status=200,
    ).json
    assert answer["token_type"] == "Bearer"
    [api] = [r for r in session_rows(app, person.user_id) if r.kind == SessionKind.API]
    assert api.client_id == "basic-tool"


def test_a_basic_username_is_form_decoded(app):
    response = post_raw(tool(app), DEVICE, "", headers=basic("my%20tool%E2%9C%93"))
    assert response.status_int == 200, response.text
    assert response.json["user_code"]
    [row] = device_rows(app)
    assert row.client_id == "my tool✓"


@pytest.mark.parametrize(
    ("headers", "body", "status", "error"),
    [
        pytest.param(basic("basic-tool"), "client_id=other", 400, "invalid_request", id="two"),
        pytest.param({"Authorization": "Basic !!!"}, "", 401, "invalid_client", id="garbled"),
        pytest.param({"Authorization": "Basic "}, "", 401, "invalid_client", id="empty"),
        pytest.param(basic(""), "", 401, "invalid_client", id="no-username"),
        pytest.param(basic("x" * 201), "", 401, "invalid_client", id="username-201"),
        pytest.param(basic("evil%1Btool"), "", 401, "invalid_client", id="username-escape"),
        pytest.param(
            {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:pw").decode()},
            "",
            401,
            "invalid_client",
            id="username-not-utf8",
        ),
    ],
)
def test_bad_http_basic_authentication_is_refused(app, headers, body, status, error):
    before = table_counts(app)
    response = post_raw(tool(app), DEVICE, body, headers=headers)
    oauth_refusal(response, status, error)
    assert table_counts(app) == before


# --- POST /oauth/token -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "status", "error"),
    [
        pytest.param({}, 400, "invalid_request", id="nothing"),
        pytest.param(
            {"device_code": "x", "client_id": "camauth-cli"}, 400, "invalid_request", id="no-grant"
        ),
        pytest.param(
            {"grant_type": "", "device_code": "x", "client_id": "camauth-cli"},
            400,
            "invalid_request",
            id="blank-grant",
        ),
        pytest.param(
            {"grant_type": "password", "username": "alice", "password": "x", "client_id": "c"},
            400,
            "unsupported_grant_type",
            id="password",
        ),
        pytest.param(
            {"grant_type": "authorization_code", "code": "x", "client_id": "camauth-cli"},
            400,
            "unsupported_grant_type",
            id="authorization-code",
        ),
        pytest.param(
            {"grant_type": "client_credentials", "client_id": "camauth-cli"},
            400,
            "unsupported_grant_type",
            id="client-credentials",
        ),
        pytest.param(
            {"grant_type": DEVICE_GRANT.upper(), "device_code": "x", "client_id": "camauth-cli"},
            400,
            "unsupported_grant_type",
            id="grant-in-capitals",
        ),
        pytest.param(
            {"grant_type": DEVICE_GRANT, "client_id": "camauth-cli"},
            400,
            "invalid_request",
            id="no-device-code",
        ),
        pytest.param(
            {"grant_type": DEVICE_GRANT, "device_code": "  ", "client_id": "camauth-cli"},
            400,
            "invalid_request",
            id="blank-device-code",
        ),
        pytest.param(
            {"grant_type": DEVICE_GRANT, "device_code": "x"}, 401, "invalid_client", id="no-client"
        ),
        pytest.param(
            {"grant_type": DEVICE_GRANT, "device_code": "A" * 43, "client_id": "camauth-cli"},
            400,
            "invalid_grant",
            id="forged-43",
        ),
        pytest.param(
            {"grant_type": DEVICE_GRANT, "device_code": "forged", "client_id": "camauth-cli"},
            400,
            "invalid_grant",
            id="forged-short",
        ),
        pytest.param(
            {"grant_type": DEVICE_GRANT, "device_code": "x" * 5_000, "client_id": "camauth-cli"},
            400,
            "invalid_request",
            id="device-code-5000",
        ),
        pytest.param(
            {"grant_type": DEVICE_GRANT, "device_code": "x" * 10_000, "client_id": "camauth-cli"},
            400,
            "invalid_request",
            id="device-code-10000",
        ),
        pytest.param(
            {"grant_type": DEVICE_GRANT, "device_code": "ab\x00cd", "client_id": "camauth-cli"},
            400,
            "invalid_request",
            id="device-code-nul",
        ),
    ],
)
def test_a_bad_token_request_is_refused_and_stores_nothing(app, fields, status, error):
    client = tool(app)
    ask(client)  # a live request that none of these may touch
    before = table_counts(app)
    [row_before] = device_rows(app)
    oauth_refusal(client.post(TOKEN, fields, status="*"), status, error)
    assert table_counts(app) == before
    [row_after] = device_rows(app)
    assert (row_after.status, row_after.last_polled_at, row_after.interval_seconds) == (
        row_before.status,
        row_before.last_polled_at,
        row_before.interval_seconds,
    )


def test_a_token_request_that_is_not_a_form_is_refused(app):
    client = tool(app)
    grant = ask(client)
    body = json.dumps(
        {"grant_type": DEVICE_GRANT, "device_code": grant["device_code"], "client_id": "x"}
    )
    response = post_raw(client, TOKEN, body, content_type="application/json")
    oauth_refusal(response, 400, "invalid_request")
    # the real poll afterwards is the first one: not told to slow down
    assert poll(client, grant["device_code"], status=400).json["error"] == "authorization_pending"


def test_a_device_code_polled_by_another_client_is_refused_and_not_counted(app, clock):
    person = approver(app, clock)
    client = tool(app)
    grant = ask(client)
    decide(person, grant["user_code"])
    before = table_counts(app)
    for impostor in ("impostor", "CAMAUTH-CLI", "camauth-cli2"):
        oauth_refusal(poll(client, grant["device_code"], client_id=impostor), 400, "invalid_grant")
    # from the tool's own address too, with the right code: still the wrong client
    oauth_refusal(
        client.post(
            TOKEN,
            {"grant_type": DEVICE_GRANT, "device_code": grant["device_code"]},
            headers=basic("impostor"),
            status="*",
        ),
        400,
        "invalid_grant",
    )
    assert table_counts(app) == before
    [row] = device_rows(app)
    assert row.status == "approved" and row.last_polled_at is None
    # the rightful client still gets its token, at once (the impostor's polls did not count)
    assert poll(client, grant["device_code"], status=200).json["access_token"]


def test_a_repeated_device_code_field_is_refused_and_not_counted(app, clock):
    person = approver(app, clock)
    client = tool(app)
    grant = ask(client)
    decide(person, grant["user_code"])
    code = grant["device_code"]
    before = table_counts(app)
    for body in (
        f"grant_type={DEVICE_GRANT}&client_id=camauth-cli&device_code={code}&device_code={code}",
        f"grant_type={DEVICE_GRANT}&client_id=camauth-cli&device_code={code}&device_code=forged",
        f"grant_type={DEVICE_GRANT}&grant_type={DEVICE_GRANT}&client_id=camauth-cli"
        f"&device_code={code}",
    ):
        oauth_refusal(post_raw(client, TOKEN, body), 400, "invalid_request")
    assert table_counts(app) == before
    [row] = device_rows(app)
    assert row.status == "approved" and row.last_polled_at is None
    assert poll(client, grant["device_code"], status=200).json["access_token"]


# --- bearer tokens ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Bearer", id="no-token"),
        pytest.param("Bearer ", id="blank-token"),
        pytest.param("Bearer a b c", id="three-parts"),
        pytest.param("Bearer " + "t" * 500, id="500-chars"),
        pytest.param("Bearer " + "A" * 43, id="forged-43"),
        pytest.param("bEaReR " + "A" * 43, id="forged-43-mixed-case"),
        pytest.param("Bearer " + "A" * 42 + "!", id="bad-character"),
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/sessions"),
        ("DELETE", "/api/v1/session"),
        ("DELETE", "/api/v1/sessions/1"),
    ],
)
def test_a_missing_malformed_or_forged_token_gets_a_json_401(app, clock, header, method, path):
    person = approver(app, clock)  # a live browser session with id 1, among others
    api_token(app, person)
    before = table_counts(app)
    response = tool(app).request(path, method=method, headers={"Authorization": header}, status="*")
    bearer_refusal(response)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert "Set-Cookie" not in response.headers
    assert table_counts(app) == before
    person.client.get("/account/sessions", status=200)  # nobody was logged out


def test_a_request_with_no_credentials_gets_a_json_401(app):
    response = tool(app).get("/api/v1/me", status="*")
    bearer_refusal(response)


def test_a_token_used_after_its_session_ended_is_refused(app, clock):
    person = approver(app, clock)
    token = api_token(app, person)
    client = tool(app)
    client.get("/api/v1/me", headers=bearer(token), status=200)
    client.delete("/api/v1/session", headers=bearer(token), status=204)
    assert [r.kind for r in session_rows(app, person.user_id)] == [SessionKind.BROWSER]
    before = table_counts(app)
    for method, path in (
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/sessions"),
        ("DELETE", "/api/v1/session"),
        ("DELETE", "/api/v1/sessions/1"),
    ):
        response = client.request(path, method=method, headers=bearer(token), status="*")
        bearer_refusal(response)
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    # from another address as well
    bearer_refusal(tool(app, "203.0.113.5").get("/api/v1/me", headers=bearer(token), status="*"))
    assert table_counts(app) == before


def test_a_cookie_and_a_bearer_token_together_are_refused(app, clock):
    person = approver(app, clock)
    token = api_token(app, person)
    cookie = "; ".join(f"{name}={value}" for name, value in person.client.cookies.items())
    assert "camauth_session=" in cookie
    before = table_counts(app)
    both = {"Cookie": cookie, **bearer(token)}
    for method, path in (
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/sessions"),
        ("DELETE", "/api/v1/session"),
        ("DELETE", "/api/v1/sessions/1"),
    ):
        response = browser(app).request(path, method=method, headers=both, status="*")
        body = json_refusal(response, 400, "invalid_request")
        assert "both a session cookie and a bearer token" in body["message"]
        assert "Set-Cookie" not in response.headers
    # the browser itself, adding the header to its own cookie
    response = person.client.get("/api/v1/me", headers=bearer(token), status="*")
    json_refusal(response, 400, "invalid_request")
    # nothing was ended: both still work, each on its own
    assert table_counts(app) == before
    tool(app).get("/api/v1/me", headers=bearer(token), status=200)
    person.client.get("/account/sessions", status=200)


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("DELETE", "/api/v1/sessions/abc", 400, "invalid_request"),
        ("DELETE", "/api/v1/sessions/99999999999", 400, "invalid_request"),
        ("DELETE", "/api/v1/sessions/-1", 400, "invalid_request"),
        ("DELETE", "/api/v1/sessions/1.0", 400, "invalid_request"),
        ("DELETE", "/api/v1/sessions/%EF%BC%91", 400, "invalid_request"),  # a full-width 1
        ("DELETE", "/api/v1/sessions/2147483648", 400, "invalid_request"),
        ("DELETE", "/api/v1/sessions/2147483647", 404, "not_found"),
        ("DELETE", "/api/v1/sessions/0", 404, "not_found"),
        ("POST", "/api/v1/me", 405, "method_not_allowed"),
        ("PUT", "/api/v1/me", 405, "method_not_allowed"),
        ("DELETE", "/api/v1/me", 405, "method_not_allowed"),
        ("POST", "/api/v1/sessions", 405, "method_not_allowed"),
        ("GET", "/api/v1/session", 405, "method_not_allowed"),
        ("GET", "/api/v1/nothing-here", 404, "not_found"),
        ("DELETE", "/api/v1/nothing-here", 404, "not_found"),
        ("GET", "/api/v1/me/extra", 404, "not_found"),
    ],
)
def test_bad_api_requests_with_a_valid_token_get_json_errors(
    app, clock, method, path, status, error
):
    person = approver(app, clock)
    token = api_token(app, person)
    before = table_counts(app)
    response = tool(app).request(path, method=method, headers=bearer(token), status="*")
    json_refusal(response, status, error)
    if status == 405:
        assert response.headers["Allow"]
        assert method not in response.headers["Allow"].split(", ")
    assert table_counts(app) == before
    tool(app).get("/api/v1/me", headers=bearer(token), status=200)  # the token still works


def test_post_to_me_names_the_allowed_method(app, clock):
    token = api_token(app, approver(app, clock))
    response = tool(app).post("/api/v1/me", headers=bearer(token), status="*")
    json_refusal(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET"


def test_another_user_s_session_cannot_be_ended_through_the_api(app, clock):
    alice = approver(app, clock)
    bob = approver(app, clock, "bob")
    bobs_token = api_token(app, bob)
    token = api_token(app, alice)
    bobs_rows = session_rows(app, bob.user_id)
    assert {r.kind for r in bobs_rows} == {SessionKind.BROWSER, SessionKind.API}
    before = table_counts(app)
    for row in bobs_rows:
        response = tool(app).delete(f"/api/v1/sessions/{row.id}", headers=bearer(token), status="*")
        json_refusal(response, 404, "not_found")
    assert [r.id for r in session_rows(app, bob.user_id)] == [r.id for r in bobs_rows]
    assert table_counts(app) == before
    # bob did not notice
    bob.client.get("/account/sessions", status=200)
    tool(app).get("/api/v1/me", headers=bearer(bobs_token), status=200)
    # and alice's list does not show them
    listed = tool(app).get("/api/v1/sessions", headers=bearer(token), status=200).json
    assert {s["id"] for s in listed["sessions"]}.isdisjoint({r.id for r in bobs_rows})


# --- guessing user codes on /device ------------------------------------------------------


def test_a_user_code_guessed_too_often_is_refused_per_person_and_per_network(app, clock):
    alice = approver(app, clock)  # her browser at 192.0.2.10
    grant = ask(tool(app))
    wrong = wrong_code_than(grant["user_code"])
    for left in (4, 3, 2, 1):
        page = enter_code(alice, wrong, status=400)
        assert f"{left} more {'try' if left == 1 else 'tries'}" in page.text
        assert "Too many wrong codes" not in page.text
    # the fifth wrong code uses up the tries
    assert "Too many wrong codes" in enter_code(alice, wrong, status=429).text
    assert code_failures(app) == 5

    # the sixth attempt, with the right code, is refused all the same
    sixth = enter_code(alice, grant["user_code"], status=429)
    assert "Too many wrong codes" in sixth.text
    assert_no_traceback(sixth)
    assert location(alice.client.get("/device/confirm", status=303)) == "/device"
    assert code_failures(app) == 5  # a refused attempt is not even looked up

    # another person logged in from the same address: the network is limited too
    bob = approver(app, clock, "bob")
    assert "Too many wrong codes" in enter_code(bob, grant["user_code"], status=429).text
    assert location(bob.client.get("/device/confirm", status=303)) == "/device"

    [row] = device_rows(app)
    assert row.status == "pending" and row.user_id is None

    # a person on another network is not limited, and may go on with the right code
    carol = approver_at(app, clock, "carol", ELSEWHERE)
    assert location(enter_code(carol, grant["user_code"], status=303)) == "/device/confirm"
    assert code_failures(app) == 5


def test_wrong_codes_of_every_shape_count_and_are_answered_with_a_page(app, clock):
    person = approver(app, clock)
    grant = ask(tool(app))
    pages = {}
    for typed in ("x", "BCDF-GHJ\x1b", "<script>", "ÄÖÜÄ-ÖÜÄÖ"):
        pages[typed] = page = enter_code(person, typed, status=400)
        assert_no_traceback(page)
        assert page.content_type == "text/html"
        assert "No device login is waiting for the code" in page.text
    # what was typed is echoed as text, never as markup
    assert "&lt;script&gt;" in pages["<script>"].text
    assert "<script>'" not in pages["<script>"].text
    assert code_failures(app) == 4
    assert (
        "Too many wrong codes"
        in enter_code(person, wrong_code_than(grant["user_code"]), status=429).text
    )
    assert "Too many wrong codes" in enter_code(person, grant["user_code"], status=429).text
    assert code_failures(app) == 5
