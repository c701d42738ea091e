"""An attempt whose check was under way when the lock landed is answered like any
attempt while locked: "locked", whatever its password, and not counted.

The lock is read before argon2 runs (tens of milliseconds in production); a
parallel failure can lock the scope meanwhile. Here that parallel failure is made
to happen at exactly that moment, deterministically: the password hasher is the
real one, and after verifying it records the locking failure in a transaction of
its own, as another request would.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text, update

from camauth.db import make_session_factory
from camauth.models import Lockout
from camauth.services import accounts, audit, lockout
from camauth.services.audit import Event
from camauth.services.authentication import Outcome, authenticate
from camauth.services.passwords import Passwords, VerifyResult

from ..conftest import GOOD_PASSWORD
from .conftest import add_user, failure_rows, from_ip

WRONG = "not the password at all"
THRESHOLD = 10


class LockedWhileVerifying(Passwords):
    """Real argon2; a parallel request locks ``username`` while this one verifies."""

    def __init__(self, ctx: Any, username: str) -> None:
        super().__init__(ctx.settings)
        self.other = replace(ctx, db=make_session_factory(ctx.db.get_bind())(), passwords=self)
        self.username = username
        self.armed = True

    def verify(self, stored_hash: str | None, password: str) -> VerifyResult:
        result = super().verify(stored_hash, password)
        if self.armed:
            self.armed = False
            locked = lockout.record_failure(self.other, self.username)
            assert locked.locked_until is not None  # the parallel one is the 10th
            self.other.db.commit()
        return result


@pytest.fixture
def nine_failures(ctx):
    add_user(ctx)
    for _ in range(THRESHOLD - 1):
        assert authenticate(from_ip(ctx, "203.0.113.1"), "alice", WRONG).outcome is Outcome.INVALID
    ctx.db.commit()
    return ctx


@pytest.mark.parametrize("password", [WRONG, GOOD_PASSWORD])
def test_login_in_flight_when_the_lock_lands_gets_locked_and_is_not_counted(
    nine_failures, password
):
    ctx = nine_failures
    racing = LockedWhileVerifying(ctx, "alice")
    attempt = authenticate(
        replace(from_ip(ctx, "203.0.113.2"), passwords=racing), "alice", password
    )
    ctx.db.commit()
    racing.other.db.close()

    assert attempt.outcome is Outcome.LOCKED  # the same answer for either password
    assert attempt.until == lockout.locked_until(ctx, "alice", "")
    assert failure_rows(ctx, "alice") == THRESHOLD  # nothing counted past the lock


def blocked_on_a_row_lock(ctx, worker: threading.Thread) -> bool:
    """Wait until ``worker`` has finished or waits for a row lock (PostgreSQL)."""
    deadline = time.monotonic() + 30
    while worker.is_alive() and time.monotonic() < deadline:
        waiting = ctx.db.get_bind().connect()
        try:
            count = waiting.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar_one()
        finally:
            waiting.close()
        if count:
            return True
        worker.join(timeout=0.01)
    return False


class ParallelLockDuringVerify(Passwords):
    """Real argon2; while it verifies, another request records the locking failure.
    Returns once that request has either committed or is waiting for this one."""

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx.settings)
        self.ctx = ctx
        self.lock_committed_first = False

    def verify(self, stored_hash: str | None, password: str) -> VerifyResult:
        result = super().verify(stored_hash, password)
        other = replace(self.ctx, db=make_session_factory(self.ctx.db.get_bind())())

        def lock_it() -> None:
            lockout.record_failure(other, "alice")
            other.db.commit()
            other.db.close()

        worker = threading.Thread(target=lock_it)
        worker.start()
        self.worker = worker
        if not blocked_on_a_row_lock(self.ctx, worker):
            self.lock_committed_first = True
        return result


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite: one writer
def test_password_change_in_flight_cannot_pass_a_lock_committed_meanwhile(nine_failures):
    """Changing one's own password holds the scope's lock row while it checks the
    current password. A parallel failure that would lock the scope must either
    wait for the change to be decided, or (if it got in first) stop the change:
    never commit its lock and still see the right password change the password."""
    ctx = nine_failures
    racing = ParallelLockDuringVerify(ctx)
    user = accounts.find_user(ctx, "alice")
    assert user is not None
    before = user.password_hash
    changer = replace(ctx, passwords=racing)
    try:
        accounts.change_own_password(changer, user, GOOD_PASSWORD, "a brand new passphrase 42")
        changed = True
    except accounts.AccountError:
        changed = False
    ctx.db.commit()
    racing.worker.join(timeout=30)
    assert not (racing.lock_committed_first and changed)
    assert changed  # holding the row, the change was decided before the lock
    assert accounts.find_user(ctx, "alice").password_hash != before
    assert lockout.locked_until(ctx, "alice", "") is not None  # then the lock landed


class HeldUntilTheLoginWaits(Passwords):
    """Real argon2; while it verifies, another request writes (``meanwhile``) and
    holds its rows uncommitted until this request's login waits for one of them,
    then commits."""

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx.settings)
        self.ctx = ctx
        self.other = replace(ctx, db=make_session_factory(ctx.db.get_bind())())
        self.login_waited = False

    def meanwhile(self, other: Any) -> None:
        raise NotImplementedError

    def before_commit(self) -> None:
        """What happens while the login waits, before the other request commits."""

    def verify(self, stored_hash: str | None, password: str) -> VerifyResult:
        result = super().verify(stored_hash, password)
        self.meanwhile(self.other)

        def commit_once_the_login_waits() -> None:
            # the thread running the login is alive: this returns once it waits
            self.login_waited = blocked_on_a_row_lock(self.ctx, login)
            self.before_commit()
            self.other.db.commit()
            self.other.db.close()

        login = threading.current_thread()
        self.committer = threading.Thread(target=commit_once_the_login_waits)
        self.committer.start()
        return result


class FailureStillBeingRecorded(HeldUntilTheLoginWaits):
    """The parallel request records the failure that locks the scope."""

    def meanwhile(self, other: Any) -> None:
        locked = lockout.record_failure(other, "alice")  # the lock row is held
        assert locked.locked_until is not None  # the parallel one is the 10th


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite: one writer
def test_right_password_waits_for_a_lock_being_recorded_and_writes_nothing(nine_failures):
    """On PostgreSQL the right password's login is claimed in one statement
    (services/login_claim.py). A failure that locks the scope, recorded while
    argon2 ran and not yet committed, makes that statement wait for it; it then
    sees the lock: "locked", and no last login, no success audited, no reset."""
    ctx = nine_failures
    racing = FailureStillBeingRecorded(ctx)
    attempt = authenticate(
        replace(from_ip(ctx, "203.0.113.2"), passwords=racing), "alice", GOOD_PASSWORD
    )
    ctx.db.commit()
    racing.committer.join(timeout=30)

    assert racing.login_waited  # the claim met the failure in flight
    assert attempt.outcome is Outcome.LOCKED
    assert attempt.until is not None
    assert attempt.until == lockout.locked_until(ctx, "alice", "")  # still locked
    assert failure_rows(ctx, "alice") == THRESHOLD
    ctx.db.expire_all()
    user = accounts.find_user(ctx, "alice")
    assert user is not None and user.last_login_at is None
    assert audit.events(ctx, event=Event.LOGIN_SUCCESS) == []


class ShortLockLandingDuringVerify(HeldUntilTheLoginWaits):
    """The parallel request locks the scope until half a second from now; by the
    time it commits (while the login waits) a second has passed."""

    def __init__(self, ctx: Any, clock: Any) -> None:
        super().__init__(ctx)
        self.clock = clock

    def meanwhile(self, other: Any) -> None:
        until = self.clock() + timedelta(milliseconds=500)
        other.db.execute(
            update(Lockout).where(Lockout.username_key == "alice").values(locked_until=until)
        )

    def before_commit(self) -> None:
        self.clock.advance(seconds=1)  # the lock has ended by the time the row is free


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # SQLite: one writer
def test_a_lock_that_ends_while_the_login_waits_for_its_row_does_not_refuse_it(ctx, clock):
    """The login's statement judges the lock at the moment it was sent; it waits for
    the lock row, and by then the lock has ended. The login succeeds, rather than
    being answered "locked" with no end to give (a page that said "invalid
    username or password" to someone who typed the right one)."""
    add_user(ctx)
    ctx.db.add(Lockout(username_key="alice", scope="", locked_until=None, updated_at=clock()))
    ctx.db.commit()
    racing = ShortLockLandingDuringVerify(ctx, clock)
    attempt = authenticate(replace(ctx, passwords=racing), "alice", GOOD_PASSWORD)
    ctx.db.commit()
    racing.committer.join(timeout=30)

    assert racing.login_waited
    assert attempt.outcome is Outcome.OK
    ctx.db.expire_all()
    user = accounts.find_user(ctx, "alice")
    assert user is not None and user.last_login_at == clock()
    assert len(audit.events(ctx, event=Event.LOGIN_SUCCESS)) == 1
