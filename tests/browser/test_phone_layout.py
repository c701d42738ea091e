"""Every page on a 390 px phone: no horizontal scrolling (``scrollWidth <=
innerWidth``), the menu reachable without script, and a screenshot of each page
at phone and laptop width in docs/screenshots/ (phone-*.png, desktop-*.png).
axe-core checks each page at both widths, logged out and in: no serious or
critical accessibility violation."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from camauth.models import SessionKind, TokenPurpose
from camauth.services import (
    accounts,
    groups,
    invitations,
    lockout,
    profile,
    roles,
    sessions,
    tokens,
)
from camauth.services.context import Origin

from ..conftest import GOOD_PASSWORD, app_context
from .conftest import LiveServer, accessibility_problems

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 900}
LONG_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0 SomeToolbar/1.2.3.4.5.6.7.8.9"
)
PUBLIC = ["/login", "/password/forgot"]
# the pages of mailed links, each with a live token (fill_database makes them)
MAILED = ["/password/reset/{reset}", "/password/set/{invite}", "/account/email/confirm/{email}"]
PERSONAL = [
    "/",
    "/account",
    "/account/profile",
    "/account/email",
    "/account/password",
    "/account/two-factor",
    "/account/sessions",
    "/account/reauthenticate",
    "/device",
]
CONSOLE = [
    "/admin",
    "/admin/users",
    "/admin/users/new",
    "/admin/users/{alice}",
    "/admin/users/{alice}/edit",
    "/admin/users/{alice}/reset-password",
    "/admin/users/{alice}/hardware-token",
    "/admin/users/{alice}/disable",
    "/admin/lockouts",
    "/admin/sessions",
    "/admin/audit",
    "/admin/roles",
    "/admin/roles/{role}",
    "/admin/roles/{role}/delete",
    "/admin/groups",
    "/admin/groups/{group}",
    "/admin/groups/{group}/delete",
]


def fill_database(server: LiveServer) -> dict[str, Any]:
    """Rows with long values, the kind that push a page wider than a phone."""
    ctx = app_context(server.app)
    try:
        alice = accounts.create_user(
            ctx,
            "alice-with-a-rather-long-username",
            password=GOOD_PASSWORD,
            email="alice.with.a.long.address@research-institute.example.org",
            full_name="Alice Example-Longname",
        )
        accounts.create_user(ctx, "root", password=GOOD_PASSWORD, is_admin=True)
        for ip in ("2001:db8:1234:5678:9abc:def0:1234:5678", "203.0.113.77"):
            visitor = replace(ctx, origin=Origin(ip=ip, user_agent=LONG_AGENT))
            lockout.record_failure(visitor, "someone-typed-a-very-long-username-here")
        _, row = sessions.create_session(ctx, user=alice, kind=SessionKind.API)
        row.client_id, row.hostname = "backup-tool-with-long-name", "nas-01.storage.example.org"
        row.user_agent = LONG_AGENT
        bob = accounts.create_user(ctx, "bob-invited", email="bob@research-institute.example.org")
        role = roles.create_role(
            ctx, "clinical-trial-data-reviewer", ["camauth.admin"], "Reviews the data of trials"
        )
        group = groups.create_group(ctx, "cardiology-research-team-2026", "A rather long team")
        roles.grant_role(ctx, role, group=group)
        roles.grant_role(ctx, role, user=alice)
        groups.add_member(ctx, group, alice, group_admin=True)
        groups.add_member(ctx, group, bob)
        links = {
            "alice": alice.id,
            "role": role.name,
            "group": group.name,
            "reset": tokens.issue(ctx, alice, TokenPurpose.PASSWORD_RESET, timedelta(hours=1)),
            "invite": invitations.invite(ctx, bob).token,
            "email": profile.request_email_change(ctx, alice, "alice@new.example.org").token,
        }
        ctx.db.commit()
        return links
    finally:
        ctx.db.close()


def log_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).not_to_have_url(re.compile(r"/login"))


ACCESSIBILITY: list[str] = []


def check(page: Page, path: str, name: str, prefix: str = "phone") -> str | None:
    page.goto(path)
    ACCESSIBILITY.extend(accessibility_problems(page))
    width = page.evaluate("document.documentElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{prefix}-{name}.png"), full_page=True)
    return None if width <= inner else f"{path}: {width} px wide in a {inner} px window"


def screenshot_name(path: str) -> str:
    name = path.strip("/").replace("/", "-").replace("{alice}", "user")
    name = name.replace("{role}", "role").replace("{group}", "group")
    return re.sub(r"-\{\w+\}$", "", name) or "home"


def test_no_page_scrolls_sideways_on_a_phone(browser: Browser, live_server: LiveServer) -> None:
    links = fill_database(live_server)
    wide: list[str] = []
    visitor = browser.new_context(base_url=live_server.url, viewport=PHONE)
    page = visitor.new_page()
    for path in PUBLIC + MAILED:
        wide.append(check(page, path.format(**links), screenshot_name(path)))
    admin = browser.new_context(base_url=live_server.url, viewport=PHONE)
    page = admin.new_page()
    log_in(page, "root")
    for path in PERSONAL + CONSOLE:
        wide.append(check(page, path.format(**links), screenshot_name(path)))
    # the menu is one tap away and needs no script
    page.goto("/")
    expect(page.get_by_role("link", name="My sessions")).to_be_hidden()
    page.get_by_text("Menu").click()
    expect(page.get_by_role("link", name="My sessions")).to_be_visible()
    # the same pages on a laptop, for the screenshots side by side (a login there
    # ends the phone's session: one interactive session per user)
    laptop = browser.new_context(base_url=live_server.url, viewport=LAPTOP)
    page_wide = laptop.new_page()
    for path in PUBLIC + MAILED:
        wide.append(check(page_wide, path.format(**links), screenshot_name(path), "desktop"))
    log_in(page_wide, "root")
    for path in PERSONAL + CONSOLE:
        wide.append(check(page_wide, path.format(**links), screenshot_name(path), "desktop"))
    laptop.close()
    assert [problem for problem in wide if problem] == []
    assert ACCESSIBILITY == []
    visitor.close()
    admin.close()
