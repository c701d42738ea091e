"""Mail limits are exact under parallel requests: one network asks at most
``ip_limit`` times an hour, and one account gets at most ``account_limit`` mails,
however many requests arrive at the same moment and on both databases.

Real parallel requests: one thread per request, each its own browser, released
together; the app's engine has a connection for every thread.
"""

from __future__ import annotations

from typing import Any

import pytest

from camauth.db import make_engine

from ..conftest import read_mails
from .conftest import app_on_engine, at_the_same_moment, browser, create_user
from .test_recovery import FORGOT

REQUESTS = 20
IP_LIMIT = 10
ACCOUNT_LIMIT = 3


@pytest.fixture
def parallel_app(db_url, clock, mail_dir):
    engine = make_engine(db_url, pool_size=REQUESTS + 5, max_overflow=5, pool_timeout=120)
    app = app_on_engine(
        engine,
        clock,
        **{
            "mail.transport": "file",
            "mail.directory": str(mail_dir),
            "mail.ip_limit_per_hour": str(IP_LIMIT),
            "mail.account_limit_per_hour": str(ACCOUNT_LIMIT),
        },
    )
    yield app
    engine.dispose()


def test_parallel_recovery_requests_stop_exactly_at_both_limits(parallel_app, mail_dir):
    app = parallel_app
    create_user(app, "alice", email="alice@example.org")

    def prepare(number: int) -> Any:
        client = browser(app, ip="203.0.113.5")
        form = client.get(FORGOT).forms["forgot-password"]
        form["login"] = "alice"
        return lambda: form.submit("submit", status="*").status_int

    statuses = at_the_same_moment(REQUESTS, prepare)

    assert sorted(statuses) == [303] * IP_LIMIT + [429] * (REQUESTS - IP_LIMIT)
    mails = [mail for mail in read_mails(mail_dir) if mail.to == "alice@example.org"]
    assert len(mails) == ACCOUNT_LIMIT


def test_parallel_requests_from_many_networks_mail_one_account_exactly_its_limit(
    parallel_app, mail_dir
):
    app = parallel_app
    create_user(app, "alice", email="alice@example.org")

    def prepare(number: int) -> Any:
        client = browser(app, ip=f"198.51.100.{number + 1}")
        form = client.get(FORGOT).forms["forgot-password"]
        form["login"] = "alice@example.org"
        return lambda: form.submit("submit", status="*").status_int

    statuses = at_the_same_moment(REQUESTS, prepare)

    assert statuses == [303] * REQUESTS  # the answer never tells
    assert len(read_mails(mail_dir)) == ACCOUNT_LIMIT
