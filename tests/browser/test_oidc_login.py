"""Logging in through an OpenID Connect provider in a real browser (PRODUCT §18):
camauth's login page, the loopback provider (tests/oidc_provider.py, which
consents at once) and back, against a real waitress server."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from ..functional.oidc_helpers import NAME, link
from ..oidc_provider import FakeProvider
from .conftest import Browsing, LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LABEL = "Log in with Example ID"


@pytest.fixture
def ini_settings(ini_settings: dict[str, Any], fake_provider: FakeProvider) -> dict[str, Any]:
    """The live server's settings with the loopback provider configured."""
    return {
        **ini_settings,
        f"camauth.oidc.{NAME}.issuer": fake_provider.issuer,
        f"camauth.oidc.{NAME}.client_id": fake_provider.client_id,
        f"camauth.oidc.{NAME}.client_secret": fake_provider.client_secret,
        f"camauth.oidc.{NAME}.label": LABEL,
        f"camauth.oidc.{NAME}.timeout_seconds": "5",
    }


def test_log_in_with_a_linked_identity(
    page: Page, live_server: LiveServer, browsing: Browsing, fake_provider: FakeProvider
) -> None:
    live_server.add_user("alice", email="alice@example.org")
    link(live_server.app, fake_provider, "alice", "sub-alice")
    fake_provider.will_log_in("sub-alice", email="alice@example.org", name="Alice")

    page.goto("/login")
    page.get_by_role("link", name=LABEL).click()

    # to the provider and back, then home; the account centre says who is in
    expect(page).to_have_url(re.compile(r"^" + re.escape(live_server.url) + r"/(account)?$"))
    paths = [path for path, _ in fake_provider.requests]
    assert "/authorize" in paths and "/token" in paths
    page.goto("/account")
    expect(page.get_by_text("Signed in as alice", exact=True)).to_be_visible()
    assert browsing.problems.found == []
