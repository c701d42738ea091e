"""The passkey service against payloads a real browser made: Chromium's
DevTools virtual authenticator, recorded once (tests/data/passkey_chromium.json,
made by a script that calls navigator.credentials.create() and get() with fixed
challenges on http://localhost:8765). The software authenticator of the other
tests is ours; these bytes are not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from camauth.services import accounts, passkeys
from camauth.services.passkeys import PasskeyError, RelyingParty

from ..conftest import GOOD_PASSWORD

RECORDED = json.loads((Path(__file__).parent.parent / "data" / "passkey_chromium.json").read_text())
RP = RelyingParty(id=RECORDED["rp_id"], origin=RECORDED["origin"], name="camauth")
REGISTRATION = json.dumps(RECORDED["registration"]["response"])
ASSERTION = json.dumps(RECORDED["authentication"]["response"])


@pytest.fixture
def alice(ctx):
    user = accounts.create_user(ctx, "alice", password=GOOD_PASSWORD)
    user.webauthn_user_handle = RECORDED["user_handle"]  # the handle the browser was given
    ctx.db.flush()  # as the options request would have committed it
    return user


def register(ctx, user, rp=RP, challenge=RECORDED["registration"]["challenge"]):
    return passkeys.register(ctx, rp, user, REGISTRATION, challenge, "Chromium")


def test_a_recorded_registration_and_login_verify(ctx, alice):
    passkey = register(ctx, alice)
    assert passkey.credential_id == RECORDED["registration"]["response"]["id"]
    assert passkey.user_handle == RECORDED["user_handle"]
    assert "internal" in passkey.transports.split()
    registered_count = passkey.sign_count
    used = passkeys.authenticate(ctx, RP, ASSERTION, RECORDED["authentication"]["challenge"])
    assert used.id == passkey.id
    assert used.sign_count > registered_count and used.last_used_at is not None


@pytest.mark.parametrize(
    "rp",
    [
        RelyingParty("localhost", "http://localhost:6543", "camauth"),  # another origin
        RelyingParty("example.org", RECORDED["origin"], "camauth"),  # another RP id
    ],
)
def test_a_recorded_registration_is_refused_for_another_site(ctx, alice, rp):
    with pytest.raises(PasskeyError, match="could not be registered"):
        register(ctx, alice, rp=rp)


def test_a_recorded_registration_is_refused_for_another_challenge(ctx, alice):
    with pytest.raises(PasskeyError, match="could not be registered"):
        register(ctx, alice, challenge=RECORDED["authentication"]["challenge"])


def test_a_recorded_assertion_is_refused_for_another_challenge_or_site(ctx, alice):
    register(ctx, alice)
    other_challenge = RECORDED["registration"]["challenge"]
    with pytest.raises(PasskeyError, match="could not be verified"):
        passkeys.authenticate(ctx, RP, ASSERTION, other_challenge)
    elsewhere = RelyingParty("localhost", "http://localhost:6543", "camauth")
    with pytest.raises(PasskeyError, match="could not be verified"):
        passkeys.authenticate(ctx, elsewhere, ASSERTION, RECORDED["authentication"]["challenge"])


def test_a_replayed_recorded_assertion_is_refused_by_its_counter(ctx, alice):
    register(ctx, alice)
    challenge = RECORDED["authentication"]["challenge"]
    passkeys.authenticate(ctx, RP, ASSERTION, challenge)
    # the same signed bytes again (the challenge check is the session's; here the
    # counter alone must catch it): the count did not move on
    with pytest.raises(PasskeyError, match="counter went back"):
        passkeys.authenticate(ctx, RP, ASSERTION, challenge)


def test_a_recorded_assertion_for_another_users_handle_is_refused(ctx, alice):
    register(ctx, alice)
    passkey = passkeys.passkeys_of(ctx, alice)[0]
    passkey.user_handle = "c29tZW9uZS1lbHNl"  # as if the credential were someone else's
    with pytest.raises(PasskeyError, match="not registered for this account"):
        passkeys.authenticate(ctx, RP, ASSERTION, RECORDED["authentication"]["challenge"])
