"""Logging in with a passkey (PRODUCT §19) at the service: the same lockout and
account rules as codes, as the second step and without a password."""

from __future__ import annotations

import json
from datetime import timedelta

from camauth.models import UNTRUSTED_SCOPE, UserStatus
from camauth.services import accounts, audit, lockout, passkey_login, passkeys
from camauth.services.audit import Event
from camauth.services.authentication import (
    PASSKEY_NEEDED,
    FirstStep,
    Outcome,
    authenticate,
    reauthenticate,
)
from camauth.services.passkey_login import UNKNOWN_PASSKEY

from ..conftest import GOOD_PASSWORD
from ..webauthn_authenticator import SoftAuthenticator
from .conftest import USER_IP, add_user, failure_rows, from_ip, with_settings
from .test_passkeys import RP, registered


def passwordless(ctx, device, **assertion):
    options, challenge = passkeys.authentication_options(ctx, RP)
    answer = json.dumps(device.assert_(options, **assertion))
    return passkey_login.passwordless(ctx, RP, answer, challenge, lambda user: UNTRUSTED_SCOPE)


def second_step(ctx, user, device, since, **assertion):
    options, challenge = passkeys.authentication_options(ctx, RP, user)
    answer = json.dumps(device.assert_(options, **assertion))
    first = FirstStep.of(user, UNTRUSTED_SCOPE, since)
    return passkey_login.second_step(ctx, RP, first, answer, challenge)


def test_a_passkey_makes_the_password_a_first_step(ctx):
    alice = add_user(ctx)
    registered(ctx, alice, SoftAuthenticator())
    assert alice.has_passkeys and alice.has_second_factor and not alice.has_two_factor
    assert authenticate(ctx, "alice", GOOD_PASSWORD).outcome is Outcome.SECOND_FACTOR


def test_passwordless_login_counts_as_both_factors_and_is_audited(ctx, clock):
    alice = add_user(ctx)
    device = SoftAuthenticator()
    registered(ctx, alice, device)
    result = passwordless(from_ip(ctx, USER_IP), device)
    assert result.outcome is Outcome.OK and result.user is alice
    assert alice.last_login_at == clock()
    [success] = audit.events(ctx, event=Event.LOGIN_SUCCESS)
    assert success.details["two_factor"] == "passkey" and success.details["password"] == "none"
    [used] = audit.events(ctx, event=Event.PASSKEY_LOGIN)
    assert used.details == {"name": "Laptop"}


def test_passwordless_needs_user_verification(ctx):
    alice = add_user(ctx)
    device = SoftAuthenticator()
    registered(ctx, alice, device)
    result = passwordless(ctx, device, user_verified=False)
    assert result.outcome is Outcome.WRONG_CODE and result.user is alice
    assert failure_rows(ctx, "alice") == 1


def test_an_unknown_passkey_counts_toward_the_network_only(ctx):
    stranger = SoftAuthenticator()
    someone = add_user(ctx, "someone")
    registered(ctx, someone, stranger)
    passkeys.remove_all(ctx, someone)  # the authenticator keeps a credential nobody has now
    result = passwordless(from_ip(ctx, USER_IP), stranger)
    assert result.outcome is Outcome.WRONG_CODE and result.message == UNKNOWN_PASSKEY
    assert failure_rows(ctx, "someone") == 0
    assert failure_rows(ctx) == 1
    [refused] = audit.events(ctx, event=Event.PASSKEY_REFUSED)
    assert refused.details["reason"] == "passkey_unknown"


def test_disabled_and_pending_accounts_do_not_log_in_with_a_passkey(ctx):
    alice = add_user(ctx)
    device = SoftAuthenticator()
    registered(ctx, alice, device)
    alice.status = UserStatus.DISABLED
    assert passwordless(ctx, device).outcome is Outcome.INVALID
    alice.status = UserStatus.PENDING_APPROVAL
    assert passwordless(ctx, device).outcome is Outcome.PENDING
    assert audit.events(ctx, event=Event.LOGIN_SUCCESS) == []


def test_failed_assertions_lock_the_account_like_wrong_codes(ctx, clock):
    ctx = with_settings(ctx, lockout_threshold=3)
    alice, bob = add_user(ctx), add_user(ctx, "bob")
    registered(ctx, alice, SoftAuthenticator())
    bobs = SoftAuthenticator()
    registered(ctx, bob, bobs)
    since = clock()
    theirs = bobs.credentials[0].id
    outcomes = [
        second_step(ctx, alice, bobs, since, credential_id=theirs).outcome for _ in range(3)
    ]
    assert outcomes == [Outcome.WRONG_CODE, Outcome.WRONG_CODE, Outcome.LOCKED]
    assert lockout.locked_until(ctx, "alice", UNTRUSTED_SCOPE) == clock() + timedelta(minutes=10)
    # locked: even alice's own passkey is refused until the lock ends
    alices = SoftAuthenticator()
    registered(ctx, alice, alices, name="Phone")
    assert second_step(ctx, alice, alices, since).outcome is Outcome.LOCKED


def test_the_second_step_starts_over_when_passkeys_changed_after_the_password(ctx, clock):
    alice = add_user(ctx)
    device = SoftAuthenticator()
    since = clock()
    clock.advance(minutes=1)
    registered(ctx, alice, device)  # added after the password step began
    assert second_step(ctx, alice, device, since).outcome is Outcome.INVALID
    assert second_step(ctx, alice, device, clock()).outcome is Outcome.OK


def test_the_second_step_starts_over_after_a_new_password_at_the_same_moment(ctx, clock):
    """A reset whose clock read was no later than the password step still ends the
    login: the password hash is compared, not the time of the change."""
    alice = add_user(ctx)
    device = SoftAuthenticator()
    registered(ctx, alice, device)
    first = FirstStep.of(alice, UNTRUSTED_SCOPE, clock())
    accounts.set_password(ctx, alice, "a brand new passphrase 42")
    ctx.db.commit()
    assert alice.password_changed_at == first.at
    options, challenge = passkeys.authentication_options(ctx, RP, alice)
    answer = json.dumps(device.assert_(options))
    result = passkey_login.second_step(ctx, RP, first, answer, challenge)
    assert result.outcome is Outcome.INVALID


def test_removing_the_last_passkey_clears_the_second_factor(ctx):
    alice = add_user(ctx)
    first = registered(ctx, alice, SoftAuthenticator())
    second = registered(ctx, alice, SoftAuthenticator(), name="Key")
    passkeys.remove(ctx, alice, first.id)
    assert alice.has_passkeys
    passkeys.remove(ctx, alice, second.id)
    assert not alice.has_passkeys and not alice.has_second_factor
    assert authenticate(ctx, "alice", GOOD_PASSWORD).outcome is Outcome.OK


def test_unknown_passkeys_lock_no_username_and_throttle_their_network(ctx):
    ctx = with_settings(ctx, lockout_threshold=2, lockout_ip_threshold=3)
    stranger = SoftAuthenticator()
    someone = add_user(ctx, "someone")
    registered(ctx, someone, stranger)
    passkeys.remove_all(ctx, someone)
    # from many networks: each counted, none locks a username (the empty one included)
    for number in range(4):
        result = passwordless(from_ip(ctx, f"203.0.{number}.9"), stranger)
        assert result.outcome is Outcome.WRONG_CODE
    assert lockout.locked_until(ctx, "", UNTRUSTED_SCOPE) is None
    # from one network: past its threshold it must wait, like a password sprayer
    spraying = from_ip(ctx, "192.0.2.1")
    outcomes = [passwordless(spraying, stranger).outcome for _ in range(5)]
    assert outcomes[:4] == [Outcome.WRONG_CODE] * 4 and outcomes[4] is Outcome.THROTTLED
    assert len(audit.events(ctx, event=Event.IP_THROTTLE)) == 1


def test_a_trusted_device_is_not_held_by_its_networks_throttle(ctx):
    ctx = with_settings(ctx, lockout_ip_threshold=1)
    alice = add_user(ctx)
    device = SoftAuthenticator()
    registered(ctx, alice, device)
    office = from_ip(ctx, "192.0.2.1")
    for _ in range(3):  # someone at the office sprays passwords
        authenticate(office, "nobody", "a wrong password entirely")
    options, challenge = passkeys.authentication_options(office, RP)
    answer = json.dumps(device.assert_(options))
    trusted = passkey_login.passwordless(office, RP, answer, challenge, lambda user: "device-1")
    assert trusted.outcome is Outcome.OK
    assert passwordless(office, device).outcome is Outcome.THROTTLED  # untrusted: held


def test_the_right_passkey_of_a_disabled_account_is_counted_and_audited(ctx):
    alice = add_user(ctx)
    device = SoftAuthenticator()
    registered(ctx, alice, device)
    alice.status = UserStatus.DISABLED
    assert passwordless(ctx, device).outcome is Outcome.INVALID
    assert failure_rows(ctx, "alice") == 1
    [refused] = audit.events(ctx, event=Event.PASSKEY_REFUSED)
    assert refused.details["reason"] == "disabled"


def test_reauthentication_needs_the_passkey_when_it_is_the_second_factor(ctx):
    alice = add_user(ctx)
    device = SoftAuthenticator()
    registered(ctx, alice, device)
    by_password = reauthenticate(ctx, alice, GOOD_PASSWORD)
    assert by_password.outcome is Outcome.WRONG_CODE and by_password.message == PASSKEY_NEEDED
    options, challenge = passkeys.authentication_options(ctx, RP, alice, require_verification=True)
    assert json.loads(options)["userVerification"] == "required"
    unverified = json.dumps(device.assert_(options, user_verified=False))
    refused = passkey_login.reauthenticate(
        ctx, RP, alice, unverified, challenge, scope=UNTRUSTED_SCOPE
    )
    assert refused.outcome is Outcome.WRONG_CODE and failure_rows(ctx, "alice") == 1
    options, challenge = passkeys.authentication_options(ctx, RP, alice, require_verification=True)
    answer = json.dumps(device.assert_(options))
    confirmed = passkey_login.reauthenticate(ctx, RP, alice, answer, challenge, scope="")
    assert confirmed.outcome is Outcome.OK
