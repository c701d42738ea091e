"""``/account``, the account centre: who is signed in, the profile, how the login
is protected, the person's sessions and recent security activity in plain words.
The stand-alone home page and ``/account/sessions`` are the same page."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import select

from camauth.models import RecoveryCode
from camauth.services import accounts
from camauth.services.context import Origin

from ..conftest import app_context
from .admin_helpers import table_rows
from .conftest import (
    assert_no_traceback,
    audit_events,
    browser,
    create_user,
    flashes,
    get_user,
    logged_in,
    submit_login,
)
from .two_factor_helpers import enrol, log_in_with_code

ACCOUNT = "/account"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture
def alice(app) -> int:
    return create_user(app, "alice", full_name="Alice Example", email="alice@example.org")


def facts(page, section: str) -> dict[str, str]:
    """The <dt>/<dd> pairs of a section of the page, as text."""
    block = page.html.select_one(f"#{section}")
    names = [node.get_text(" ", strip=True) for node in block.select("dt")]
    values = [node.get_text(" ", strip=True) for node in block.select("dd")]
    return dict(zip(names, values, strict=True))


@pytest.mark.parametrize("path", ["/", ACCOUNT, "/account/sessions"])
def test_the_home_page_and_the_sessions_page_are_the_account_centre(app, alice, path):
    page = logged_in(app).get(path, status=200)
    assert "Signed in as alice" in page.text
    assert page.html.select_one("h1").get_text(strip=True) == "Your account"
    for section in ("profile", "security", "sessions", "activity"):
        assert page.html.select_one(f"section#{section}") is not None, section
    assert "no-store" in page.headers["Cache-Control"]


def test_the_menu_names_the_person_and_links_to_the_account_centre(app, alice):
    page = logged_in(app).get("/account/password", status=200)
    links = {a.get_text(strip=True): a["href"] for a in page.html.select("nav a.nav-link")}
    assert links["alice"] == ACCOUNT


def test_logged_out_visitors_are_sent_to_log_in(app, alice):
    response = browser(app).get(ACCOUNT, status=303)
    assert response.headers["Location"].endswith("/login?next=%2Faccount")


def test_profile_and_security_summary(app, alice, clock):
    clock.advance(days=3)
    page = logged_in(app).get(ACCOUNT, status=200)
    profile = facts(page, "profile")
    assert profile["Username"] == "alice"
    assert profile["Full name"] == "Alice Example"
    assert profile["Email"] == "alice@example.org"
    assert profile["Time zone"] == "UTC (the site's)"
    security = facts(page, "security")
    assert security["Password"].endswith("(3 days ago)")
    assert security["Two-factor"].startswith("off")
    assert "Recovery codes" not in security
    assert security["Passkeys"] == "none"
    buttons = {a.get_text(strip=True) for a in page.html.select("#security a.btn")}
    assert buttons == {"Change password", "Set up two-factor", "Passkeys"}
    # not an administrator: no way to the console from here
    assert "administration console" not in page.text


def test_password_expiry_is_announced_when_passwords_expire(app_factory, clock):
    app = app_factory(**{"password.max_age_days": "90"})
    create_user(app, "alice")
    clock.advance(days=80)
    security = facts(logged_in(app).get(ACCOUNT), "security")
    assert "It must be changed in 10 days." in security["Password"]


def test_administrators_see_a_link_to_the_console(app_factory):
    app = app_factory(**{"mfa.required_for": "none"})
    create_user(app, "root", is_admin=True)
    page = logged_in(app, "root").get(ACCOUNT, status=200)
    link = page.html.select_one('#security a[href="/admin"]')
    assert link is not None and link.get_text(strip=True) == "open the administration console"


def spend_recovery_codes(app, user_id: int, leave: int) -> None:
    ctx = app_context(app)
    try:
        rows = ctx.db.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user_id)).all()
        for row in rows[leave:]:
            row.used_at = ctx.clock()
        ctx.db.commit()
    finally:
        ctx.db.close()


@pytest.mark.parametrize(("left", "warned"), [(3, False), (2, True), (0, True)])
def test_two_factor_status_warns_when_few_recovery_codes_are_left(app, alice, clock, left, warned):
    authenticator, _codes = enrol(app, alice, clock)
    spend_recovery_codes(app, alice, leave=left)
    client = browser(app)
    log_in_with_code(client, "alice", authenticator)
    page = client.get(ACCOUNT, status=200)
    security = facts(page, "security")
    assert security["Two-factor"] == "on , with an authenticator app"
    assert security["Recovery codes"] == f"{left} left"
    warning = page.html.select_one("#few-recovery-codes")
    assert (warning is not None) is warned
    if warned:
        assert warning.select_one("a")["href"] == "/account/two-factor"


def test_recent_activity_in_plain_words_with_device_and_address(app, alice, clock):
    submit_login(browser(app, ip="203.0.113.9"), "alice", "wrong password here", status=403)
    clock.advance(minutes=1)
    client = logged_in(app, ip="198.51.100.4", HTTP_USER_AGENT=FIREFOX)
    page = client.get(ACCOUNT, status=200)
    rows = table_rows(page, "recent-activity")
    newest, failure = rows[0], rows[1]
    assert newest[1:] == ["Logged in", "198.51.100.4", "Firefox 128 on Windows"]
    assert failure[1:3] == ["Failed login", "203.0.113.9"]
    cell = page.html.select_one("#recent-activity tbody tr .user-agent")
    assert cell["title"] == FIREFOX  # the whole string on hover
    kinds = [row["data-event"] for row in page.html.select("#recent-activity tbody tr")]
    assert kinds[:2] == ["login_success", "login_failure"]


def test_activity_says_when_an_administrator_made_a_change(app, alice):
    ctx = app_context(app)
    try:
        root = accounts.create_user(ctx, "root", is_admin=True)
        as_root = replace(ctx, origin=Origin(actor_id=root.id, actor_name="root"))
        user = accounts.find_user(as_root, "alice")
        accounts.edit_user(as_root, user, email=user.email, full_name="A. Example")
        ctx.db.commit()
    finally:
        ctx.db.close()
    page = logged_in(app).get(ACCOUNT, status=200)
    edited = [row for row in table_rows(page, "recent-activity") if "details" in row[1]]
    assert edited[0][1] == "Account details changed by an administrator (root)"


def test_the_activity_shows_only_the_persons_own_events(app, alice):
    create_user(app, "bob")
    logged_in(app, "bob", ip="203.0.113.50")
    page = logged_in(app).get(ACCOUNT, status=200)
    assert "203.0.113.50" not in page.text


def test_a_person_sees_no_one_elses_sessions_and_buttons_end_their_own(app, alice):
    page = logged_in(app).get(ACCOUNT, status=200)
    rows = table_rows(page, "my-sessions")
    assert [row[-1] for row in rows] == ["This session"]
    assert get_user(app, alice).username == "alice"
    assert audit_events(app, "login_success")
    assert_no_traceback(page)
    assert flashes(page) == []
