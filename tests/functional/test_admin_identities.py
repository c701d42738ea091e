"""The console's linked logins (PRODUCT §18): the user page lists a user's logins at
other providers, and an administrator unlinks one after a confirmation page;
never the person's last way to log in (400, nothing changed). Another user's
identity, or none, is a 404; no CSRF token, a 400; non-administrators, a 403.

The identities are rows written straight to the database, as a provider's
callback would have left them: no provider is needed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import webtest
from sqlalchemy import select

from camauth.models import AuditEvent, ExternalIdentity
from camauth.services import accounts, groups

from ..conftest import app_context
from .admin_helpers import (
    ADMIN,
    admin_browser,
    alert,
    console_app,
    events_by,
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
    table_counts,
)

LINKED_AT = datetime(2025, 12, 1, 8, 30, tzinfo=UTC)
USED_AT = datetime(2026, 1, 4, 17, 5, tzinfo=UTC)
LAST_WAY = "This is the only way carol can log in"


@pytest.fixture
def console(app_factory: Any) -> Any:
    # times shown in the site's zone (the administrator has none of their own)
    return console_app(app_factory, timezone="Europe/Berlin")


@pytest.fixture
def root(console: Any) -> int:
    return make_admin(console)


def link(
    app: Any,
    user_id: int,
    provider: str = "example",
    subject: str = "248289761001",
    email: str = "",
    last_login_at: datetime | None = None,
) -> int:
    ctx = app_context(app)
    try:
        identity = ExternalIdentity(
            user_id=user_id,
            provider=provider,
            issuer=f"https://{provider}.example.net",
            subject=subject,
            email=email,
            created_at=LINKED_AT,
            last_login_at=last_login_at,
        )
        ctx.db.add(identity)
        ctx.db.commit()
        return identity.id
    finally:
        ctx.db.close()


def identities(app: Any, user_id: int | None = None) -> list[tuple[int, str]]:
    query = select(ExternalIdentity).order_by(ExternalIdentity.id)
    if user_id is not None:
        query = query.where(ExternalIdentity.user_id == user_id)
    return [(row.id, row.subject) for row in all_rows(app, query)]


def passwordless(app: Any, username: str) -> int:
    ctx = app_context(app)
    try:
        user = accounts.create_user(ctx, username, email=f"{username}@example.org")
        ctx.db.commit()
        return user.id
    finally:
        ctx.db.close()


def unlink_path(user_id: int, identity_id: int) -> str:
    return user_path(user_id, f"identities/{identity_id}/unlink")


def confirmation(client: webtest.TestApp, user_id: int, identity_id: int) -> webtest.TestResponse:
    """Follow the user page's Unlink link to the confirmation page."""
    page = client.get(user_path(user_id), status=200)
    return page.click(href=f"^{unlink_path(user_id, identity_id)}$")


def unlink_events(app: Any) -> list[AuditEvent]:
    return all_rows(
        app,
        select(AuditEvent).where(AuditEvent.event == "identity_unlinked").order_by(AuditEvent.id),
    )


def test_the_user_page_lists_linked_logins(console: Any, root: int) -> None:
    alice = create_user(console, "alice")
    bob = create_user(console, "bob")
    used = link(console, alice, "google", "110169484474386276334", "alice@gmail.example", USED_AT)
    never = link(console, alice, "okta", "00u1ab2cd3", "")
    link(console, bob, "google", "bobs-subject", "bob@gmail.example")
    client = admin_browser(console)

    page = client.get(user_path(alice), status=200)
    assert table_rows(page, "user-identities") == [
        [
            "google",
            "110169484474386276334",
            "alice@gmail.example",
            "2025-12-01 09:30 CET",
            "2026-01-04 18:05 CET",
            "Unlink…",
        ],
        ["okta", "00u1ab2cd3", "—", "2025-12-01 09:30 CET", "never", "Unlink…"],
    ]
    table = page.html.select_one("table#user-identities")
    # times as everywhere on the page: a <time> in the viewer's zone, UTC on hover
    times = [(node["datetime"], node["title"]) for node in table.select("time")]
    assert times == [
        (LINKED_AT.isoformat(), "2025-12-01 08:30 UTC"),
        (USED_AT.isoformat(), "2026-01-04 17:05 UTC"),
        (LINKED_AT.isoformat(), "2025-12-01 08:30 UTC"),
    ]
    links = [node["href"] for node in table.select("a")]
    assert links == [unlink_path(alice, used), unlink_path(alice, never)]
    assert "bobs-subject" not in page.text

    empty = client.get(user_path(root), status=200)
    assert empty.html.select_one("table#user-identities") is None
    assert "No logins at other providers are linked to this account." in empty.text


def test_an_administrator_unlinks_a_login_after_confirming(console: Any, root: int) -> None:
    alice = create_user(console, "alice")
    gone = link(console, alice, "google", "110169484474386276334", "alice@gmail.example")
    kept = link(console, alice, "okta", "00u1ab2cd3")
    client = admin_browser(console)

    page = confirmation(client, alice, gone)
    assert page.status_int == 200
    assert "Unlink the google login (alice@gmail.example) from alice?" in page.text
    assert "110169484474386276334" in page.text
    assert identities(console, alice) == [(gone, "110169484474386276334"), (kept, "00u1ab2cd3")]

    done = page.forms["unlink-identity"].submit("submit", status=303)
    assert location(done) == user_path(alice)
    after = done.follow()
    assert flashes(after) == ["The google login was unlinked from alice."]
    assert [row[0] for row in table_rows(after, "user-identities")] == ["okta"]
    assert identities(console, alice) == [(kept, "00u1ab2cd3")]
    (event,) = events_by(console, "identity_unlinked", ADMIN, "alice")
    assert (event.actor_id, event.target_id, event.details) == (root, alice, {"provider": "google"})

    # the same confirmation page sent again (a double click, a stale tab): gone
    again = page.forms["unlink-identity"].submit("submit", status=404)
    assert_no_traceback(again)
    assert identities(console, alice) == [(kept, "00u1ab2cd3")]
    assert len(unlink_events(console)) == 1


def test_a_passwordless_user_may_lose_one_of_two_logins(console: Any, root: int) -> None:
    carol = passwordless(console, "carol")
    first = link(console, carol, "google", "g-1")
    second = link(console, carol, "okta", "o-1")
    client = admin_browser(console)

    confirmation(client, carol, first).forms["unlink-identity"].submit("submit", status=303)
    assert identities(console, carol) == [(second, "o-1")]


def test_the_last_way_to_log_in_is_refused(console: Any, root: int) -> None:
    """No password and one login elsewhere: unlinking it would leave carol no way
    in, administrator or not. The page says so, with 400, and nothing changes."""
    carol = passwordless(console, "carol")
    only = link(console, carol, "google", "g-1", "carol@gmail.example")
    client = admin_browser(console)
    page = confirmation(client, carol, only)
    before = table_counts(console)

    refused = page.forms["unlink-identity"].submit("submit", status=400)
    assert alert(refused).startswith(LAST_WAY), alert(refused)
    assert "Reset their password first." in alert(refused)
    assert "unlink-identity" not in refused.forms
    assert_no_traceback(refused)
    assert identities(console, carol) == [(only, "g-1")]
    assert unlink_events(console) == []
    assert table_counts(console) == before
    # still listed, still offered (a password set meanwhile would make it possible)
    assert [row[1] for row in table_rows(client.get(user_path(carol)), "user-identities")] == [
        "g-1"
    ]


def test_unknown_and_other_users_identities_are_404(console: Any, root: int) -> None:
    alice = create_user(console, "alice")
    bob = create_user(console, "bob")
    bobs = link(console, bob, "google", "bobs-subject")
    link(console, alice, "google", "alices-subject")
    client = admin_browser(console)
    token = client.get(user_path(alice)).forms  # any form of the page carries the token
    csrf = next(form["csrf_token"].value for form in token.values() if "csrf_token" in form.fields)
    before = table_counts(console)

    for path in (
        unlink_path(alice, bobs),  # bob's, under alice
        unlink_path(alice, bobs + 1000),  # nobody's
        unlink_path(alice, 9_999_999_999),  # beyond the id column's range
        unlink_path(bob + 1000, bobs),  # no such user
    ):
        shown = client.get(path, status=404)
        assert_no_traceback(shown)
        assert "bobs-subject" not in shown.text
        sent = client.post(path, {"csrf_token": csrf}, status=404)
        assert_no_traceback(sent)
    assert table_counts(console) == before
    assert unlink_events(console) == []


@pytest.mark.parametrize("token", ["", "forged"])
def test_unlink_needs_the_csrf_token(console: Any, root: int, token: str) -> None:
    alice = create_user(console, "alice")
    identity = link(console, alice, "google", "g-1")
    client = admin_browser(console)
    client.get(unlink_path(alice, identity), status=200)
    before = table_counts(console)

    body = {"csrf_token": token} if token else {}
    response = client.post(unlink_path(alice, identity), body, status=400)
    assert_no_traceback(response)
    assert identities(console, alice) == [(identity, "g-1")]
    assert table_counts(console) == before


@pytest.mark.parametrize("who", ["mallory", "group administrator"])
def test_non_administrators_are_refused(console: Any, root: int, who: str) -> None:
    alice = create_user(console, "alice")
    identity = link(console, alice, "google", "g-1")
    username = "mallory"
    create_user(console, username)
    if who == "group administrator":
        ctx = app_context(console)
        try:
            group = groups.create_group(ctx, "team")
            groups.add_member(ctx, group, accounts.find_user(ctx, "alice"))
            groups.add_member(ctx, group, accounts.find_user(ctx, username), group_admin=True)
            ctx.db.commit()
        finally:
            ctx.db.close()
    client = logged_in(console, username)
    page = client.get("/", status=200)
    csrf = next(
        form["csrf_token"].value for form in page.forms.values() if "csrf_token" in form.fields
    )
    before = table_counts(console)

    assert "g-1" not in client.get(unlink_path(alice, identity), status=403).text
    client.post(unlink_path(alice, identity), {"csrf_token": csrf}, status=403)
    assert identities(console, alice) == [(identity, "g-1")]
    assert table_counts(console) == before
