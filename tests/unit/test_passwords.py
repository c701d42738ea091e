"""Password policy, administrator resets and changing one's own password (PRODUCT §3)."""

from __future__ import annotations

import secrets

import pytest

from camauth.models import LoginFailure
from camauth.services import accounts, audit, lockout, sessions
from camauth.services.accounts import AccountError, WrongPasswordError
from camauth.services.audit import Event
from camauth.services.password_policy import PasswordPolicyError, check_new_password

from ..conftest import GOOD_PASSWORD
from .conftest import add_user, failure_rows

NEW_PASSWORD = "purple elephants dance quietly"


@pytest.mark.parametrize(
    ("password", "hint"),
    [
        ("short words", "at least 12"),
        ("x" * 1025, "at most 1024"),
        ("I am ALICE and proud", "username"),
        ("liddell.in.wonderland", "email"),
    ],
)
def test_policy_refusals_say_what_to_do(ctx, password, hint):
    with pytest.raises(PasswordPolicyError, match=hint):
        check_new_password(ctx.settings, password, username="alice", email="liddell@example.org")


def test_policy_accepts_long_unrelated_passwords(ctx):
    check_new_password(ctx.settings, GOOD_PASSWORD, username="alice", email="al@example.org")
    # a one- or two-letter username does not forbid every password containing that letter
    check_new_password(ctx.settings, GOOD_PASSWORD, username="ca", email="e@example.org")
    # the longest allowed (zxcvbn judges its first 72 characters)
    check_new_password(ctx.settings, secrets.token_urlsafe(800)[:1024], username="alice")


def test_refused_password_creates_no_user(ctx):
    with pytest.raises(PasswordPolicyError):
        accounts.create_user(ctx, "alice", password="alice-password-1")
    assert accounts.count_users(ctx) == 0


def test_admin_reset_sets_password_forces_change_and_ends_sessions(ctx, clock):
    user = add_user(ctx)
    sessions.create_session(ctx, user=user)
    clock.advance(days=3)
    accounts.set_password(ctx, user, NEW_PASSWORD, force_change=True)
    assert ctx.passwords.verify(user.password_hash, NEW_PASSWORD).ok
    assert not ctx.passwords.verify(user.password_hash, GOOD_PASSWORD).ok
    assert user.must_change_password is True
    assert user.password_changed_at == clock()
    assert sessions.live_sessions(ctx, user) == []
    [reset] = audit.events(ctx, event=Event.PASSWORD_RESET)
    assert reset.details == {"force_change": True}


def change(ctx, user, current, new=NEW_PASSWORD, **kw):
    accounts.change_own_password(ctx, user, current, new, **kw)


def test_change_own_password_keeps_only_the_current_session(ctx, clock):
    user = add_user(ctx, must_change_password=True)
    _, current = sessions.create_session(ctx, user=user)
    sessions.create_session(ctx, user=user)
    sessions.create_session(ctx, user=user)
    clock.advance(minutes=10)
    change(ctx, user, GOOD_PASSWORD, keep_id=current.id)
    assert ctx.passwords.verify(user.password_hash, NEW_PASSWORD).ok
    assert user.must_change_password is False
    assert user.password_changed_at == clock()
    assert [row.id for row in sessions.live_sessions(ctx, user)] == [current.id]
    assert len(audit.events(ctx, event=Event.PASSWORD_CHANGED)) == 1


def test_wrong_current_password_is_refused_and_counted(ctx):
    user = add_user(ctx)
    old_hash = user.password_hash
    with pytest.raises(WrongPasswordError):
        change(ctx, user, "not my password at all")
    assert user.password_hash == old_hash
    assert lockout.current_failures(ctx, "alice") == 1
    [row] = ctx.db.query(LoginFailure).all()
    assert row.reason == "current_password"


def test_guessing_the_current_password_leads_to_lockout(ctx):
    user = add_user(ctx)
    for _ in range(10):
        with pytest.raises(WrongPasswordError):
            change(ctx, user, "not my password at all")
    rows = failure_rows(ctx)
    with pytest.raises(AccountError, match="Too many failed attempts") as refused:
        change(ctx, user, GOOD_PASSWORD)
    assert not isinstance(refused.value, WrongPasswordError)
    assert failure_rows(ctx) == rows
    assert ctx.passwords.verify(user.password_hash, GOOD_PASSWORD).ok


def test_new_password_must_differ_from_the_current_one(ctx):
    user = add_user(ctx)
    old_hash = user.password_hash
    with pytest.raises(PasswordPolicyError, match="differs"):
        change(ctx, user, GOOD_PASSWORD, GOOD_PASSWORD)
    assert user.password_hash == old_hash
    assert failure_rows(ctx) == 0


def test_new_password_must_meet_the_policy(ctx):
    user = add_user(ctx)
    with pytest.raises(PasswordPolicyError):
        change(ctx, user, GOOD_PASSWORD, "too short")
    assert ctx.passwords.verify(user.password_hash, GOOD_PASSWORD).ok
