"""Logging in through an OpenID Connect provider (PRODUCT §18), the whole flow
through the real callback, against a provider the tests run on loopback with
real RSA-signed tokens (tests/oidc_provider.py), on both databases."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from sqlalchemy import select

from camauth.models import User, UserStatus
from camauth.services import external_login, mfa

from ..conftest import app_context
from .conftest import browser, create_user
from .oidc_helpers import (
    NAME,
    come_back,
    events,
    go_to_provider,
    link,
    log_in_through_provider,
    logged_in_as,
    provider_settings,
)


def enrol_authenticator_app(app: Any, username: str) -> None:
    ctx = app_context(app)
    try:
        user = ctx.db.scalar(select(User).where(User.username == username))
        assert user is not None
        secret = pyotp.random_base32()
        mfa.enrol_app(ctx, user, secret, pyotp.TOTP(secret).at(ctx.clock()))
        ctx.db.commit()
    finally:
        ctx.db.close()


def assert_refused(app: Any, client: Any, response: Any, reason: str) -> None:
    assert response.status_int in (400, 502), response.status
    assert "Traceback" not in response.text
    assert logged_in_as(client) is None
    assert reason in [
        event.details.get("reason") for event in events(app, "external_login_refused")
    ]


def test_the_login_page_has_a_button_per_provider(oidc_app):
    page = browser(oidc_app).get("/login")
    button = page.html.find("a", string="Log in with Example ID")
    assert button is not None and button["href"] == f"/login/oidc/{NAME}"


def test_a_linked_identity_logs_in(oidc_app, fake_provider):
    create_user(oidc_app, "alice")
    link(oidc_app, fake_provider, "alice", "sub-alice")
    fake_provider.will_log_in("sub-alice", email="alice@example.org")
    client = browser(oidc_app)
    authorize = go_to_provider(client)
    sent = dict(fake_provider.requests)
    # PKCE S256, state and nonce on the way out
    asked = sent["/authorize"]
    assert asked["code_challenge_method"] == "S256" and asked["state"] and asked["nonce"]
    response = come_back(client, authorize, status=303)
    assert "code_verifier" in dict(fake_provider.requests)["/token"]
    assert "alice" in client.get("/account").text
    assert [e.target_name for e in events(oidc_app, "external_login")] == ["alice"]
    assert response.location.endswith("/")


def test_an_unlinked_identity_is_refused_when_signup_is_off(oidc_app, fake_provider):
    create_user(oidc_app, "alice", email="alice@example.org")
    fake_provider.will_log_in("sub-stranger", email="alice@example.org")
    client = browser(oidc_app)
    response = log_in_through_provider(client)
    assert_refused(oidc_app, client, response, "not_linked")
    assert "No account here is linked" in response.text


def test_signup_makes_an_account_for_a_verified_address(app_factory, fake_provider):
    app = app_factory(
        **provider_settings(fake_provider, signup="open", allowed_domains="example.org")
    )
    fake_provider.will_log_in("sub-new", email="New.Person@example.org", name="New Person")
    client = browser(app)
    log_in_through_provider(client, status=303)
    assert "Signed in as new.person" in " ".join(client.get("/account").html.get_text().split())
    assert len(events(app, "identity_linked")) == 1
    assert len(events(app, "user_registered")) == 1


def test_an_address_only_in_the_userinfo_answer_counts(app_factory, fake_provider):
    app = app_factory(**provider_settings(fake_provider, signup="open"))
    fake_provider.will_log_in("sub-new", email="quiet@example.org")
    fake_provider.claims_override = {"email": None, "email_verified": None}
    client = browser(app)
    log_in_through_provider(client, status=303)
    assert "/userinfo" in [path for path, _ in fake_provider.requests]
    ctx = app_context(app)
    try:
        user = ctx.db.scalar(select(User).where(User.email == "quiet@example.org"))
        assert user is not None and user.last_login_at is not None
    finally:
        ctx.db.close()


@pytest.mark.parametrize(
    ("login", "reason"),
    [
        ({"email": "someone@elsewhere.org"}, "domain_not_allowed"),
        ({"email": "someone@example.org", "email_verified": False}, "email_unverified"),
        ({"email": None}, "email_unverified"),
    ],
)
def test_signup_refusals(app_factory, fake_provider, login, reason):
    app = app_factory(
        **provider_settings(fake_provider, signup="open", allowed_domains="example.org")
    )
    fake_provider.will_log_in("sub-x", **login)
    client = browser(app)
    assert_refused(app, client, log_in_through_provider(client), reason)


def test_approval_leaves_the_new_account_waiting(app_factory, fake_provider):
    app = app_factory(**provider_settings(fake_provider, signup="approval"))
    fake_provider.will_log_in("sub-new", email="new@example.org")
    client = browser(app)
    response = log_in_through_provider(client)
    assert_refused(app, client, response, "pending_approval")
    ctx = app_context(app)
    try:
        user = ctx.db.scalar(select(User).where(User.email == "new@example.org"))
        assert user is not None and user.status == "pending_approval"
    finally:
        ctx.db.close()


def test_link_by_email_only_with_a_verified_address(app_factory, fake_provider):
    app = app_factory(**provider_settings(fake_provider, link_by_email="true"))
    create_user(app, "alice", email="alice@example.org")
    fake_provider.will_log_in("sub-a", email="alice@example.org", email_verified=False)
    client = browser(app)
    assert_refused(app, client, log_in_through_provider(client), "not_linked")
    fake_provider.will_log_in("sub-a", email="alice@example.org")
    log_in_through_provider(client, status=303)
    assert "alice" in client.get("/account").text


def test_a_disabled_user_is_not_logged_in(oidc_app, fake_provider):
    create_user(oidc_app, "alice", status=UserStatus.DISABLED)
    link(oidc_app, fake_provider, "alice", "sub-alice")
    fake_provider.will_log_in("sub-alice")
    client = browser(oidc_app)
    assert_refused(oidc_app, client, log_in_through_provider(client), "user_inactive")


def test_two_factor_follows_the_provider(oidc_app, fake_provider):
    create_user(oidc_app, "alice")
    enrol_authenticator_app(oidc_app, "alice")
    link(oidc_app, fake_provider, "alice", "sub-alice")
    fake_provider.will_log_in("sub-alice")
    client = browser(oidc_app)
    response = log_in_through_provider(client, status=303)
    assert response.location.endswith("/login/two-factor")
    assert logged_in_as(client) is None


@pytest.mark.parametrize(
    ("knob", "value"),
    [
        ("claims_override", {"aud": "someone-else"}),
        ("claims_override", {"iss": "http://127.0.0.1:1"}),
        ("claims_override", {"nonce": "not-the-nonce"}),
        ("claims_override", {"nonce": None}),
        ("claims_override", {"exp": 1_000_000_000}),
        ("claims_override", {"iat": 4_000_000_000}),
        ("sign_with", "forged"),
        ("sign_with", "unknown"),
    ],
)
def test_every_bad_token_is_refused(oidc_app, fake_provider, knob, value):
    create_user(oidc_app, "alice")
    link(oidc_app, fake_provider, "alice", "sub-alice")
    fake_provider.will_log_in("sub-alice")
    setattr(fake_provider, knob, value)
    client = browser(oidc_app)
    response = log_in_through_provider(client)
    assert response.status_int == 400
    assert logged_in_as(client) is None
    reasons = [e.details["reason"] for e in events(oidc_app, "external_login_refused")]
    assert reasons and reasons[0].startswith("id_token")


def test_a_rotated_key_is_fetched(oidc_app, fake_provider):
    create_user(oidc_app, "alice")
    link(oidc_app, fake_provider, "alice", "sub-alice")
    fake_provider.will_log_in("sub-alice")
    first = browser(oidc_app)
    log_in_through_provider(first, status=303)
    fake_provider.rotate_key()
    fake_provider.will_log_in("sub-alice")
    second = browser(oidc_app)
    log_in_through_provider(second, status=303)
    assert "alice" in second.get("/account").text


def test_a_replayed_callback_and_another_browsers_callback_are_refused(oidc_app, fake_provider):
    create_user(oidc_app, "alice")
    link(oidc_app, fake_provider, "alice", "sub-alice")
    fake_provider.will_log_in("sub-alice")
    victim = browser(oidc_app)
    callback = go_to_provider(victim)
    attacker = browser(oidc_app, ip="198.51.100.7")
    assert_refused(oidc_app, attacker, come_back(attacker, callback), "state_unknown")
    come_back(victim, callback, status=303)  # the right browser, once
    replayed = come_back(victim, callback)  # the same browser, again: the state is used up
    assert replayed.status_int == 400 and "Traceback" not in replayed.text
    reasons = [e.details["reason"] for e in events(oidc_app, "external_login_refused")]
    assert reasons == ["state_unknown", "state_unknown"]
    assert len(events(oidc_app, "external_login")) == 1


def test_a_tampered_state_is_refused(oidc_app, fake_provider):
    create_user(oidc_app, "alice")
    link(oidc_app, fake_provider, "alice", "sub-alice")
    fake_provider.will_log_in("sub-alice")
    client = browser(oidc_app)
    callback = go_to_provider(client)
    query = parse_qs(urlsplit(callback).query)
    forged = f"/login/oidc/{NAME}/callback?code={query['code'][0]}&state=forged"
    assert_refused(oidc_app, client, client.get(forged, status="*"), "state_mismatch")


def test_a_provider_that_is_down_gives_an_error_page_and_is_not_asked_again_at_once(
    oidc_app, fake_provider
):
    fake_provider.down = True
    response = browser(oidc_app).get(f"/login/oidc/{NAME}", status="*")
    assert response.status_int == 502 and "Traceback" not in response.text
    asked = len(fake_provider.requests)
    fake_provider.down = False
    # the failure is remembered a while: a crowd pressing the button while the
    # provider is down does not hold the server's threads for the timeout each
    again = browser(oidc_app).get(f"/login/oidc/{NAME}", status="*")
    assert again.status_int == 502
    assert len(fake_provider.requests) == asked
    reasons = [e.details["reason"] for e in events(oidc_app, "external_login_refused")]
    assert reasons == ["provider_unreachable", "provider_unreachable"]


def test_a_provider_that_does_not_answer_gives_an_error_page_in_bounded_time(
    app_factory, fake_provider
):
    app = app_factory(**provider_settings(fake_provider, timeout_seconds="0.5"))
    fake_provider.hold_requests()
    try:
        started = time.monotonic()
        response = browser(app).get(f"/login/oidc/{NAME}", status="*")
        assert response.status_int == 502 and "Traceback" not in response.text
        assert time.monotonic() - started < 5  # the timeout, not the provider, decides
    finally:
        fake_provider.release()
    reasons = [e.details["reason"] for e in events(app, "external_login_refused")]
    assert reasons == ["provider_unreachable"]


def test_an_address_that_only_looks_like_an_accounts_is_not_linked(app_factory, fake_provider):
    app = app_factory(**provider_settings(fake_provider, link_by_email="true"))
    create_user(app, "kim", email="kim@example.org")
    fake_provider.will_log_in("sub-k", email="\u212aim@example.org")  # the Kelvin sign
    client = browser(app)
    assert_refused(app, client, log_in_through_provider(client), "not_linked")
    assert events(app, "identity_linked") == []


def test_no_link_by_email_to_an_account_that_cannot_log_in(app_factory, fake_provider):
    app = app_factory(**provider_settings(fake_provider, link_by_email="true"))
    create_user(app, "alice", email="alice@example.org", status=UserStatus.DISABLED)
    fake_provider.will_log_in("sub-a", email="alice@example.org")
    client = browser(app)
    assert_refused(app, client, log_in_through_provider(client), "not_linked")
    assert events(app, "identity_linked") == []


def test_a_reserved_name_from_the_address_is_not_a_500(app_factory, fake_provider):
    app = app_factory(**provider_settings(fake_provider, signup="open"))
    fake_provider.will_log_in("sub-s", email="system@example.org")
    client = browser(app)
    log_in_through_provider(client, status=303)
    text = " ".join(client.get("/account").html.get_text().split())
    signed_in = re.search(r"Signed in as (\S+)", text)
    assert signed_in is not None and signed_in.group(1) == "system2"  # "system" is reserved


def test_before_the_second_step_no_login_is_recorded(oidc_app, fake_provider):
    create_user(oidc_app, "alice")
    enrol_authenticator_app(oidc_app, "alice")
    link(oidc_app, fake_provider, "alice", "sub-alice")
    fake_provider.will_log_in("sub-alice")
    log_in_through_provider(browser(oidc_app), status=303)
    assert events(oidc_app, "external_login") == []


def test_an_unknown_provider_is_a_404(oidc_app):
    browser(oidc_app).get("/login/oidc/nobody", status=404)
    browser(oidc_app).get("/login/oidc/nobody/callback?code=x&state=y", status=404)


def test_unlinking_the_last_way_to_log_in_is_refused(oidc_app, fake_provider):
    create_user(oidc_app, "alice", password=None)
    link(oidc_app, fake_provider, "alice", "sub-alice")
    ctx = app_context(oidc_app)
    try:
        user = ctx.db.scalar(select(User).where(User.username == "alice"))
        assert user is not None
        [identity] = external_login.identities_of(ctx, user)
        with pytest.raises(external_login.AccountError, match="only way to log in"):
            external_login.unlink(ctx, user, identity.id)
    finally:
        ctx.db.close()
