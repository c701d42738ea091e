"""Logging in with a passkey (PRODUCT §19) at the service: the same lockout and
account rules as codes, as the second step and without a password."""

from __future__ import annotations

import json
from datetime import timedelta

from camauth.models import UNTRUSTED_SCOPE, UserStatus
from camauth.services import audit, lockout, passkey_login, passkeys
from camauth.services.audit import Event
from camauth.services.authentication import Outcome, authenticate
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
    return passkey_login.second_step(
        ctx, RP, user.id, answer, challenge, scope=UNTRUSTED_SCOPE, password_checked_at=since
    )


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


def test_removing_the_last_passkey_clears_the_second_factor(ctx):
    alice = add_user(ctx)
    first = registered(ctx, alice, SoftAuthenticator())
    second = registered(ctx, alice, SoftAuthenticator(), name="Key")
    passkeys.remove(ctx, alice, first.id)
    assert alice.has_passkeys
    passkeys.remove(ctx, alice, second.id)
    assert not alice.has_passkeys and not alice.has_second_factor
    assert authenticate(ctx, "alice", GOOD_PASSWORD).outcome is Outcome.OK
