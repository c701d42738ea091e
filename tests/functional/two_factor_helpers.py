"""Helpers for the two-factor functional tests (PRODUCT §8): an authenticator that
follows the app's fake clock, enrolment without the pages, and the two login steps
through the real forms."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyotp
import webtest

from camauth.clock import FakeClock
from camauth.models import User
from camauth.services import mfa

from ..conftest import GOOD_PASSWORD, app_context
from .conftest import location, submit_login

STEP = 30  # seconds per TOTP time step
SECOND_STEP = "/login/two-factor"
RECOVERY_STEP = "/login/recovery-code"
GROUPED_SECRET = re.compile(r"^[A-Z2-7]{4}( [A-Z2-7]{4})*$")

WRONG_CODE = "That code is not correct."
REPLAYED = "That code has already been used. Wait for the next code and enter that one."
CLOCK_HINT = "Check the date and time on your device"
NOT_A_RECOVERY_CODE = "That is not one of your unused recovery codes."
REAUTH_REFUSED = "The password or authentication code is not correct."
FORM_EXPIRED = "This form was not accepted because its security token is missing or out of date"


@dataclass
class Authenticator:
    """The person's phone: the codes of ``secret`` at the app's (fake) clock."""

    secret: str
    clock: FakeClock

    def now(self) -> str:
        return pyotp.TOTP(self.secret).at(self.clock.now)

    def next(self) -> str:
        """Wait for the next time step (so no step is used twice) and read the code."""
        self.clock.advance(seconds=STEP)
        return self.now()

    def off_by(self, steps: int) -> str:
        """The code of a device whose clock is ``steps`` steps ahead (or behind)."""
        return pyotp.TOTP(self.secret).at(self.clock.now + timedelta(seconds=STEP * steps))

    def not_now(self) -> str:
        """Six digits that are no code of this secret anywhere near now."""
        near = {self.off_by(steps) for steps in range(-12, 13)}
        return next(code for code in (f"{n:06d}" for n in range(1000)) if code not in near)


def enrol(app: Any, user_id: int, clock: FakeClock) -> tuple[Authenticator, list[str]]:
    """Give a user an authenticator app through the service (as if they had done it on
    the page a step ago); returns their device and recovery codes. The clock moves on
    one step, so the enrolling code's step is over."""
    secret = pyotp.random_base32(32)
    ctx = app_context(app)
    try:
        user = ctx.db.get(User, user_id)
        assert user is not None
        codes = mfa.enrol_app(ctx, user, secret, pyotp.TOTP(secret).at(clock.now))
        ctx.db.commit()
    finally:
        ctx.db.close()
    clock.advance(seconds=STEP)
    return Authenticator(secret, clock), codes


def remove_two_factor(app: Any, user_id: int) -> None:
    """What an administrator's "remove two-factor" does (the command line's service)."""
    ctx = app_context(app)
    try:
        user = ctx.db.get(User, user_id)
        assert user is not None
        mfa.remove(ctx, user)
        ctx.db.commit()
    finally:
        ctx.db.close()


def password_step(
    client: webtest.TestApp,
    username: str,
    password: str = GOOD_PASSWORD,
    next_path: str | None = None,
) -> webtest.TestResponse:
    """The login form with the right password of a two-factor user: on to the code."""
    response = submit_login(client, username, password, next_path, status=303)
    assert location(response) == SECOND_STEP
    return response


def submit_code(
    client: webtest.TestApp, code: str, *, recovery: bool = False, status: int | str = "*"
) -> webtest.TestResponse:
    """Fill in the second step's form (the code, or a recovery code) and press Verify."""
    if recovery:
        form = client.get(RECOVERY_STEP, status=200).forms["recovery-code"]
        form["recovery_code"] = code
    else:
        form = client.get(SECOND_STEP, status=200).forms["two-factor"]
        form["code"] = code
    return form.submit("submit", status=status)


def log_in_with_code(
    client: webtest.TestApp,
    username: str,
    device: Authenticator,
    next_path: str | None = None,
) -> webtest.TestResponse:
    """Both steps, with a fresh code; returns the redirect to the destination."""
    password_step(client, username, next_path=next_path)
    return submit_code(client, device.next(), status=303)


def form_fields(page: webtest.TestResponse, formid: str, **values: str) -> dict[str, str]:
    """What a browser would post from the form ``formid`` on ``page``, changed by ``values``."""
    form = page.forms[formid]
    fields = {name: field.value or "" for name, [field, *_] in form.fields.items() if name}
    fields.update(values)
    return fields


@dataclass
class Token:
    """A hardware token: its own period and algorithm, and a clock ``ahead`` steps off."""

    secret: str
    clock: FakeClock
    period: int = 60
    algorithm: str = "sha256"
    ahead: int = 0

    def now(self) -> str:
        digest = hashlib.sha256 if self.algorithm == "sha256" else hashlib.sha1
        totp = pyotp.TOTP(self.secret, digest=digest, interval=self.period)
        return totp.at(self.clock.now + timedelta(seconds=self.period * self.ahead))

    def next(self) -> str:
        self.clock.advance(seconds=self.period)
        return self.now()


def enrol_token(app: Any, user_id: int, token: Token) -> int:
    """What an administrator's ``camauth add-token`` does; returns the drift found."""
    ctx = app_context(app)
    try:
        user = ctx.db.get(User, user_id)
        assert user is not None
        drift = mfa.enrol_hardware(
            ctx, user, token.secret, token.now(), period=token.period, algorithm=token.algorithm
        )
        ctx.db.commit()
    finally:
        ctx.db.close()
    token.clock.advance(seconds=token.period)
    return drift
