"""Two-factor holes found by review, each shown closed through the real pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from camauth.db import make_engine
from camauth.models import LoginFailure, RecoveryCode, TwoFactorCredential, User, WebSession
from camauth.services import accounts, mfa

from ..conftest import GOOD_PASSWORD, app_context
from .conftest import (
    app_on_engine,
    at_the_same_moment,
    browser,
    create_user,
    location,
    logged_in,
    scalar,
)
from .two_factor_helpers import (
    CLOCK_HINT,
    REPLAYED,
    Authenticator,
    Token,
    enrol,
    password_step,
    submit_code,
)

THRESHOLD = 10
ATTACKERS = 30


def text_of(page) -> str:
    return " ".join(page.text.split())


def test_a_hinted_future_code_cannot_be_used_later(app_factory, clock):
    """The clock hint says a code is right for a step to come: that step is burnt."""
    app = app_factory(**{"mfa.required_for": "none"})
    device, _codes = enrol(app, create_user(app, "alice"), clock)
    client = browser(app)
    password_step(client, "alice")
    future = device.off_by(5)
    hinted = submit_code(client, future, status=403)
    assert CLOCK_HINT in text_of(hinted)
    clock.advance(seconds=150)  # now the future code is the current one
    refused = submit_code(client, future, status=403)
    assert REPLAYED in text_of(refused)
    clock.advance(seconds=30)
    assert location(submit_code(client, device.now())) == "/"


def test_a_password_change_ends_a_login_waiting_for_its_code(app_factory, clock):
    app = app_factory(**{"mfa.required_for": "none"})
    user_id = create_user(app, "alice")
    device, _codes = enrol(app, user_id, clock)
    attacker = browser(app, ip="203.0.113.9")
    password_step(attacker, "alice")  # knows the password, waits for a code
    clock.advance(seconds=1)
    ctx = app_context(app)
    try:
        user = ctx.db.get(User, user_id)
        accounts.set_password(ctx, user, "granite otter plays the kazoo at dawn")
        ctx.db.commit()
    finally:
        ctx.db.close()
    refused = submit_code(attacker, device.next())
    assert location(refused) == "/login?notice=log-in-again"
    assert attacker.get("/", status=303)  # still nobody


def test_new_recovery_codes_leave_the_session_table_after_reauth_minutes(app_factory, clock):
    app = app_factory(**{"mfa.required_for": "none"})
    enrol(app, create_user(app, "alice"), clock)
    client = browser(app)
    password_step(client, "alice")
    ctx = app_context(app)
    try:
        secret = ctx.db.scalar(select(TwoFactorCredential.secret))
    finally:
        ctx.db.close()
    device = Authenticator(secret, clock)
    assert location(submit_code(client, device.next())) == "/"
    page = client.get("/account/two-factor")
    assert location(page.forms["regenerate-codes"].submit()) == (
        "/account/two-factor/recovery-codes"
    )
    codes = [
        li.get_text()
        for li in client.get("/account/two-factor/recovery-codes").html.select(".recovery-codes li")
    ]
    assert len(codes) == 10

    def stored() -> str:
        ctx = app_context(app)
        try:
            return " ".join(ctx.db.scalars(select(WebSession.data)).all())
        finally:
            ctx.db.close()

    # kept while they may be shown and downloaded, but sealed: never in plain text
    assert "_recovery_codes" in stored()
    assert not any(code in stored() for code in codes)
    assert client.get("/account/two-factor/recovery-codes").html.select(".recovery-codes li")
    clock.advance(minutes=5)
    client.get("/")  # any page: the person never came back to the codes
    assert "_recovery_codes" not in stored()


def test_replacing_a_token_voids_the_old_recovery_codes(app_factory, clock):
    app = app_factory(**{"mfa.required_for": "none"})
    user_id = create_user(app, "alice")
    _device, codes = enrol(app, user_id, clock)
    ctx = app_context(app)
    try:
        user = ctx.db.get(User, user_id)
        token = Token("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", clock)
        mfa.enrol_hardware(
            ctx, user, token.secret, token.now(), period=60, algorithm="sha256", replace=True
        )
        ctx.db.commit()
        assert ctx.db.scalar(select(func.count()).select_from(RecoveryCode)) == 0
    finally:
        ctx.db.close()
    client = browser(app)
    password_step(client, "alice")
    assert submit_code(client, codes[0], recovery=True).status_int == 403


# --- PostgreSQL: parallel requests -----------------------------------------------------


@pytest.fixture
def concurrent_app(postgres_url, clock):
    built: list[Any] = []

    def make(**settings: str) -> Any:
        engine = make_engine(
            postgres_url, pool_size=ATTACKERS + 5, max_overflow=5, pool_timeout=120
        )
        app = app_on_engine(engine, clock, **settings)
        built.append(app)
        return app

    yield make
    for app in built:
        app.registry["camauth.engine"].dispose()


def test_a_burst_of_code_guesses_tries_no_more_than_the_threshold(concurrent_app, clock):
    """Each half-finished login guesses once, all at the same moment: the lock row is
    held while a code is judged, so only ``threshold`` codes are ever looked at and
    the rest are refused as locked."""
    app = concurrent_app(**{"lockout.threshold": str(THRESHOLD), "mfa.required_for": "none"})
    device, _codes = enrol(app, create_user(app, "alice"), clock)
    wrong = device.not_now()

    def prepare(number: int) -> Callable[[], int]:
        client = browser(app, ip=f"198.51.100.{number + 1}")
        password_step(client, "alice")
        form = client.get("/login/two-factor").forms["two-factor"]
        form["code"] = wrong
        return lambda: form.submit("submit", status="*").status_int

    statuses = at_the_same_moment(ATTACKERS, prepare)
    judged = scalar(
        app,
        select(func.count()).select_from(LoginFailure).where(LoginFailure.username_key == "alice"),
    )
    assert judged == THRESHOLD
    assert sorted(statuses) == [403] * (THRESHOLD - 1) + [429] * (ATTACKERS - THRESHOLD + 1)


def test_a_double_clicked_enable_makes_one_credential_and_no_error(concurrent_app, clock):
    app = concurrent_app(**{"mfa.required_for": "none"})
    create_user(app, "alice")
    client = logged_in(app, "alice", GOOD_PASSWORD)
    page = client.get("/account/two-factor")
    secret = page.html.select_one("#two-factor-secret").get_text().replace(" ", "")
    code = Authenticator(secret, clock).now()
    form = page.forms["enable-two-factor"]
    form["code"] = code

    def prepare(number: int) -> Callable[[], int]:
        return lambda: form.submit("submit", status="*").status_int

    statuses = sorted(at_the_same_moment(2, prepare))
    assert statuses[0] == 303
    assert statuses[1] in (303, 400, 409)
    assert scalar(app, select(func.count()).select_from(TwoFactorCredential)) == 1
