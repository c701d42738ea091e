"""A passkey as the second factor wherever one is asked for (PRODUCT §8, §18, §19):
re-authentication, a login through an identity provider, the account page."""

from __future__ import annotations

from typing import Any

from ..conftest import GOOD_PASSWORD
from .conftest import browser, create_user, location, logged_in
from .oidc_helpers import link, log_in_through_provider, logged_in_as
from .test_passkey_pages import (
    STALE,
    csrf_of,
    post_json,
    refusal,
    second_step,
    signed_in_as,
    user_with_passkey,
)

REAUTH = "/account/reauthenticate"
REAUTH_OPTIONS = "/account/reauthenticate/passkey/options"
PASSKEY_NEEDED = "Confirm it is you with your passkey."


def test_reauthentication_takes_the_passkey_not_the_password_alone(app: Any, clock: Any) -> None:
    _, authenticator, client = user_with_passkey(app, "alice")
    clock.advance(minutes=STALE)
    asked = client.get("/account/passkeys", status=303)
    assert location(asked).startswith(REAUTH)
    page = client.get(location(asked), status=200)
    # no password form for someone whose second factor is a passkey; the passkey block
    assert page.html.select_one("form#reauthenticate") is None
    block = page.html.select_one('[data-passkey="login"]')
    assert block is not None and block.has_attr("hidden")
    assert block["data-url"] == "/account/reauthenticate/passkey?next=%2Faccount%2Fpasskeys"
    csrf = csrf_of(page)
    # the password form posted anyway: one factor, refused without counting
    refused = client.post(
        REAUTH,
        {"csrf_token": csrf, "password": GOOD_PASSWORD, "next": "/account/passkeys"},
        status=403,
    )
    assert PASSKEY_NEEDED in refused.text
    client.get("/account/passkeys", status=303)  # still not confirmed
    # a passkey answer without user verification is refused
    options = post_json(client, REAUTH_OPTIONS, {}, csrf)
    unverified = authenticator.assert_(options.text, user_verified=False)
    url = str(block["data-url"])
    refusal(post_json(client, url, {"credential": unverified}, csrf, status=403))
    # with it, back to the page asked for, which now opens
    options = post_json(client, REAUTH_OPTIONS, {}, csrf)
    answer = authenticator.assert_(options.text)
    done = post_json(client, url, {"credential": answer}, csrf)
    assert done.json == {"redirect": "/account/passkeys"}
    client.get("/account/passkeys", status=200)
    # the same answer again finds no challenge
    refusal(post_json(client, url, {"credential": answer}, csrf, status=400))


def test_someone_without_a_passkey_gets_no_passkey_ceremony(app: Any) -> None:
    create_user(app, "bob")
    client = logged_in(app, "bob")
    page = client.get(REAUTH, status=200)
    assert page.html.select_one('[data-passkey="login"]') is None
    assert page.html.select_one("form#reauthenticate") is not None
    refusal(post_json(client, REAUTH_OPTIONS, {}, csrf_of(page), status=400))


def test_a_login_through_a_provider_asks_for_the_passkey(oidc_app: Any, fake_provider: Any) -> None:
    _, authenticator, _ = user_with_passkey(oidc_app, "alice")
    link(oidc_app, fake_provider, "alice", "sub-alice")
    fake_provider.will_log_in("sub-alice")
    client = browser(oidc_app)
    response = log_in_through_provider(client, status=303)
    assert response.location.endswith("/login/two-factor")
    assert logged_in_as(client) is None
    second_step(client, authenticator)
    assert signed_in_as(client) == "alice"


def test_the_account_page_counts_a_passkey_as_two_factor(app: Any) -> None:
    _, _, client = user_with_passkey(app, "alice")
    page = client.get("/account", status=200)
    facts = page.html.select_one("#security").get_text(" ", strip=True)
    assert "on, with passkeys" in " ".join(facts.replace(" ,", ",").split())
    assert page.html.select_one("#recovery-codes-left") is None  # no app, no recovery codes
    assert page.html.select_one("#few-recovery-codes") is None
