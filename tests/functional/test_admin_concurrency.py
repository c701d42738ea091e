"""Two administrators at the same moment, on PostgreSQL: one deletes a user while
the other acts on that user. The second gets a clear 404 or 409 (or acted first),
and nothing is logged as an error: a race between people is not a fault."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from camauth.db import make_engine

from .admin_helpers import admin_browser, confirmation, form_posting_to, make_admin, user_path
from .conftest import app_on_engine, at_the_same_moment, create_user

ROUNDS = 4


@pytest.fixture
def two_admins(postgres_url, clock):
    engine = make_engine(postgres_url, pool_size=10, max_overflow=5)
    app = app_on_engine(engine, clock, **{"mfa.required_for": "none"})
    make_admin(app, "root")
    make_admin(app, "boss")
    yield app, admin_browser(app, "root"), admin_browser(app, "boss")
    engine.dispose()


def confirmed(client: Any, user_id: int, action: str) -> Callable[[], int]:
    form = confirmation(client, user_id, action).forms[f"confirm-{action}"]
    return lambda: form.submit("submit", status="*").status_int


def one_click(client: Any, user_id: int, action: str) -> Callable[[], int]:
    page = client.get(user_path(user_id), status=200)
    form = form_posting_to(page, user_path(user_id, action))
    return lambda: form.submit(status="*").status_int


@pytest.mark.parametrize(
    ("action", "prepare"),
    [
        ("disable", confirmed),
        ("end-sessions", confirmed),
        ("unlock", one_click),
        ("force-password-change", one_click),
    ],
)
def test_acting_on_a_user_deleted_at_the_same_moment_is_a_clean_refusal(
    two_admins, caplog, action, prepare
):
    app, root, boss = two_admins
    caplog.set_level(logging.INFO)
    for number in range(ROUNDS):
        victim = create_user(app, f"victim{action}{number}")
        deleting = confirmed(root, victim, "delete")
        acting = prepare(boss, victim, action)
        sends = {0: deleting, 1: acting}

        def send(which: int, sends: dict[int, Callable[[], int]] = sends) -> Callable[[], Any]:
            return lambda: (which, sends[which]())

        statuses = dict(at_the_same_moment(2, send))
        assert statuses[0] == 303
        assert statuses[1] in (303, 404, 409), statuses
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == [], [record.getMessage() for record in errors]
