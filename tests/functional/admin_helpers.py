"""Helpers for the administrator console's functional tests (PRODUCT §9): an
administrator's browser, the console's buttons and confirmation pages pressed
through the real forms, and looks at what the tables hold afterwards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import webtest
from sqlalchemy import select

from camauth.models import AuditEvent, SessionKind, User
from camauth.services import sessions
from camauth.services.context import Origin

from ..conftest import GOOD_PASSWORD, app_context
from .conftest import all_rows, create_user, location, logged_in

ADMIN = "root"
USERS = "/admin/users"
NEW_USER = "/admin/users/new"
LOCKOUTS = "/admin/lockouts"
SESSIONS = "/admin/sessions"
AUDIT = "/admin/audit"
AUDIT_CSV = "/admin/audit.csv"
REAUTH = "/account/reauthenticate"
# a password that passes the policy and is nobody's
OTHER_PASSWORD = "granite otter plays the kazoo at dawn"
NO_MFA = {"mfa.required_for": "none"}


def console_app(app_factory: Callable[..., Any], **overrides: Any) -> Any:
    """The app with two-factor optional (so administrators reach the console with a
    password alone), plus ``overrides``."""
    return app_factory(**{**NO_MFA, **overrides})


def make_admin(app: Any, username: str = ADMIN, **kw: Any) -> int:
    return create_user(app, username, is_admin=True, **kw)


def admin_browser(app: Any, username: str = ADMIN, **kw: str) -> webtest.TestApp:
    """A browser of ``username`` (an administrator), logged in with the password."""
    return logged_in(app, username, GOOD_PASSWORD, **kw)


def user_path(user_id: int, action: str = "") -> str:
    return f"{USERS}/{user_id}" + (f"/{action}" if action else "")


def form_posting_to(page: webtest.TestResponse, action: str) -> webtest.Form:
    """The one form on ``page`` that posts to ``action`` (the console's buttons)."""
    found = {id(form): form for form in page.forms.values() if form.action == action}
    assert len(found) == 1, f"{len(found)} forms post to {action} on {page.request.path}"
    return next(iter(found.values()))


def press(
    client: webtest.TestApp, user_id: int, action: str, status: int | str = 303
) -> webtest.TestResponse:
    """Press the button of ``action`` on the user's page (the one-click actions)."""
    page = client.get(user_path(user_id), status=200)
    return form_posting_to(page, user_path(user_id, action)).submit(status=status)


def confirmation(client: webtest.TestApp, user_id: int, action: str) -> webtest.TestResponse:
    """Follow the user page's link to an action's confirmation page."""
    page = client.get(user_path(user_id), status=200)
    return page.click(href=f"^{user_path(user_id, action)}$")


def confirm(
    client: webtest.TestApp, user_id: int, action: str, status: int | str = 303
) -> webtest.TestResponse:
    """Open an action's confirmation page from the user's page and press its button."""
    page = confirmation(client, user_id, action)
    assert page.status_int == 200, page.status
    return page.forms[f"confirm-{action}"].submit("submit", status=status)


def find_user(app: Any, username: str) -> User | None:
    ctx = app_context(app)
    try:
        return ctx.db.scalars(select(User).where(User.username_key == username.lower())).first()
    finally:
        ctx.db.close()


def events_by(app: Any, event_name: str, actor: str, target: str) -> list[AuditEvent]:
    """The audit rows of ``event_name`` that ``actor`` did to ``target``."""
    return [
        row
        for row in all_rows(
            app, select(AuditEvent).where(AuditEvent.event == event_name).order_by(AuditEvent.id)
        )
        if row.actor_name == actor and row.target_name == target
    ]


def alert(page: webtest.TestResponse) -> str:
    """The console page's error box (or an error page's message)."""
    node = page.html.select_one('[role="alert"]')
    return node.get_text(" ", strip=True) if node is not None else ""


def is_reauth_redirect(response: webtest.TestResponse, target: str) -> bool:
    return location(response) == f"{REAUTH}?next={quote(target, safe='')}"


def table_rows(page: webtest.TestResponse, table_id: str) -> list[list[str]]:
    """The body cells of the table ``#table_id`` as text, row by row."""
    table = page.html.select_one(f"table#{table_id}")
    if table is None:
        return []
    return [
        [cell.get_text(" ", strip=True) for cell in row.select("td")]
        for row in table.select("tbody tr")
    ]


def open_session(
    app: Any,
    user_id: int,
    *,
    kind: str = "browser",
    ip: str = "",
    user_agent: str = "",
    client_id: str = "",
    hostname: str = "",
) -> int:
    """A logged-in session as another process would have stored it (an API client's,
    say); returns its id."""
    ctx = app_context(app)
    try:
        ctx = replace(ctx, origin=Origin(ip=ip, user_agent=user_agent))
        user = ctx.db.get(User, user_id)
        _, row = sessions.create_session(ctx, user=user, kind=SessionKind(kind))
        row.client_id, row.hostname = client_id, hostname
        ctx.db.commit()
        return row.id
    finally:
        ctx.db.close()
