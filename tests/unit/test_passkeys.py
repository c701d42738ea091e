"""Passkeys, the service (services/passkeys.py), against the real `webauthn` package
with a software authenticator (tests/webauthn_authenticator.py), on both databases."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from camauth.models import AuditEvent, Passkey
from camauth.services import accounts, mfa, passkeys
from camauth.services.context import Context
from camauth.services.passkeys import PasskeyError, RelyingParty

from ..conftest import GOOD_PASSWORD
from ..webauthn_authenticator import SoftAuthenticator
from .test_mfa import enrol_app

RP = RelyingParty.from_public_url("", "camauth")


def user(ctx: Context, name: str) -> accounts.User:
    return accounts.create_user(ctx, name, password=GOOD_PASSWORD)


def registered(
    ctx: Context, someone: accounts.User, device: SoftAuthenticator, name: str = "Laptop"
) -> Passkey:
    options, challenge = passkeys.registration_options(ctx, RP, someone)
    answer = device.register(options)
    return passkeys.register(ctx, RP, someone, json.dumps(answer), challenge, name)


def events(ctx: Context, name: str) -> list[AuditEvent]:
    return list(ctx.db.scalars(select(AuditEvent).where(AuditEvent.event == name)))


def test_the_relying_party_comes_from_the_public_url() -> None:
    assert RelyingParty("localhost", "http://localhost:6543", "camauth") == RP
    public = RelyingParty.from_public_url("https://login.example.org/", "Example")
    assert (public.id, public.origin) == ("login.example.org", "https://login.example.org")


def test_register_then_log_in_without_a_password(ctx):
    alice = user(ctx, "alice")
    device = SoftAuthenticator()
    passkey = registered(ctx, alice, device)
    assert passkey.name == "Laptop" and passkey.sign_count == 0
    # the user handle is random, not the user's id, and the same on every passkey
    options = json.loads(passkeys.registration_options(ctx, RP, alice)[0])
    assert options["user"]["id"] == passkey.user_handle
    assert options["excludeCredentials"][0]["id"] == passkey.credential_id
    assert options["authenticatorSelection"]["residentKey"] == "required"
    options, challenge = passkeys.authentication_options(ctx, RP)
    assert json.loads(options)["allowCredentials"] == []
    used = passkeys.authenticate(ctx, RP, json.dumps(device.assert_(options)), challenge)
    assert used.id == passkey.id and used.sign_count == 1 and used.last_used_at is not None
    assert [e.target_name for e in events(ctx, "passkey_added")] == ["alice"]


def test_the_second_step_only_takes_the_users_own_passkeys(ctx):
    alice, bob = user(ctx, "alice"), user(ctx, "bob")
    alices, bobs = SoftAuthenticator(), SoftAuthenticator()
    registered(ctx, alice, alices)
    theirs = registered(ctx, bob, bobs)
    options, challenge = passkeys.authentication_options(ctx, RP, alice)
    answer = bobs.assert_(options, credential_id=bobs.credentials[0].id)
    with pytest.raises(PasskeyError, match="not registered for this account"):
        passkeys.authenticate(ctx, RP, json.dumps(answer), challenge, alice)
    assert theirs.sign_count == 0  # nothing moved


def test_a_counter_that_goes_back_is_refused_and_audited(ctx):
    alice = user(ctx, "alice")
    device = SoftAuthenticator()
    registered(ctx, alice, device)
    for _ in range(3):
        options, challenge = passkeys.authentication_options(ctx, RP)
        passkeys.authenticate(ctx, RP, json.dumps(device.assert_(options)), challenge)
    options, challenge = passkeys.authentication_options(ctx, RP)
    copied = device.assert_(options, sign_count=2)
    with pytest.raises(PasskeyError, match="counter went back"):
        passkeys.authenticate(ctx, RP, json.dumps(copied), challenge)
    [event] = events(ctx, "passkey_clone_suspected")
    assert event.target_name == "alice"
    assert (event.details["stored_count"], event.details["sent_count"]) == (3, 2)


@pytest.mark.parametrize(
    "spoil",
    ["challenge", "origin", "signature", "replay", "malformed", "empty", "huge", "not json"],
)
def test_every_bad_answer_is_refused_with_a_message(ctx, spoil):
    alice = user(ctx, "alice")
    device = SoftAuthenticator()
    registered(ctx, alice, device)
    options, challenge = passkeys.authentication_options(ctx, RP)
    answer = device.assert_(options, origin="https://evil.example" if spoil == "origin" else None)
    if spoil == "challenge":
        challenge = passkeys.authentication_options(ctx, RP)[1]
    if spoil == "signature":
        answer["response"]["signature"] = answer["response"]["signature"][:-4] + "AAAA"
    raw = json.dumps(answer)
    if spoil == "replay":
        passkeys.authenticate(ctx, RP, raw, challenge)
    raw = {"malformed": '{"id": 1}', "empty": "", "huge": "x" * 100_000, "not json": "{"}.get(
        spoil, raw
    )
    with pytest.raises(PasskeyError):
        passkeys.authenticate(ctx, RP, raw, challenge)


def test_registration_refusals(ctx):
    alice = user(ctx, "alice")
    device = SoftAuthenticator()
    options, challenge = passkeys.registration_options(ctx, RP, alice)
    answer = json.dumps(device.register(options))
    for name in ("", "   ", "x" * 65, "bad\x00name"):
        with pytest.raises(PasskeyError):
            passkeys.register(ctx, RP, alice, answer, challenge, name)
    with pytest.raises(PasskeyError):  # another challenge
        passkeys.register(
            ctx, RP, alice, answer, passkeys.registration_options(ctx, RP, alice)[1], "A"
        )
    wrong_origin = SoftAuthenticator(origin="https://evil.example")
    options, challenge = passkeys.registration_options(ctx, RP, alice)
    with pytest.raises(PasskeyError):
        passkeys.register(
            ctx, RP, alice, json.dumps(wrong_origin.register(options)), challenge, "A"
        )
    assert passkeys.passkeys_of(ctx, alice) == []


def test_rename_remove_and_remove_all(ctx):
    alice, bob = user(ctx, "alice"), user(ctx, "bob")
    first = registered(ctx, alice, SoftAuthenticator(), "Laptop")
    registered(ctx, alice, SoftAuthenticator(), "Phone")
    theirs = registered(ctx, bob, SoftAuthenticator(), "Key")
    assert passkeys.rename(ctx, alice, first.id, "  Work   laptop ").name == "Work laptop"
    with pytest.raises(PasskeyError):
        passkeys.remove(ctx, alice, theirs.id)  # not hers
    passkeys.remove(ctx, alice, first.id)
    assert [p.name for p in passkeys.passkeys_of(ctx, alice)] == ["Phone"]
    assert passkeys.remove_all(ctx, alice) == 1
    assert passkeys.passkeys_of(ctx, alice) == []
    assert [p.name for p in passkeys.passkeys_of(ctx, bob)] == ["Key"]
    assert len(events(ctx, "passkey_removed")) == 2


def test_removing_two_factor_removes_passkeys_too(ctx):
    alice = user(ctx, "alice")
    registered(ctx, alice, SoftAuthenticator())
    mfa.remove(ctx, alice)  # what the console's and the command line's remove-two-factor call
    assert passkeys.passkeys_of(ctx, alice) == []
    assert len(events(ctx, "two_factor_removed")) == 1
    with pytest.raises(mfa.TwoFactorError):
        mfa.remove(ctx, alice)  # nothing left to remove
    assert not alice.has_passkeys and not alice.has_second_factor


def test_turning_off_ones_own_app_keeps_ones_passkeys(ctx, clock):
    alice = user(ctx, "alice")
    enrol_app(ctx, clock, alice)
    registered(ctx, alice, SoftAuthenticator())
    mfa.remove(ctx, alice, with_passkeys=False)  # the two-factor page's "turn off"
    assert not alice.has_two_factor
    assert alice.has_passkeys and [p.name for p in passkeys.passkeys_of(ctx, alice)] == ["Laptop"]


@pytest.mark.parametrize(
    "credential_id",
    ["\x00", "a\x00b", "a" * 1401, "not base64url!", ""],
    ids=["nul", "inner-nul", "too-long", "punctuation", "empty"],
)
def test_an_assertion_with_an_odd_credential_id_is_unreadable(ctx, credential_id):
    alice = user(ctx, "alice")
    device = SoftAuthenticator()
    registered(ctx, alice, device)
    options, challenge = passkeys.authentication_options(ctx, RP)
    answer = device.assert_(options)
    answer["id"] = answer["rawId"] = credential_id
    with pytest.raises(PasskeyError, match="could not be read"):
        passkeys.owner_of(ctx, json.dumps(answer))
    with pytest.raises(PasskeyError, match="could not be read"):
        passkeys.authenticate(ctx, RP, json.dumps(answer), challenge)


def test_the_relying_party_origin_is_written_as_browsers_send_it() -> None:
    rp = RelyingParty.from_public_url("HTTPS://Login.Example.ORG:443/camauth/", "Example")
    assert (rp.id, rp.origin) == ("login.example.org", "https://login.example.org")
    rp = RelyingParty.from_public_url("http://localhost:8080", "Example")
    assert (rp.id, rp.origin) == ("localhost", "http://localhost:8080")
