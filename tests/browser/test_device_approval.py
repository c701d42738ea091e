"""Approving a device login in Chromium (PRODUCT §11, §15): the link the tool prints,
the code already filled in, who is asking, Approve; the tool then gets its token."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import Page, expect

from camauth.models import User

from ..conftest import GOOD_PASSWORD, app_context
from ..functional.two_factor_helpers import Authenticator, enrol
from .conftest import Browsing, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def alice_with_two_factor(server: LiveServer) -> Authenticator:
    server.add_user("alice", password=GOOD_PASSWORD)
    ctx = app_context(server.app)
    try:
        user_id = ctx.db.query(User.id).filter(User.username == "alice").scalar()
    finally:
        ctx.db.close()
    device, _ = enrol(server.app, user_id, server.clock)
    return device


def log_in(page: Page, device: Authenticator, next_url: str) -> None:
    page.goto(next_url)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.get_by_label("Authentication code").fill(device.next())
    page.get_by_role("button", name="Verify").click()


def test_a_person_approves_a_device_login_in_the_browser(
    live_server: LiveServer, browsing: Browsing, page: Page
) -> None:
    device = alice_with_two_factor(live_server)
    grant = requests.post(
        f"{live_server.url}/oauth/device_authorization",
        data={"client_id": "backup-tool", "hostname": "nas-01", "message": "nightly backup"},
        headers={"User-Agent": "backup-tool/3.1"},
        timeout=10,
    ).json()
    link = grant["verification_uri_complete"]
    assert link.startswith(f"{live_server.url}/device?user_code=")

    log_in(page, device, link)
    expect(page).to_have_url(link)
    expect(page.get_by_label("User code")).to_have_value(grant["user_code"])
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(re.compile(r"/device/confirm$"))
    details = page.locator("#device-request")
    for shown in ("backup-tool", "nas-01", "nightly backup", "backup-tool/3.1", "127.0.0.1"):
        expect(details).to_contain_text(shown)
    expect(page.get_by_role("button", name="Deny")).to_be_visible()
    expect(page.get_by_role("button", name="Report as suspicious")).to_be_visible()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Approved. backup-tool can continue now.")).to_be_visible()

    answer = requests.post(
        f"{live_server.url}/oauth/token",
        data={
            "grant_type": DEVICE_GRANT,
            "device_code": grant["device_code"],
            "client_id": "backup-tool",
        },
        timeout=10,
    )
    assert answer.status_code == 200
    token = answer.json()["access_token"]

    # the person sees the tool among their sessions
    page.goto("/account/sessions")
    expect(page.locator("#my-sessions")).to_contain_text("backup-tool")
    expect(page.locator("#my-sessions")).to_contain_text("nas-01")
    assert browsing.problems.found == []
    me = requests.get(
        f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert me.json()["username"] == "alice"
