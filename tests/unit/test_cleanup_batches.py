"""``camauth cleanup`` deletes a backlog in short transactions of a bounded size,
shows a progress bar on a terminal and nothing else when not on one; the run
during a request deletes one small batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from camauth.models import LoginFailure, WebSession
from camauth.services import accounts, housekeeping, lockout, sessions

from ..conftest import GOOD_PASSWORD
from .conftest import add_user

CAMAUTH = Path(sys.executable).parent / "camauth"


def backlog(ctx, clock, expired=10, live=2):
    """``expired`` sessions past their idle timeout, then ``live`` fresh ones."""
    user = add_user(ctx)
    for _ in range(expired):
        sessions.create_session(ctx, user=user)
    clock.advance(minutes=31)
    kept = {sessions.create_session(ctx, user=user)[1].id for _ in range(live)}
    ctx.db.commit()
    return kept


def session_ids(ctx):
    ctx.db.expire_all()
    return set(ctx.db.scalars(select(WebSession.id)))


def test_batches_are_bounded_and_delete_every_expired_row(ctx, clock):
    kept = backlog(ctx, clock)
    seen = []
    counts = housekeeping.cleanup_in_batches(
        ctx, batch=3, on_progress=lambda what, done, total: seen.append((what, done, total))
    )
    assert counts["sessions"] == 10
    assert session_ids(ctx) == kept
    assert [step for step in seen if step[0] == "sessions"] == [
        ("sessions", 3, 10),
        ("sessions", 6, 10),
        ("sessions", 9, 10),
        ("sessions", 10, 10),
    ]


def test_every_batch_is_committed_before_the_next(ctx, clock):
    """A second connection sees the rows go batch by batch: no transaction holds
    them all."""
    backlog(ctx, clock, expired=6, live=0)
    remaining = []

    def watch(what, done, total):
        if what == "sessions":
            with ctx.db.get_bind().connect() as other:
                remaining.append(other.scalar(select(func.count()).select_from(WebSession)))

    housekeeping.cleanup_in_batches(ctx, batch=2, on_progress=watch)
    assert remaining == [4, 2, 0, 0]


def test_a_request_deletes_one_small_batch_of_each_kind(ctx, clock):
    backlog(ctx, clock, expired=5, live=0)
    for _ in range(4):
        lockout.record_failure(ctx, "ghost")
    clock.advance(days=8)  # the failures of an unknown name are past keeping
    counts = housekeeping.cleanup(ctx, limit=2)
    assert counts["sessions"] == 2 and counts["failures"] == 2
    assert len(session_ids(ctx)) == 3
    assert ctx.db.scalar(select(func.count()).select_from(LoginFailure)) == 2


def run_cleanup(ini: str, stderr) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMAUTH_")}
    return subprocess.run(
        [str(CAMAUTH), ini, "cleanup"], stdout=subprocess.PIPE, stderr=stderr, env=env, timeout=120
    )


def test_a_progress_bar_on_a_terminal_and_none_otherwise(ini, service, clock):
    with service() as ctx:
        user = accounts.create_user(ctx, "alice", password=GOOD_PASSWORD)
        for _ in range(3):
            sessions.create_session(ctx, user=user)  # at the real time: not expired
    quiet = run_cleanup(ini, subprocess.PIPE)
    assert quiet.returncode == 0 and quiet.stderr == b""
    assert quiet.stdout.startswith(b"sessions: 0 deleted, failures: 0 deleted")

    leader, follower = os.openpty()
    try:
        shown = run_cleanup(ini, follower)
        os.close(follower)
        follower = -1
        screen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal closed: everything is read
                break
            if not chunk:
                break
            screen += chunk
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    assert shown.returncode == 0
    text = screen.decode()
    assert "\r" in text and "sessions" in text and "[" in text and "0/0" in text
