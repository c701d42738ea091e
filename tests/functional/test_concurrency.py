"""Failures are counted exactly under parallel attempts (PRODUCT §4), on PostgreSQL.

Real parallel requests: one thread per attacker, each its own WebTest browser over
the same WSGI app, all released together by a barrier. The app gets an engine
whose pool has a connection for every thread (a host application may hand camauth
its own engine through the registry, as here).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from camauth.db import make_engine
from camauth.models import UNTRUSTED_SCOPE, Lockout, WebSession

from ..conftest import GOOD_PASSWORD, login
from .conftest import (
    app_on_engine,
    at_the_same_moment,
    audit_events,
    browser,
    create_user,
    failure_count,
    scalar,
)

ATTACKERS = 30


@pytest.fixture
def concurrent_app(postgres_url, clock):
    built: list[Any] = []

    def make(threshold: int) -> Any:
        engine = make_engine(
            postgres_url, pool_size=ATTACKERS + 5, max_overflow=5, pool_timeout=120
        )
        app = app_on_engine(engine, clock, **{"lockout.threshold": str(threshold)})
        built.append(app)
        return app

    yield make
    for app in built:
        app.registry["camauth.engine"].dispose()


def parallel_wrong_passwords(app: Any, username: str, count: int) -> list[int]:
    """``count`` browsers post a wrong password for ``username`` at the same moment."""

    def prepare(number: int) -> Callable[[], int]:
        client = browser(app, ip=f"198.51.100.{number + 1}")
        form = client.get("/login").forms["login"]  # its own CSRF cookie
        form["username"] = username
        form["password"] = f"wrong password {number}"
        return lambda: form.submit("submit", status="*").status_int

    return at_the_same_moment(count, prepare)


def untrusted_lock(app: Any, username: str) -> datetime | None:
    return scalar(
        app,
        select(Lockout.locked_until).where(
            Lockout.username_key == username, Lockout.scope == UNTRUSTED_SCOPE
        ),
    )


def test_parallel_failures_reach_the_threshold_exactly(concurrent_app, clock):
    app = concurrent_app(threshold=ATTACKERS)
    create_user(app, "alice")
    statuses = parallel_wrong_passwords(app, "alice", ATTACKERS)

    assert failure_count(app, "alice") == ATTACKERS  # no lost or doubled count
    # every attempt was counted; the one that was the 30th locked the account
    assert sorted(statuses) == [403] * (ATTACKERS - 1) + [429]
    assert untrusted_lock(app, "alice") == clock() + timedelta(minutes=10)
    assert len(audit_events(app, "lockout")) == 1
    assert len(audit_events(app, "login_failure")) == ATTACKERS
    # the lock holds: even the right password is refused now
    page = login(browser(app, ip="192.0.2.200"), "alice", GOOD_PASSWORD, status=429)
    assert "locked until 2026-01-05 09:10 UTC" in page.text
    assert failure_count(app, "alice") == ATTACKERS


def test_parallel_failures_past_the_threshold_stop_counting_at_the_lock(concurrent_app, clock):
    """30 wrong passwords at once, threshold 10: the 10th locks, and the 20 judged
    after it are refused as attempts while locked are, uncounted."""
    threshold = 10
    app = concurrent_app(threshold=threshold)
    create_user(app, "alice")
    statuses = parallel_wrong_passwords(app, "alice", ATTACKERS)

    assert sorted(statuses) == [403] * (threshold - 1) + [429] * (ATTACKERS - threshold + 1)
    assert failure_count(app, "alice") == threshold
    assert len(audit_events(app, "login_failure")) == threshold
    assert len(audit_events(app, "lockout")) == 1
    assert untrusted_lock(app, "alice") == clock() + timedelta(minutes=10)
    login(browser(app, ip="192.0.2.200"), "alice", GOOD_PASSWORD, status=429)
    assert failure_count(app, "alice") == threshold


def test_the_right_password_in_flight_gets_the_answer_a_wrong_one_gets(concurrent_app, clock):
    """Nine failures, then eight attempts at once, one with the right password.
    Either the right one is judged first (a login: the count starts again), or
    the lock lands first and then every attempt, the right one included, is
    answered "locked" and none is counted: the answer never tells the password."""
    threshold = 10
    app = concurrent_app(threshold=threshold)
    create_user(app, "alice")
    for number in range(threshold - 1):
        login(browser(app, ip=f"198.51.100.{number + 100}"), "alice", "guess", status=403)

    def prepare(number: int) -> Callable[[], int]:
        client = browser(app, ip=f"198.51.100.{number + 1}")
        form = client.get("/login").forms["login"]
        form["username"] = "alice"
        form["password"] = GOOD_PASSWORD if number == 0 else f"wrong password {number}"
        return lambda: (number, form.submit("submit", status="*").status_int)

    answers = dict(at_the_same_moment(8, prepare))  # completion order: key by attempt
    right, wrong = answers.pop(0), sorted(answers.values())
    if right == 303:  # judged before any of the wrong ones
        assert sorted(wrong) == [403] * 7
        assert untrusted_lock(app, "alice") is None
    else:
        assert right == 429
        assert wrong == [429] * 7  # the first one judged locked; the rest found it locked
        assert failure_count(app, "alice") == threshold
        assert len(audit_events(app, "lockout")) == 1


def test_parallel_failures_for_an_unknown_username(concurrent_app, clock):
    app = concurrent_app(threshold=ATTACKERS)
    statuses = parallel_wrong_passwords(app, "ghost", ATTACKERS)
    assert sorted(statuses) == [403] * (ATTACKERS - 1) + [429]
    assert failure_count(app, "ghost") == ATTACKERS
    assert untrusted_lock(app, "ghost") == clock() + timedelta(minutes=10)


def test_two_logins_of_one_user_at_the_same_instant_leave_one_browser_session(
    concurrent_app, clock
):
    """One browser session per user: two logins at once end each other's predecessor
    in order, so exactly one session remains and only its cookie works.

    The login's own statement (services/login_claim.py) stamps ``last_login_at``,
    which holds the user's row until the session's statement after it has ended
    the other sessions. Rounds alternate a new login time with the same time as
    the round before: the stamp is an UPDATE, and holds the row, either way."""
    app = concurrent_app(threshold=10)
    create_user(app, "alice")
    for round_number in range(6):
        if round_number % 2 == 0:
            clock.advance(seconds=1)

        def prepare(number: int) -> Callable[[], Any]:
            client = browser(app, ip=f"198.51.100.{number + 1}")
            form = client.get("/login").forms["login"]
            form["username"] = "alice"
            form["password"] = GOOD_PASSWORD
            return lambda: (client, form.submit("submit", status=303))

        clients = [client for client, _ in at_the_same_moment(2, prepare)]
        live = scalar(
            app,
            select(func.count()).where(
                WebSession.user_id.is_not(None), WebSession.kind == "browser"
            ),
        )
        assert live == 1
        signed_in = ["Signed in as alice" in c.get("/", status="*").text for c in clients]
        assert sorted(signed_in) == [False, True]
