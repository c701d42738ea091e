"""Helpers for the device-login tests: a tool's requests, a person with two-factor
who approves in a browser, and a whole flow ending in an API token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import webtest

from camauth.clock import FakeClock

from .conftest import browser, create_user, location
from .two_factor_helpers import Authenticator, enrol, log_in_with_code

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
TOOL = "192.0.2.77"  # where the tool runs


def tool(app: Any, ip: str = TOOL) -> webtest.TestApp:
    return webtest.TestApp(app, extra_environ={"REMOTE_ADDR": ip, "HTTP_USER_AGENT": "cli/1.0"})


def ask(client: webtest.TestApp, status: int | str = 200, **fields: str) -> Any:
    """POST /oauth/device_authorization; returns the JSON answer."""
    body = {"client_id": "camauth-cli", **fields}
    return client.post("/oauth/device_authorization", body, status=status).json


def poll(
    client: webtest.TestApp,
    device_code: str,
    client_id: str = "camauth-cli",
    status: int | str = "*",
) -> webtest.TestResponse:
    body = {"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": client_id}
    return client.post("/oauth/token", body, status=status)


@dataclass
class Approver:
    """A person logged in with two-factor in a browser of their own."""

    client: webtest.TestApp
    user_id: int
    device: Authenticator


def approver(app: Any, clock: FakeClock, username: str = "alice", **kw: Any) -> Approver:
    user_id = create_user(app, username, **kw)
    device, _ = enrol(app, user_id, clock)
    client = browser(app)
    log_in_with_code(client, username, device)
    return Approver(client, user_id, device)


def enter_code(person: Approver, user_code: str, status: int | str = "*") -> webtest.TestResponse:
    page = person.client.get("/device", status=200)
    form = page.forms["device"]
    form["user_code"] = user_code
    return form.submit("submit", status=status)


def decide(person: Approver, user_code: str, decision: str = "approve") -> webtest.TestResponse:
    """Type the code, look at the request, press a button; returns the page after."""
    response = enter_code(person, user_code, status=303)
    assert location(response) == "/device/confirm"
    page = person.client.get("/device/confirm", status=200)
    form = page.forms["device-decision"]
    return form.submit("decision", value=decision, status=303).follow()


def api_token(app: Any, person: Approver, **fields: str) -> str:
    """The whole flow: a tool asks, the person approves, the tool gets its token."""
    client = tool(app)
    grant = ask(client, **fields)
    decide(person, grant["user_code"])
    answer = poll(client, grant["device_code"], status=200).json
    token: str = answer["access_token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
