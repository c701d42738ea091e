"""Every console action is safe to do twice, in Chromium (PRODUCT §9).

For each POST form of ``/admin`` (one row of :data:`ACTIONS`) an administrator:

1. clicks the button: the action is done once and says so;
2. reloads the page the POST redirected to: a plain GET again, the message is
   not shown twice and nothing more is done;
3. sends the same form again from a tab opened on it before the action (the
   page as it was, with a valid CSRF token and, where the form has one, the
   same one-time token): an answer below 500 that says why nothing more
   happened, no second audit row, no second mail.

The audit log is the measure of "done once": each action writes one row (ending
all sessions records the order itself each time, with what it ended). Going back
is checked apart: console pages are ``no-store``, so Chromium fetches them anew
and shows what applies now.

A double click is not one thing in Chromium: from run to run it sends the form
once, twice one after the other, or twice with the requests overlapping. The
first two are steps 1 and 3; the last is the final test, which sends the same
form several times at the same moment and expects it to act once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import func, select

from camauth.clock import FakeClock
from camauth.models import AuditEvent, User, WebSession
from camauth.services import accounts, lockout, mfa, session_start
from camauth.services.context import Context, Origin

from ..conftest import GOOD_PASSWORD, app_context, read_mails
from .conftest import Browsing, LiveServer, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADMIN = "root"
USER = "alice"
TEMPORARY = "amber kettle orbit sixty lanterns"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
THROTTLED_IP = "198.51.100.99"
STALE = "This does not apply to alice as things stand now."


# --- the state each action starts from ------------------------------------------------------


def lock_out(ctx: Context, user: User) -> None:
    for _ in range(3):  # camauth.lockout.threshold below
        lockout.record_failure(replace(ctx, origin=Origin(ip="203.0.113.5")), user.username_key)


def throttle(ctx: Context, _user: User) -> None:
    for number in range(6):  # one more than camauth.lockout.ip_threshold below
        lockout.record_failure(replace(ctx, origin=Origin(ip=THROTTLED_IP)), f"guess{number}")


def log_in_elsewhere(ctx: Context, user: User) -> None:
    session_start.start_logged_in_session(replace(ctx, origin=Origin(ip="192.0.2.77")), user)


def two_factor(ctx: Context, user: User) -> None:
    mfa.enrol_app(ctx, user, SECRET, pyotp.TOTP(SECRET).at(ctx.clock()))


def having(**values: Any) -> Callable[[Context, User], None]:
    def prepare(_ctx: Context, user: User) -> None:
        for key, value in values.items():
            setattr(user, key, value)

    return prepare


nothing = having()


# --- what is typed into the forms that take more than a click ------------------------------


def new_user(page: Page, _clock: FakeClock) -> None:
    page.get_by_label("Username").fill("dora")
    page.get_by_label("Temporary password").fill(TEMPORARY)


def full_name(page: Page, _clock: FakeClock) -> None:
    page.get_by_label("Full name").fill("Alice Liddell")


def temporary_password(page: Page, _clock: FakeClock) -> None:
    page.get_by_label("Temporary password").fill(TEMPORARY)


def hardware_token(page: Page, clock: FakeClock) -> None:
    page.get_by_label("Secret", exact=True).fill(SECRET)
    page.get_by_label("Code the token shows now").fill(pyotp.TOTP(SECRET).at(clock.now))


@dataclass(frozen=True)
class Action:
    path: str  # the page with the form; {user} and {session} are alice's
    button: str
    done: str  # the message after the first submission
    event: str  # the audit row it writes, once
    again: int  # the status of the answer to the same form sent again ...
    says: str  # ... and what it says
    prepare: Callable[[Context, User], None] = nothing
    fill: Callable[[Page, FakeClock], None] | None = None
    row: str = ""  # the table row the button is in
    target: str = USER
    rows: int = 1  # audit rows of ``event`` after the repeat


USER_PAGE = "/admin/users/{user}"
ACTIONS = {
    "create": Action(
        "/admin/users/new", "Create user", "dora was created.", "user_created",
        400, "That username is already taken.", fill=new_user, target="dora",
    ),
    "edit": Action(
        "/admin/users/{user}/edit", "Save", "alice was saved.", "user_edited",
        303, "alice was saved.", fill=full_name,
    ),
    "reset-password": Action(
        "/admin/users/{user}/reset-password", "Reset password",
        "The password of alice was reset.", "password_reset", 303,
        "That reset of alice's password was done already; use Reset password again for "
        "another.", fill=temporary_password,
    ),
    "hardware-token": Action(
        "/admin/users/{user}/hardware-token", "Enrol token",
        "A hardware token is enrolled for alice.", "two_factor_enrolled", 303,
        "That token enrolment for alice was done already; use Enrol hardware token again "
        "for another.", fill=hardware_token,
    ),
    "approve": Action(
        USER_PAGE, "Approve", "alice is approved and can log in.", "user_approved",
        409, STALE, having(status="pending_approval"),
    ),
    "enable": Action(
        USER_PAGE, "Enable", "alice is enabled.", "user_enabled",
        409, STALE, having(status="disabled"),
    ),
    "unlock": Action(
        USER_PAGE, "Unlock", "alice is unlocked.", "unlock",
        303, "alice was not locked out: nothing was changed.", lock_out,
    ),
    "force-password-change": Action(
        USER_PAGE, "Force password change",
        "alice must change their password at their next page view.",
        "password_change_forced", 409, STALE,
    ),
    "disable": Action(
        "/admin/users/{user}/disable", "Disable",
        "alice is disabled and their sessions have ended.", "user_disabled", 409, STALE,
    ),
    "end-sessions": Action(
        "/admin/users/{user}/end-sessions", "End all sessions",
        "Every session of alice has ended.", "session_ended",
        303, "Every session of alice has ended.", log_in_elsewhere,
    ),
    "remove-two-factor": Action(
        "/admin/users/{user}/remove-two-factor", "Remove two-factor",
        "Two-factor authentication was removed from alice.", "two_factor_removed",
        409, STALE, two_factor,
    ),
    "grant-admin": Action(
        "/admin/users/{user}/grant-admin", "Make administrator",
        "alice is now an administrator.", "admin_granted", 409, STALE,
    ),
    "revoke-admin": Action(
        "/admin/users/{user}/revoke-admin", "Remove administrator rights",
        "alice is no longer an administrator.", "admin_revoked", 409, STALE, having(is_admin=True),
    ),
    "delete": Action(
        "/admin/users/{user}/delete", "Delete", "alice was deleted.", "user_deleted",
        404, "There is no such user: it may have been deleted.",
    ),
    "lockouts-unlock": Action(
        "/admin/lockouts", "Unlock", "alice is unlocked.", "unlock",
        303, "alice was not locked out: nothing was changed.", lock_out,
        row='#locked tr[data-username="alice"]',
    ),
    "lockouts-lift": Action(
        "/admin/lockouts", "Lift", f"The throttle of {THROTTLED_IP} is lifted.",
        "ip_unthrottled", 303, f"{THROTTLED_IP} was not throttled: nothing was changed.",
        throttle, row="#throttled tr", target=THROTTLED_IP,
    ),
    "end-one-session": Action(
        "/admin/sessions/{session}/end", "End session", "The session has ended.",
        "session_ended", 404, "There is no such session: it may have ended already.",
        log_in_elsewhere,
    ),
    # the order itself is recorded each time (by design): the second row ends none
    "end-all-sessions": Action(
        "/admin/sessions/end-all", "End all other sessions", "1 session ended.",
        "session_ended", 303, "0 sessions ended.", log_in_elsewhere, target="", rows=2,
    ),
}  # fmt: skip


# --- server, browser, database ------------------------------------------------------------


@pytest.fixture
def server(ini_settings: dict[str, Any], clock: FakeClock) -> Iterator[LiveServer]:
    settings = {
        **ini_settings,
        "camauth.mfa.required_for": "none",
        "camauth.lockout.threshold": "3",
        "camauth.lockout.ip_threshold": "5",
    }
    with serve(settings, clock) as live:
        live.add_user(ADMIN, password=GOOD_PASSWORD, is_admin=True)
        yield live


@pytest.fixture
def browsing(browser: Browser, server: LiveServer) -> Iterator[Browsing]:
    browsing = Browsing(browser, server.url)
    yield browsing
    browsing.close()


def prepare_alice(server: LiveServer, prepare: Callable[[Context, User], None]) -> dict[str, int]:
    """alice, in the state the action needs; the ids her URLs use."""
    server.add_user(USER, password=GOOD_PASSWORD, email="alice@example.org")
    ctx = app_context(server.app)
    try:
        alice = accounts.find_user(ctx, USER)
        assert alice is not None
        prepare(ctx, alice)
        ctx.db.commit()
        session = ctx.db.scalar(select(WebSession.id).where(WebSession.user_id == alice.id))
        return {"user": alice.id, "session": session or 0}
    finally:
        ctx.db.close()


def audit_rows(server: LiveServer, event: str, target: str = USER) -> int:
    ctx = app_context(server.app)
    try:
        count = select(func.count()).select_from(AuditEvent)
        rows = count.where(AuditEvent.event == event, AuditEvent.target_name == target)
        return ctx.db.scalar(rows) or 0
    finally:
        ctx.db.close()


def admin_page(browsing: Browsing) -> Page:
    """A logged-in administrator (the clock stands still: the login stays recent)."""
    page = browsing.new_page()
    page.goto("/login")
    page.get_by_label("Username").fill(ADMIN)
    page.get_by_label("Password").fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).not_to_have_url(re.compile(r"/login"))
    return page


def open_form(page: Page, path: str, action: Action, clock: FakeClock) -> Locator:
    """The action's button on its page, its form filled in."""
    page.goto(path)
    if action.fill is not None:
        action.fill(page, clock)
    scope = page.locator(action.row) if action.row else page
    return scope.get_by_role("button", name=action.button, exact=True)


def same_form_as(stale: Page, page: Page) -> None:
    """Make the stale tab's form the very form ``page`` shows: a one-time token is
    issued per page view (a form opened in two tabs is two actions, each done
    once), so a copy of one form sent twice carries the same token."""
    once = page.locator('input[name="once"]')
    if once.count():
        stale.locator('input[name="once"]').evaluate(
            "(input, value) => { input.value = value; }", once.input_value()
        )


# --- the tests ------------------------------------------------------------------------------


def post(page: Page, button: Locator) -> int:
    """Click a form's button; the status of the answer to its POST."""
    with page.expect_response(lambda response: response.request.method == "POST") as sent:
        button.click()
    return sent.value.status


@pytest.mark.parametrize("name", ACTIONS)
def test_each_console_action_done_twice_acts_once(
    name: str, server: LiveServer, browsing: Browsing, mail_dir: Path
) -> None:
    action = ACTIONS[name]
    path = action.path.format(**prepare_alice(server, action.prepare))
    page = admin_page(browsing)
    # a tab on the same form, opened first (it holds the form as it was)
    stale = page.context.new_page()
    stale_button = open_form(stale, path, action, server.clock)
    button = open_form(page, path, action, server.clock)
    same_form_as(stale, page)

    button.click()
    expect(page.get_by_role("status")).to_have_text(action.done)
    assert audit_rows(server, action.event, action.target) == 1
    mails = len(read_mails(mail_dir))

    reloaded = page.reload()
    assert reloaded is not None and reloaded.status == 200
    expect(page.locator("main")).to_be_visible()
    expect(page.get_by_role("status")).to_have_count(0)  # said once, not again

    assert post(stale, stale_button) == action.again
    expect(stale.locator("main")).to_contain_text(action.says)
    assert audit_rows(server, action.event, action.target) == action.rows
    assert len(read_mails(mail_dir)) == mails
    assert browsing.problems.found == []  # no sub-request failed, no console error


def test_back_fetches_the_page_anew(server: LiveServer, browsing: Browsing) -> None:
    """Going back shows what applies now: a button that no longer applies is gone, a
    confirmation sent again is refused, the reset form comes with a new one-time
    token (sending it is a second reset, asked for anew), a deleted user's page
    says so."""
    user_page = USER_PAGE.format(**prepare_alice(server, nothing))
    page = admin_page(browsing)

    page.goto(user_page)
    page.get_by_role("button", name="Force password change").click()
    expect(page.get_by_role("status")).to_contain_text("must change their password")
    page.go_back()
    expect(page.get_by_role("link", name="Reset password")).to_be_visible()
    expect(page.get_by_role("button", name="Force password change")).to_have_count(0)

    page.goto(f"{user_page}/disable")
    page.get_by_role("button", name="Disable", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("alice is disabled")
    page.go_back()
    assert post(page, page.get_by_role("button", name="Disable", exact=True)) == 409
    expect(page.get_by_role("alert")).to_have_text(STALE)
    assert audit_rows(server, "user_disabled") == 1

    page.goto(f"{user_page}/reset-password")
    for resets in (1, 2):
        expect(page).to_have_url(re.compile(r"/reset-password$"))
        temporary_password(page, server.clock)
        assert post(page, page.get_by_role("button", name="Reset password")) == 303
        expect(page.get_by_role("status")).to_have_text("The password of alice was reset.")
        assert audit_rows(server, "password_reset") == resets
        page.go_back()

    page.goto(f"{user_page}/delete")
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("alice was deleted.")
    back = page.go_back()
    assert back is not None and back.status == 404
    expect(page.get_by_role("alert")).to_have_text(ACTIONS["delete"].says)
    assert audit_rows(server, "user_deleted") == 1
    assert browsing.problems.found == []


# the form sent four times at the same moment, from the page and with its cookies: what
# impatient clicks send while the first request is still on its way (a slow server)
SEND_AT_ONCE = """form => Promise.all([0, 1, 2, 3].map(() =>
  fetch(form.action, {method: "POST", body: new FormData(form)}).then(answer => answer.status)))"""


@pytest.mark.parametrize("name", ["reset-password", "disable", "force-password-change"])
def test_the_same_form_sent_at_once_acts_once(
    name: str, server: LiveServer, browsing: Browsing
) -> None:
    action = ACTIONS[name]
    path = action.path.format(**prepare_alice(server, action.prepare))
    page = admin_page(browsing)
    button = open_form(page, path, action, server.clock)
    statuses = page.locator("form", has=button).evaluate(SEND_AT_ONCE)
    assert 200 in statuses and max(statuses) < 500, statuses  # redirects followed
    assert audit_rows(server, action.event, action.target) == 1
