"""``/account/linked``: linking and unlinking logins at other providers (PRODUCT
§18), through the real provider flow on loopback, on both databases."""

from __future__ import annotations

from typing import Any

import requests
from sqlalchemy import select

from camauth.models import ExternalIdentity

from ..conftest import GOOD_PASSWORD, app_context, login
from ..oidc_provider import FakeProvider
from .conftest import browser, create_user
from .oidc_helpers import (
    NAME,
    come_back,
    events,
    link,
    log_in_through_provider,
)

LINK = f"/account/linked/link/{NAME}"


def identities(app: Any) -> list[tuple[int, str]]:
    ctx = app_context(app)
    try:
        rows = ctx.db.scalars(select(ExternalIdentity).order_by(ExternalIdentity.id))
        return [(row.user_id, row.subject) for row in rows]
    finally:
        ctx.db.close()


def unlink_form(page: Any) -> Any:
    [form] = [form for form in page.forms.values() if form.action.endswith("/unlink")]
    return form


def logged_in(app: Any, username: str) -> Any:
    client = browser(app)
    login(client, username, GOOD_PASSWORD, status=303)
    return client


def link_form(page: Any) -> Any:
    [form] = [form for form in page.forms.values() if form.action == LINK]
    return form


def link_through_provider(client: Any) -> Any:
    start = link_form(client.get("/account/linked")).submit(status=303)
    answer = requests.get(start.location, allow_redirects=False, timeout=5)
    return come_back(client, str(answer.headers["Location"]))


def test_linking_then_logging_in_with_the_provider(oidc_app, fake_provider: FakeProvider, clock):
    alice = create_user(oidc_app, "alice")
    client = logged_in(oidc_app, "alice")
    page = client.get("/account/linked")
    assert "No login at another provider" in page.text
    assert link_form(page).html.find("button").get_text(strip=True) == "Log in with Example ID"
    fake_provider.will_log_in("sub-alice", email="alice@example.org")
    done = link_through_provider(client)
    assert done.status_int == 303 and done.location.endswith("/account/linked")
    assert identities(oidc_app) == [(alice, "sub-alice")]
    assert [e.target_name for e in events(oidc_app, "identity_linked")] == ["alice"]
    # and it logs in, in another browser
    other = browser(oidc_app)
    log_in_through_provider(other, status=303)
    assert "alice" in other.get("/account").text


def test_linking_asks_for_the_password_again_after_a_while(oidc_app, clock):
    create_user(oidc_app, "alice")
    client = logged_in(oidc_app, "alice")
    page = client.get("/account/linked")
    clock.advance(minutes=10)  # past reauth_minutes, within the idle timeout
    asked = link_form(page).submit(status=303)
    assert "/account/reauthenticate" in asked.location


def test_a_link_starts_only_from_a_form_of_this_site(oidc_app, fake_provider):
    create_user(oidc_app, "alice")
    client = logged_in(oidc_app, "alice")
    # a link or an image on another site: a GET, which only shows the page
    assert client.get(LINK, status=303).location.endswith("/account/linked")
    client.post(LINK, status=400)  # no CSRF token
    assert "/authorize" not in [path for path, _ in fake_provider.requests]


def test_an_identity_of_another_account_is_not_linked(oidc_app, fake_provider):
    bob = create_user(oidc_app, "bob")
    create_user(oidc_app, "alice")
    link(oidc_app, fake_provider, "bob", "sub-bob")
    client = logged_in(oidc_app, "alice")
    fake_provider.will_log_in("sub-bob")
    refused = link_through_provider(client)
    assert refused.status_int == 400 and "already belongs to another account" in refused.text
    assert identities(oidc_app) == [(bob, "sub-bob")]
    reasons = [e.details["reason"] for e in events(oidc_app, "external_login_refused")]
    assert reasons == ["identity_taken"]


def test_unlinking_and_the_last_way_to_log_in(oidc_app, fake_provider):
    create_user(oidc_app, "alice")
    link(oidc_app, fake_provider, "alice", "sub-alice")
    client = logged_in(oidc_app, "alice")
    unlink_form(client.get("/account/linked")).submit(status=303)
    assert identities(oidc_app) == []
    assert len(events(oidc_app, "identity_unlinked")) == 1
    # someone without a password keeps their only provider login
    create_user(oidc_app, "carol", password=None)
    link(oidc_app, fake_provider, "carol", "sub-carol")
    fake_provider.will_log_in("sub-carol")
    carol = browser(oidc_app)
    log_in_through_provider(carol, status=303)
    refused = unlink_form(carol.get("/account/linked")).submit(status=400)
    assert "only way to log in" in refused.text
    assert len(identities(oidc_app)) == 1


def test_unlinking_someone_elses_identity_or_without_csrf_changes_nothing(oidc_app, fake_provider):
    create_user(oidc_app, "alice")
    create_user(oidc_app, "bob")
    link(oidc_app, fake_provider, "bob", "sub-bob")
    [(_, _)] = identities(oidc_app)
    ctx = app_context(oidc_app)
    try:
        bob_identity = ctx.db.scalar(select(ExternalIdentity.id))
    finally:
        ctx.db.close()
    client = logged_in(oidc_app, "alice")
    token = client.get("/account/linked").html.find("input", {"name": "csrf_token"})
    csrf = token["value"] if token is not None else ""
    refused = client.post(
        f"/account/linked/{bob_identity}/unlink", {"csrf_token": csrf}, status="*"
    )
    assert refused.status_int in (400, 404)
    client.post(f"/account/linked/{bob_identity}/unlink", status=400)  # no CSRF token
    assert len(identities(oidc_app)) == 1
