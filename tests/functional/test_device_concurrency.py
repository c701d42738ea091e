"""The device grant under parallel requests, on both databases: a device code is
exchanged once however many polls arrive together, and the limits on wrong user
codes and on requests per network are exact."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from camauth.db import make_engine
from camauth.models import DeviceRequest, SessionKind, UserCodeFailure

from .conftest import app_on_engine, at_the_same_moment, scalar, session_rows
from .device_helpers import DEVICE_GRANT, approver, ask, decide, enter_code, tool

PARALLEL = 12


@pytest.fixture
def parallel_app(db_url, clock):
    engine = make_engine(db_url, pool_size=PARALLEL + 5, max_overflow=5, pool_timeout=120)
    app = app_on_engine(engine, clock)
    yield app
    engine.dispose()


def test_parallel_polls_exchange_an_approved_code_once(parallel_app, clock):
    app = parallel_app
    person = approver(app, clock)
    grant = ask(tool(app))
    decide(person, grant["user_code"])
    body = {"grant_type": DEVICE_GRANT, "device_code": grant["device_code"]}
    body["client_id"] = "camauth-cli"

    def prepare(number: int) -> Any:
        client = tool(app)
        return lambda: client.post("/oauth/token", body, status="*")

    answers = at_the_same_moment(PARALLEL, prepare)
    tokens = [answer.json["access_token"] for answer in answers if answer.status_int == 200]
    assert len(tokens) == 1
    errors = {answer.json["error"] for answer in answers if answer.status_int != 200}
    assert errors <= {"slow_down", "invalid_grant"}
    api = [row for row in session_rows(app, person.user_id) if row.kind == SessionKind.API]
    assert len(api) == 1


def test_parallel_wrong_codes_stop_exactly_at_the_limit(parallel_app, clock):
    app = parallel_app
    person = approver(app, clock)
    page = person.client.get("/device", status=200)
    token = page.forms["device"]["csrf_token"].value

    def prepare(number: int) -> Any:
        body = {"csrf_token": token, "user_code": "BCDF-GHJK"}
        return lambda: person.client.post("/device", body, status="*").status_int

    statuses = at_the_same_moment(PARALLEL, prepare)
    assert sorted(statuses) == [400] * 4 + [429] * (PARALLEL - 4)
    assert scalar(app, select(func.count()).select_from(UserCodeFailure)) == 5
    # the right code is refused too, now
    grant = ask(tool(app))
    assert "Too many wrong codes" in enter_code(person, grant["user_code"], status=429).text


def test_parallel_device_requests_from_one_network_stop_at_the_limit(parallel_app):
    app = parallel_app
    count = 24

    def prepare(number: int) -> Any:
        client = tool(app)
        body = {"client_id": f"tool-{number}"}
        return lambda: client.post("/oauth/device_authorization", body, status="*").status_int

    statuses = at_the_same_moment(count, prepare)
    assert sorted(statuses) == [200] * 20 + [429] * 4
    assert scalar(app, select(func.count()).select_from(DeviceRequest)) == 20
