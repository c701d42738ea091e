"""The login decision (PRODUCT §2-4): credentials, account status, rehashing."""

from __future__ import annotations

from dataclasses import replace

import pytest
from argon2 import PasswordHasher, Type

from camauth.models import UserStatus
from camauth.services import accounts, audit, lockout
from camauth.services.audit import Event
from camauth.services.authentication import LoginResult, Outcome, authenticate
from camauth.services.passwords import Passwords

from ..conftest import GOOD_PASSWORD
from .conftest import USER_IP, add_user, failure_rows, from_ip


def test_unknown_user_and_wrong_password_look_the_same(ctx):
    add_user(ctx)
    wrong_password = authenticate(ctx, "alice", "a wrong password entirely")
    unknown_user = authenticate(ctx, "mallory", GOOD_PASSWORD)
    assert wrong_password == unknown_user == LoginResult(Outcome.INVALID)
    assert failure_rows(ctx, "alice") == 1
    assert failure_rows(ctx, "mallory") == 1


def test_right_password_logs_in_and_sets_last_login(ctx, clock):
    user = add_user(ctx)
    assert user.last_login_at is None
    clock.advance(hours=3)
    result = authenticate(from_ip(ctx, USER_IP), "alice", GOOD_PASSWORD)
    assert result.outcome is Outcome.OK
    assert result.user is user
    assert user.last_login_at == clock()
    [success] = audit.events(ctx, event=Event.LOGIN_SUCCESS)
    assert success.target_id == user.id
    assert success.actor_id == user.id
    assert success.ip == USER_IP


def test_username_is_matched_case_insensitively_and_trimmed(ctx):
    add_user(ctx, "Alice")
    result = authenticate(ctx, "  aLICE ", GOOD_PASSWORD)
    assert result.outcome is Outcome.OK
    assert result.user is not None
    assert result.user.username == "Alice"


def test_password_is_case_sensitive(ctx):
    add_user(ctx)
    assert authenticate(ctx, "alice", GOOD_PASSWORD.upper()).outcome is Outcome.INVALID


def test_disabled_user_with_right_password_is_invalid_and_counted(ctx):
    add_user(ctx, status=UserStatus.DISABLED)
    result = authenticate(ctx, "alice", GOOD_PASSWORD)
    assert result == LoginResult(Outcome.INVALID)
    assert lockout.current_failures(ctx, "alice") == 1
    [failure] = audit.events(ctx, event=Event.LOGIN_FAILURE)
    assert failure.details["reason"] == "disabled"


@pytest.mark.parametrize("status", [UserStatus.PENDING_APPROVAL, UserStatus.PENDING_EMAIL])
def test_pending_user_with_right_password_is_told_it_is_pending(ctx, status):
    user = add_user(ctx, status=status)
    result = authenticate(ctx, "alice", GOOD_PASSWORD)
    assert result.outcome is Outcome.PENDING
    assert result.user is user
    assert user.last_login_at is None
    assert audit.events(ctx, event=Event.LOGIN_SUCCESS) == []


def test_pending_user_with_wrong_password_learns_nothing(ctx):
    add_user(ctx, status=UserStatus.PENDING_APPROVAL)
    assert authenticate(ctx, "alice", "a wrong password entirely") == LoginResult(Outcome.INVALID)
    assert failure_rows(ctx, "alice") == 1


def test_user_without_password_cannot_log_in(ctx):
    accounts.create_user(ctx, "nopass")
    assert authenticate(ctx, "nopass", "").outcome is Outcome.INVALID
    assert authenticate(ctx, "nopass", GOOD_PASSWORD).outcome is Outcome.INVALID


def test_hash_with_other_argon2_parameters_is_replaced_on_login(ctx):
    user = add_user(ctx)
    older = Passwords(replace(ctx.settings, password_argon2_time_cost=3))
    old_hash = older.hash(GOOD_PASSWORD)
    user.password_hash = old_hash
    ctx.db.commit()

    assert authenticate(ctx, "alice", GOOD_PASSWORD).outcome is Outcome.OK
    ctx.db.commit()
    ctx.db.refresh(user)
    assert user.password_hash != old_hash
    assert "t=1" in user.password_hash  # the context's (fast test) cost
    assert not ctx.passwords.hasher.check_needs_rehash(user.password_hash)
    assert ctx.passwords.verify(user.password_hash, GOOD_PASSWORD).ok


def test_argon2i_hash_from_another_system_is_upgraded_to_argon2id(ctx):
    user = add_user(ctx)
    foreign = PasswordHasher(time_cost=1, memory_cost=1024, type=Type.I).hash(GOOD_PASSWORD)
    user.password_hash = foreign
    assert authenticate(ctx, "alice", GOOD_PASSWORD).outcome is Outcome.OK
    assert user.password_hash.startswith("$argon2id$")


def test_current_hash_is_kept(ctx):
    user = add_user(ctx)
    current = user.password_hash
    assert authenticate(ctx, "alice", GOOD_PASSWORD).outcome is Outcome.OK
    assert user.password_hash == current


def test_failed_login_does_not_rehash(ctx):
    user = add_user(ctx)
    old_hash = Passwords(replace(ctx.settings, password_argon2_time_cost=3)).hash(GOOD_PASSWORD)
    user.password_hash = old_hash
    assert authenticate(ctx, "alice", "a wrong password entirely").outcome is Outcome.INVALID
    assert user.password_hash == old_hash


def test_unknown_user_still_runs_an_argon2_verification(ctx):
    calls = []

    class Spy(Passwords):
        def burn_time(self, password):
            calls.append(password)
            super().burn_time(password)

    spy = Spy(ctx.settings)
    assert authenticate(replace(ctx, passwords=spy), "ghost", "whatever").outcome is (
        Outcome.INVALID
    )
    assert calls == ["whatever"]


@pytest.mark.parametrize("name", ["", "bad name", "ß" * 100, "x" * 151])
def test_impossible_usernames_are_refused_without_a_record(ctx, name):
    # the Python API gives the pages' promise: bad usernames are never login failures
    assert authenticate(ctx, name, GOOD_PASSWORD) == LoginResult(Outcome.INVALID)
    assert failure_rows(ctx, accounts.username_key(name)) == 0
