"""Defects a review of the device grant found, each pinned by a test: an API token
never counts as a recent re-authentication; a host's commit veto keeps wrong codes
and poll state; a non-ASCII Basic header is a 401, not a 500; an approval not yet
collected dies with the person's sessions."""

from __future__ import annotations

from sqlalchemy import func, select

from camauth.models import DeviceRequest, User, UserCodeFailure
from camauth.services import accounts, mfa, sessions

from ..conftest import app_context
from .conftest import location, scalar
from .device_helpers import (
    DEVICE_GRANT,
    api_token,
    approver,
    ask,
    bearer,
    decide,
    enter_code,
    poll,
    tool,
)
from .test_review_regressions import with_commit_veto

NEW_PASSWORD = "a quite different passphrase 42"


def test_an_admin_s_fresh_token_cannot_make_sensitive_changes(app, clock):
    admin = approver(app, clock, "root", is_admin=True)
    token = api_token(app, admin)
    client = tool(app)
    form = {"username": "mallory", "email": "", "full_name": "", "is_admin": "true"}
    form["temporary_password"] = "a temporary passphrase 99"
    response = client.post("/admin/users/new", form, headers=bearer(token), status=303)
    assert location(response).startswith("/account/reauthenticate?next=")
    ctx = app_context(app)
    try:
        assert accounts.find_user(ctx, "mallory") is None
    finally:
        ctx.db.close()


def test_under_a_commit_veto_wrong_codes_still_count(app_factory, clock):
    app = app_factory(configure=with_commit_veto)
    person = approver(app, clock)
    for _ in range(4):
        enter_code(person, "BCDF-GHJK", status=400)
    assert "Too many wrong codes" in enter_code(person, "BCDF-GHJK", status=429).text
    assert scalar(app, select(func.count()).select_from(UserCodeFailure)) == 5


def test_under_a_commit_veto_polls_are_still_remembered(app_factory, clock):
    app = app_factory(configure=with_commit_veto)
    client = tool(app)
    grant = ask(client)
    assert poll(client, grant["device_code"], status=400).json["error"] == "authorization_pending"
    assert poll(client, grant["device_code"], status=400).json["error"] == "slow_down"
    assert scalar(app, select(DeviceRequest.interval_seconds)) == 10


def test_a_non_ascii_basic_header_is_a_401(app):
    for path in ("/oauth/device_authorization", "/oauth/token"):
        response = tool(app).post(
            path, {"grant_type": DEVICE_GRANT}, headers={"Authorization": "Basic éééé"}, status=401
        )
        assert response.json["error"] == "invalid_client"


def test_a_basic_client_id_is_form_decoded(app):
    import base64

    header = "Basic " + base64.b64encode(b"my+tool:secret").decode()
    grant = (
        tool(app)
        .post(
            "/oauth/device_authorization",
            {"client_id": "my tool"},
            headers={"Authorization": header},
            status=200,
        )
        .json
    )
    assert grant["user_code"]


def test_an_approval_not_yet_collected_dies_with_the_person_s_sessions(app, clock):
    endings = {
        "password": lambda ctx, user: accounts.reset_password(ctx, user, NEW_PASSWORD),
        "two-factor": lambda ctx, user: mfa.remove(ctx, user),
        "ended": lambda ctx, user: sessions.end_user_sessions(ctx, user),
        "all": lambda ctx, user: sessions.end_all_sessions(ctx),
    }
    for name, ending in endings.items():
        person = approver(app, clock, f"user-{name}")
        client = tool(app)
        grant = ask(client)
        decide(person, grant["user_code"])
        ctx = app_context(app)
        try:
            ending(ctx, ctx.db.get(User, person.user_id))
            ctx.db.commit()
        finally:
            ctx.db.close()
        clock.advance(seconds=10)
        refused = poll(client, grant["device_code"], status=400)
        assert refused.json["error"] == "access_denied", name
