"""A right password checked against an account that changed while argon2 ran.

The account is read before argon2 runs (tens of milliseconds in production). A
password reset, a disable or a deletion may commit meanwhile; the login must
then be judged on the account as it is, not on what it was: the old password
no longer logs in (login_claim checks the very hash it was verified against).
Here the change is made at exactly that moment, deterministically: the hasher
is the real one, and after verifying it commits the change in a transaction of
its own, as another request would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select, update

from camauth.db import make_session_factory
from camauth.models import LoginFailure, User, UserStatus, WebSession
from camauth.services import accounts
from camauth.services.authentication import Outcome, authenticate
from camauth.services.passwords import Passwords, VerifyResult

from ..conftest import GOOD_PASSWORD
from .conftest import add_user, event_names, failure_rows, from_ip
from .test_lockout_in_flight import HeldUntilTheLoginWaits

NEW_PASSWORD = "a brand new passphrase 42"
Change = Callable[[Any, User], None]


def reset_password(other: Any, user: User) -> None:
    accounts.set_password(other, user, NEW_PASSWORD)


def disable(other: Any, user: User) -> None:
    accounts.set_status(other, user, UserStatus.DISABLED)


def delete(other: Any, user: User) -> None:
    accounts.delete_user(other, user)


def set_columns(**values: Any) -> Change:
    def change(other: Any, user: User) -> None:
        other.db.execute(update(User).where(User.id == user.id).values(**values))

    return change


class ChangedWhileVerifying(Passwords):
    """Real argon2; once it has verified, another request commits ``change`` to alice."""

    def __init__(self, ctx: Any, change: Change) -> None:
        super().__init__(ctx.settings)
        self.other = replace(ctx, db=make_session_factory(ctx.db.get_bind())())
        self.change = change
        self.armed = True

    def verify(self, stored_hash: str | None, password: str) -> VerifyResult:
        result = super().verify(stored_hash, password)
        if self.armed:
            self.armed = False
            user = accounts.find_user(self.other, "alice")
            assert user is not None
            self.change(self.other, user)
            self.other.db.commit()
            self.other.db.close()
        return result


def log_in_while(ctx: Any, change: Change) -> Any:
    racing = ChangedWhileVerifying(ctx, change)
    result = authenticate(
        replace(from_ip(ctx, "203.0.113.7"), passwords=racing), "alice", GOOD_PASSWORD
    )
    ctx.db.commit()
    return result


def nothing_logged_in(ctx: Any) -> bool:
    ctx.db.expire_all()
    stamped = ctx.db.scalar(select(User.last_login_at).where(User.username_key == "alice"))
    sessions = ctx.db.scalars(select(WebSession.id)).all()
    return stamped is None and not sessions and "login_success" not in event_names(ctx)


def failure_reasons(ctx: Any) -> list[str]:
    return list(
        ctx.db.scalars(select(LoginFailure.reason).where(LoginFailure.username_key == "alice"))
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [(reset_password, "password"), (disable, "disabled"), (delete, "password")],
)
def test_a_change_committed_while_argon2_ran_refuses_the_old_password(ctx, change, reason):
    add_user(ctx)
    result = log_in_while(ctx, change)
    assert result.outcome is Outcome.INVALID
    assert nothing_logged_in(ctx)
    assert failure_reasons(ctx) == [reason]  # counted like any refused attempt


def test_without_a_change_the_login_is_claimed(ctx):
    """The control: the same race harness with a change that is no change."""
    add_user(ctx)
    result = log_in_while(ctx, set_columns(full_name="Alice"))
    assert result.outcome is Outcome.OK
    assert "login_success" in event_names(ctx)
    assert failure_rows(ctx, "alice") == 0


def test_a_second_factor_turned_on_meanwhile_is_asked_for(ctx, clock):
    add_user(ctx)
    result = log_in_while(ctx, set_columns(two_factor_enabled_at=clock()))
    assert result.outcome is Outcome.SECOND_FACTOR
    assert nothing_logged_in(ctx)


def test_an_account_sent_back_to_approval_meanwhile_is_pending(ctx):
    add_user(ctx)
    result = log_in_while(ctx, set_columns(status=UserStatus.PENDING_APPROVAL.value))
    assert result.outcome is Outcome.PENDING
    assert nothing_logged_in(ctx)


class ResetStillBeingCommitted(HeldUntilTheLoginWaits):
    """The parallel request resets alice's password and holds her row uncommitted."""

    def meanwhile(self, other: Any) -> None:
        user = accounts.find_user(other, "alice")
        assert user is not None
        reset_password(other, user)
        other.db.flush()


def log_in_while_a_reset_is_in_flight(ctx: Any) -> Outcome:
    """alice's right password while a reset holds her row; the login's outcome, once
    the login has waited for the reset (checked) and both have committed."""
    racing = ResetStillBeingCommitted(ctx)
    result = authenticate(
        replace(from_ip(ctx, "203.0.113.7"), passwords=racing), "alice", GOOD_PASSWORD
    )
    ctx.db.commit()
    racing.committer.join(timeout=30)
    assert racing.login_waited
    return result.outcome


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite: one writer
def test_the_login_waits_for_a_reset_in_flight_and_is_refused(ctx):
    """The reset holds the user's row while argon2 runs; the login's claim waits for
    it, then judges the row as the reset committed it."""
    add_user(ctx)
    assert log_in_while_a_reset_is_in_flight(ctx) is Outcome.INVALID
    assert nothing_logged_in(ctx)
    assert failure_reasons(ctx) == ["password"]


# --- a user with a second factor: the password step only starts the login ---------


def add_user_with_codes(ctx: Any, clock: Any) -> None:
    add_user(ctx)
    ctx.db.execute(
        update(User).where(User.username_key == "alice").values(two_factor_enabled_at=clock())
    )
    ctx.db.commit()


@pytest.mark.parametrize(
    ("change", "reason"),
    [(reset_password, "password"), (disable, "disabled"), (delete, "password")],
)
def test_a_change_committed_while_argon2_ran_starts_no_second_step(ctx, clock, change, reason):
    """The old password does not open the code page either: the second step could not
    tell, since the change was made before the step it compares with began."""
    add_user_with_codes(ctx, clock)
    result = log_in_while(ctx, change)
    assert result.outcome is Outcome.INVALID
    assert result.user is None  # nothing to start a pending login for
    assert nothing_logged_in(ctx)
    assert failure_reasons(ctx) == [reason]


def test_without_a_change_the_second_step_is_asked_for(ctx, clock):
    add_user_with_codes(ctx, clock)
    result = log_in_while(ctx, set_columns(full_name="Alice"))
    assert result.outcome is Outcome.SECOND_FACTOR
    assert result.user is not None and result.user.full_name == "Alice"  # as committed
    assert failure_rows(ctx, "alice") == 0


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite: one writer
def test_the_password_step_waits_for_a_reset_in_flight_and_is_refused(ctx, clock):
    """The reset holds alice's row while argon2 runs: the password step waits for
    it before starting the second step, then judges the row as the reset left it."""
    add_user_with_codes(ctx, clock)
    assert log_in_while_a_reset_is_in_flight(ctx) is Outcome.INVALID
    assert failure_reasons(ctx) == ["password"]
