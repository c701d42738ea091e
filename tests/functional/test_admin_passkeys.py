"""The console's passkeys (PRODUCT §19, §9): the user page lists a user's passkeys,
and an administrator removes one after a confirmation page (audited with the
administrator as actor; the person's sessions stay). Another user's passkey, or
none, is a 404; no CSRF token, a 400; non-administrators, a 403. Remove-two-factor
is offered to a user whose only second factor is passkeys, and removes them.

The passkeys are rows written straight to the database, as a registration would
have left them: no authenticator is needed."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import pytest
import webtest
from sqlalchemy import select

from camauth.models import AuditEvent, User
from camauth.models.passkey import Passkey
from camauth.services import accounts, groups

from ..conftest import app_context
from .admin_helpers import (
    ADMIN,
    admin_browser,
    alert,
    confirm,
    console_app,
    events_by,
    is_reauth_redirect,
    make_admin,
    table_rows,
    user_path,
)
from .conftest import (
    all_rows,
    assert_no_traceback,
    create_user,
    flashes,
    location,
    logged_in,
    session_rows,
    table_counts,
)

ADDED_AT = datetime(2025, 12, 1, 8, 30, tzinfo=UTC)
USED_AT = datetime(2026, 1, 4, 17, 5, tzinfo=UTC)
STALE = 6  # minutes: past reauth_minutes (5)


@pytest.fixture
def console(app_factory: Any) -> Any:
    # times shown in the site's zone (the administrator has none of their own)
    return console_app(app_factory, timezone="Europe/Berlin")


@pytest.fixture
def root(console: Any) -> int:
    return make_admin(console)


def add_passkey(app: Any, user_id: int, name: str, last_used_at: datetime | None = None) -> int:
    ctx = app_context(app)
    try:
        passkey = Passkey(
            user_id=user_id,
            credential_id=secrets.token_urlsafe(16),  # dummy values: never verified
            public_key=b"not a real COSE key",
            sign_count=0,
            transports="usb",
            user_handle=f"handle-{user_id}",
            name=name,
            created_at=ADDED_AT,
            last_used_at=last_used_at,
        )
        ctx.db.add(passkey)
        ctx.db.commit()
        return passkey.id
    finally:
        ctx.db.close()


def passkeys(app: Any, user_id: int | None = None) -> list[tuple[int, str]]:
    query = select(Passkey).order_by(Passkey.id)
    if user_id is not None:
        query = query.where(Passkey.user_id == user_id)
    return [(row.id, row.name) for row in all_rows(app, query)]


def remove_path(user_id: int, passkey_id: int) -> str:
    return user_path(user_id, f"passkeys/{passkey_id}/remove")


def confirmation(client: webtest.TestApp, user_id: int, passkey_id: int) -> webtest.TestResponse:
    """Follow the user page's Remove link to the confirmation page."""
    page = client.get(user_path(user_id), status=200)
    return page.click(href=f"^{remove_path(user_id, passkey_id)}$")


def removal_events(app: Any) -> list[AuditEvent]:
    return all_rows(
        app,
        select(AuditEvent).where(AuditEvent.event == "passkey_removed").order_by(AuditEvent.id),
    )


def csrf_of(page: webtest.TestResponse) -> str:
    return next(
        form["csrf_token"].value for form in page.forms.values() if "csrf_token" in form.fields
    )


def test_the_user_page_lists_passkeys(console: Any, root: int) -> None:
    alice = create_user(console, "alice")
    bob = create_user(console, "bob")
    used = add_passkey(console, alice, "YubiKey 5C", USED_AT)
    never = add_passkey(console, alice, "Laptop <b>")
    add_passkey(console, bob, "Bobs phone")
    client = admin_browser(console)

    page = client.get(user_path(alice), status=200)
    assert table_rows(page, "user-passkeys") == [
        ["YubiKey 5C", "2025-12-01 09:30 CET", "2026-01-04 18:05 CET", "Remove…"],
        ["Laptop <b>", "2025-12-01 09:30 CET", "never", "Remove…"],
    ]
    assert "Laptop &lt;b&gt;" in page.text  # escaped
    table = page.html.select_one("table#user-passkeys")
    # times as everywhere on the page: a <time> in the viewer's zone, UTC on hover
    times = [(node["datetime"], node["title"]) for node in table.select("time")]
    assert times == [
        (ADDED_AT.isoformat(), "2025-12-01 08:30 UTC"),
        (USED_AT.isoformat(), "2026-01-04 17:05 UTC"),
        (ADDED_AT.isoformat(), "2025-12-01 08:30 UTC"),
    ]
    links = [node["href"] for node in table.select("a")]
    assert links == [remove_path(alice, used), remove_path(alice, never)]
    assert "Bobs phone" not in page.text
    # passkeys alone: two-factor is not "off", and remove-two-factor is offered
    assert page.html.select_one("#two-factor-state").get_text(" ", strip=True) == (
        "passkeys only (listed below)"
    )
    assert user_path(alice, "remove-two-factor") in [a["href"] for a in page.html.select("a")]

    empty = client.get(user_path(root), status=200)
    assert empty.html.select_one("table#user-passkeys") is None
    assert "No passkeys are registered for this account." in empty.text
    assert user_path(root, "remove-two-factor") not in [a["href"] for a in empty.html.select("a")]


def test_an_administrator_removes_a_passkey_after_confirming(console: Any, root: int) -> None:
    alice = create_user(console, "alice")
    alices_browser = logged_in(console, "alice")
    gone = add_passkey(console, alice, "YubiKey 5C")
    kept = add_passkey(console, alice, "Phone")
    client = admin_browser(console)

    page = confirmation(client, alice, gone)
    assert page.status_int == 200
    assert "Remove the passkey “YubiKey 5C” from alice?" in page.text
    assert passkeys(console, alice) == [(gone, "YubiKey 5C"), (kept, "Phone")]

    done = page.forms["remove-passkey"].submit("submit", status=303)
    assert location(done) == user_path(alice)
    after = done.follow()
    assert flashes(after) == ["The passkey “YubiKey 5C” was removed from alice."]
    assert [row[0] for row in table_rows(after, "user-passkeys")] == ["Phone"]
    assert passkeys(console, alice) == [(kept, "Phone")]
    (event,) = events_by(console, "passkey_removed", ADMIN, "alice")
    assert (event.actor_id, event.target_id, event.details) == (root, alice, {"name": "YubiKey 5C"})
    # alice's sessions are not ended by this
    assert len(session_rows(console, alice)) == 1
    assert "Signed in as alice" in alices_browser.get("/", status=200).text

    # the same confirmation page sent again (a double click, a stale tab): gone
    again = page.forms["remove-passkey"].submit("submit", status=404)
    assert_no_traceback(again)
    assert passkeys(console, alice) == [(kept, "Phone")]
    assert len(removal_events(console)) == 1


def test_removal_asks_for_recent_authentication(console: Any, root: int, clock: Any) -> None:
    alice = create_user(console, "alice")
    passkey = add_passkey(console, alice, "YubiKey 5C")
    client = admin_browser(console)
    form = confirmation(client, alice, passkey).forms["remove-passkey"]
    clock.advance(minutes=STALE)

    asked = form.submit("submit", status=303)
    assert is_reauth_redirect(asked, remove_path(alice, passkey))
    assert passkeys(console, alice) == [(passkey, "YubiKey 5C")]
    shown = client.get(remove_path(alice, passkey), status=303)
    assert is_reauth_redirect(shown, remove_path(alice, passkey))


def test_unknown_and_other_users_passkeys_are_404(console: Any, root: int) -> None:
    alice = create_user(console, "alice")
    bob = create_user(console, "bob")
    bobs = add_passkey(console, bob, "Bobs phone")
    add_passkey(console, alice, "Alices key")
    client = admin_browser(console)
    csrf = csrf_of(client.get(user_path(alice)))
    before = table_counts(console)

    for path in (
        remove_path(alice, bobs),  # bob's, under alice
        remove_path(alice, bobs + 1000),  # nobody's
        remove_path(alice, 9_999_999_999),  # beyond the id column's range
        remove_path(bob + 1000, bobs),  # no such user
    ):
        shown = client.get(path, status=404)
        assert_no_traceback(shown)
        assert "Bobs phone" not in shown.text
        sent = client.post(path, {"csrf_token": csrf}, status=404)
        assert_no_traceback(sent)
    assert table_counts(console) == before
    assert removal_events(console) == []


@pytest.mark.parametrize("token", ["", "forged"])
def test_removal_needs_the_csrf_token(console: Any, root: int, token: str) -> None:
    alice = create_user(console, "alice")
    passkey = add_passkey(console, alice, "YubiKey 5C")
    client = admin_browser(console)
    client.get(remove_path(alice, passkey), status=200)
    before = table_counts(console)

    body = {"csrf_token": token} if token else {}
    response = client.post(remove_path(alice, passkey), body, status=400)
    assert_no_traceback(response)
    assert passkeys(console, alice) == [(passkey, "YubiKey 5C")]
    assert table_counts(console) == before


def test_remove_two_factor_removes_the_passkeys_of_a_passkey_only_user(
    console: Any, root: int
) -> None:
    alice = create_user(console, "alice")
    bob = create_user(console, "bob")
    add_passkey(console, alice, "YubiKey 5C")
    add_passkey(console, alice, "Phone")
    bobs = add_passkey(console, bob, "Bobs phone")
    alices_browser = logged_in(console, "alice")
    client = admin_browser(console)

    page = client.get(user_path(alice, "remove-two-factor"), status=200)
    assert "their passkeys" in page.text
    done = confirm(client, alice, "remove-two-factor")
    assert location(done) == user_path(alice)
    after = done.follow()
    assert flashes(after) == ["Two-factor authentication was removed from alice."]
    assert after.html.select_one("table#user-passkeys") is None
    assert passkeys(console, alice) == []
    assert passkeys(console, bob) == [(bobs, "Bobs phone")]
    (removed,) = events_by(console, "passkey_removed", ADMIN, "alice")
    assert (removed.actor_id, removed.details) == (root, {"count": 2})
    assert len(events_by(console, "two_factor_removed", ADMIN, "alice")) == 1
    assert session_rows(console, alice) == []  # remove-two-factor ends them
    assert alices_browser.get("/", status="*").status_int == 303
    # nothing left to remove: no longer offered, and a stale form is a 409
    links = [a["href"] for a in after.html.select("a")]
    assert user_path(alice, "remove-two-factor") not in links
    stale = client.post(
        user_path(alice, "remove-two-factor"), {"csrf_token": csrf_of(after)}, status=409
    )
    assert "alice" in alert(stale)


@pytest.mark.parametrize("who", ["mallory", "group administrator"])
def test_non_administrators_are_refused(console: Any, root: int, who: str) -> None:
    alice = create_user(console, "alice")
    passkey = add_passkey(console, alice, "YubiKey 5C")
    username = "mallory"
    create_user(console, username)
    if who == "group administrator":
        ctx = app_context(console)
        try:
            group = groups.create_group(ctx, "team")
            member, deputy = ctx.db.get(User, alice), accounts.find_user(ctx, username)
            assert member is not None and deputy is not None
            groups.add_member(ctx, group, member)
            groups.add_member(ctx, group, deputy, group_admin=True)
            ctx.db.commit()
        finally:
            ctx.db.close()
    client = logged_in(console, username)
    csrf = csrf_of(client.get("/", status=200))
    before = table_counts(console)

    assert "YubiKey" not in client.get(remove_path(alice, passkey), status=403).text
    client.post(remove_path(alice, passkey), {"csrf_token": csrf}, status=403)
    assert passkeys(console, alice) == [(passkey, "YubiKey 5C")]
    assert table_counts(console) == before
