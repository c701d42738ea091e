"""Hostile and broken input on the two-factor forms (PRODUCT §8, §16): always a
clear 4xx, never a 500 or a traceback, and nothing changes; and on PostgreSQL, one
code or recovery code wins exactly once under parallel requests, and parallel wrong
codes are counted exactly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import webtest
from sqlalchemy import select

from camauth.db import make_engine
from camauth.models import RecoveryCode, TwoFactorCredential

from ..conftest import GOOD_PASSWORD
from .conftest import (
    all_rows,
    app_on_engine,
    assert_no_traceback,
    at_the_same_moment,
    audit_events,
    browser,
    create_user,
    error_text,
    failure_count,
    field_errors,
    get_user,
    location,
    session_rows,
    submit_login,
)
from .two_factor_helpers import (
    FORM_EXPIRED,
    REPLAYED,
    SECOND_STEP,
    Authenticator,
    enrol,
    form_fields,
    log_in_with_code,
    password_step,
)

REAUTH = "/account/reauthenticate"
HUGE = "1" * 5000
UNICODE_DIGITS = "\uff11\uff12\uff13\uff14\uff15\uff16"  # full-width 123456


@dataclass
class Target:
    """One two-factor form, opened in a browser, ready to be sent."""

    name: str
    app: Any
    client: webtest.TestApp
    action: str
    fields: dict[str, str]  # what a browser would send, with the right answers
    field: str  # the code field under attack
    wrong_status: int  # for a well-formed but wrong code
    counts_failures: bool
    unchanged: Callable[[], None]  # asserts that nothing happened

    def post(self, pairs: Any, **kw: Any) -> webtest.TestResponse:
        response = self.client.post(self.action, pairs, status="*", **kw)
        assert response.status_int < 500, response.status
        assert_no_traceback(response)
        return response

    def with_code(self, value: str) -> dict[str, str]:
        return {**self.fields, self.field: value}


def _still_pending(app: Any, client: webtest.TestApp, user_id: int) -> Callable[[], None]:
    def check() -> None:
        assert session_rows(app, user_id) == []
        successes = audit_events(app, "login_success")
        assert [event for event in successes if event.target_id == user_id] == []
        client.get(SECOND_STEP, status=200)  # the half-finished login goes on

    return check


def _not_enrolled(app: Any, user_id: int) -> Callable[[], None]:
    def check() -> None:
        assert get_user(app, user_id).two_factor_enabled_at is None
        assert all_rows(app, select(TwoFactorCredential)) == []
        assert all_rows(app, select(RecoveryCode)) == []

    return check


def _still_enrolled(app: Any, user_id: int, client: webtest.TestApp) -> Callable[[], None]:
    def check() -> None:
        assert get_user(app, user_id).two_factor_enabled_at is not None
        assert len(all_rows(app, select(TwoFactorCredential))) == 1
        assert audit_events(app, "two_factor_removed") == []
        client.get("/", status=200)

    return check


def _still_stale(client: webtest.TestApp) -> Callable[[], None]:
    def check() -> None:
        asked = client.get("/account/password", status=303)
        assert location(asked).startswith(REAUTH + "?next=")

    return check


def open_form(name: str, app: Any, clock: Any) -> Target:
    user_id = create_user(app, "alice")
    client = browser(app)
    if name == "enable":
        assert location(submit_login(client, "alice", GOOD_PASSWORD)) == "/"
        page = client.get("/account/two-factor", status=200)
        secret = page.html.select_one("#two-factor-secret").get_text(strip=True)
        device = Authenticator(secret.replace(" ", ""), clock)
        fields = form_fields(page, "enable-two-factor", code=device.now())
        return Target(
            name=name,
            app=app,
            client=client,
            action="/account/two-factor",
            fields=fields,
            field="code",
            wrong_status=400,
            counts_failures=False,
            unchanged=_not_enrolled(app, user_id),
        )
    device, codes = enrol(app, user_id, clock)
    if name in ("login-code", "login-recovery-code"):
        password_step(client, "alice")
        recovery = name == "login-recovery-code"
        page = client.get("/login/recovery-code" if recovery else SECOND_STEP, status=200)
        formid, field = ("recovery-code", "recovery_code") if recovery else ("two-factor", "code")
        right = codes[0] if recovery else device.next()
        fields = form_fields(page, formid, **{field: right})
        return Target(
            name=name,
            app=app,
            client=client,
            action=page.forms[formid].action,
            fields=fields,
            field=field,
            wrong_status=403,
            counts_failures=True,
            unchanged=_still_pending(app, client, user_id),
        )
    log_in_with_code(client, "alice", device)
    if name == "disable":
        page = client.get("/account/two-factor", status=200)
        fields = form_fields(page, "disable-two-factor", password=GOOD_PASSWORD, code=device.next())
        return Target(
            name=name,
            app=app,
            client=client,
            action="/account/two-factor/disable",
            fields=fields,
            field="code",
            wrong_status=403,
            counts_failures=True,
            unchanged=_still_enrolled(app, user_id, client),
        )
    assert name == "reauthenticate"
    clock.advance(minutes=5)
    page = client.get(REAUTH, params={"next": "/account/password"}, status=200)
    fields = form_fields(page, "reauthenticate", password=GOOD_PASSWORD, code=device.next())
    return Target(
        name=name,
        app=app,
        client=client,
        action=REAUTH,
        fields=fields,
        field="code",
        wrong_status=403,
        counts_failures=True,
        unchanged=_still_stale(client),
    )


FORMS = ["login-code", "login-recovery-code", "enable", "disable", "reauthenticate"]


@pytest.fixture(params=FORMS)
def target(request, app, clock) -> Target:
    return open_form(request.param, app, clock)


@pytest.fixture(params=["disable", "reauthenticate"])
def password_target(request, app, clock) -> Target:
    """The forms that ask for the password with the code."""
    return open_form(request.param, app, clock)


def the_right_answer_still_works(target: Target) -> None:
    """After the refusal the same form, sent properly, does what it is for."""
    response = target.post(target.fields)
    assert response.status_int == 303, (target.name, response.status, error_text(response))


# --- the code field -------------------------------------------------------------


def test_empty_code_is_a_form_error(target):
    response = target.post(target.with_code(""))
    assert response.status_int == 400
    assert "Required" in field_errors(response)
    target.unchanged()
    assert failure_count(target.app) == 0
    the_right_answer_still_works(target)


def test_whitespace_only_code_is_a_form_error(target):
    response = target.post(target.with_code("   \t "))
    assert response.status_int == 400
    assert "Required" in field_errors(response)
    target.unchanged()
    assert failure_count(target.app) == 0


def test_huge_code_is_a_form_error(target):
    response = target.post(target.with_code(HUGE))
    assert response.status_int == 400
    assert "Use at most 64 characters." in field_errors(response)
    target.unchanged()
    assert failure_count(target.app) == 0
    the_right_answer_still_works(target)


@pytest.mark.parametrize(
    "value",
    [UNICODE_DIGITS, "\x00" * 6, "12\x003456", "<script>alert(1)</script>", "١٢٣٤٥٦", "123 456 7"],
)
def test_odd_codes_are_refused_like_wrong_ones(target, value):
    response = target.post(target.with_code(value))
    assert response.status_int == target.wrong_status
    assert error_text(response)
    assert "<script>alert" not in response.text
    target.unchanged()
    assert failure_count(target.app) == (1 if target.counts_failures else 0)
    the_right_answer_still_works(target)


def test_the_right_code_with_a_nul_byte_is_refused(target):
    right = target.fields[target.field]
    response = target.post(target.with_code(right[:3] + "\x00" + right[3:]))
    assert response.status_int == target.wrong_status
    target.unchanged()


def test_the_right_code_in_full_width_digits_is_not_a_500(target):
    right = target.fields[target.field]
    wide = right.translate({ord(d): chr(0xFF10 + int(d)) for d in "0123456789"})
    response = target.post(target.with_code(wide))
    # refusing such a code or reading it as the digits it shows are both fine
    assert response.status_int in (303, target.wrong_status)
    if response.status_int != 303:
        target.unchanged()


def test_repeated_code_field_uses_the_last_value(target):
    right = target.fields[target.field]
    others = [(k, v) for k, v in target.fields.items() if k != target.field]
    refused = target.post([*others, (target.field, right), (target.field, "000000")])
    assert refused.status_int == target.wrong_status
    target.unchanged()
    accepted = target.post([*others, (target.field, "000000"), (target.field, right)])
    assert accepted.status_int == 303


def test_file_upload_as_the_code_is_a_form_error(target):
    fields = dict(target.fields)
    right = fields.pop(target.field)
    upload = [(target.field, "code.txt", right.encode())]
    response = target.post(fields, upload_files=upload)
    assert response.status_int == 400
    assert field_errors(response)
    target.unchanged()
    assert failure_count(target.app) == 0


def test_missing_code_field_is_a_form_error(target):
    fields = dict(target.fields)
    del fields[target.field]
    response = target.post(fields)
    assert response.status_int == 400
    assert "Required" in field_errors(response)
    target.unchanged()


def test_huge_password_is_a_form_error(password_target):
    target = password_target
    response = target.post({**target.fields, "password": "p" * 5000})
    assert response.status_int == 400
    assert "Use at most 1024 characters." in field_errors(response)
    target.unchanged()
    assert failure_count(target.app) == 0


def test_nul_byte_in_the_password_is_a_wrong_password(password_target):
    target = password_target
    response = target.post({**target.fields, "password": GOOD_PASSWORD + "\x00"})
    assert response.status_int == 403
    target.unchanged()
    assert failure_count(target.app) == 1


# --- CSRF -----------------------------------------------------------------------


def test_missing_csrf_token_changes_nothing(target):
    fields = dict(target.fields)
    del fields["csrf_token"]
    response = target.post(fields)
    assert response.status_int == 400
    assert FORM_EXPIRED in response.text
    target.unchanged()
    assert failure_count(target.app) == 0
    the_right_answer_still_works(target)


def test_garbage_csrf_token_changes_nothing(target):
    response = target.post({**target.fields, "csrf_token": "x" * 43})
    assert response.status_int == 400
    assert FORM_EXPIRED in response.text
    target.unchanged()


def test_csrf_token_of_another_session_changes_nothing(target):
    create_user(target.app, "bob")
    bob = browser(target.app, ip="203.0.113.66")
    assert location(submit_login(bob, "bob", GOOD_PASSWORD)) == "/"
    foreign = bob.get("/").html.find("input", attrs={"name": "csrf_token"})["value"]
    assert foreign != target.fields["csrf_token"]
    response = target.post({**target.fields, "csrf_token": foreign})
    assert response.status_int == 400
    assert FORM_EXPIRED in response.text
    target.unchanged()
    assert failure_count(target.app) == 0
    the_right_answer_still_works(target)


def test_anonymous_csrf_token_of_another_browser_changes_nothing(target):
    stranger = browser(target.app, ip="203.0.113.67")
    foreign = stranger.get("/login").forms["login"]["csrf_token"].value
    response = target.post({**target.fields, "csrf_token": foreign})
    assert response.status_int == 400
    assert FORM_EXPIRED in response.text
    target.unchanged()


def test_json_body_changes_nothing(target):
    response = target.client.post_json(target.action, target.fields, status="*")
    assert response.status_int == 400
    assert_no_traceback(response)
    target.unchanged()


# --- forms without a code: a new set of recovery codes, "I have saved these codes"


@pytest.fixture
def enrolled_client(app, clock):
    user_id = create_user(app, "alice")
    device, codes = enrol(app, user_id, clock)
    client = browser(app)
    log_in_with_code(client, "alice", device)
    return user_id, codes, client


def recovery_digests(app: Any) -> set[str]:
    return {row.code_digest for row in all_rows(app, select(RecoveryCode))}


@pytest.mark.parametrize("token", [None, "x" * 43, "foreign"])
def test_regenerate_without_a_valid_csrf_token_changes_nothing(app, enrolled_client, token):
    _, _, client = enrolled_client
    before = recovery_digests(app)
    fields = form_fields(client.get("/account/two-factor"), "regenerate-codes")
    if token is None:
        del fields["csrf_token"]
    elif token == "foreign":
        fields["csrf_token"] = browser(app).get("/login").forms["login"]["csrf_token"].value
    else:
        fields["csrf_token"] = token
    response = client.post("/account/two-factor/recovery-codes", fields, status=400)
    assert_no_traceback(response)
    assert FORM_EXPIRED in response.text
    assert recovery_digests(app) == before
    assert audit_events(app, "recovery_codes_regenerated") == []


def test_regenerate_with_odd_fields_is_not_a_500(app, enrolled_client):
    _, _, client = enrolled_client
    fields = form_fields(client.get("/account/two-factor"), "regenerate-codes")
    pairs = [*fields.items(), ("next", "//evil.example"), ("next", "\x00" * 3000)]
    response = client.post("/account/two-factor/recovery-codes", pairs, status="*")
    assert response.status_int in (303, 400)
    assert_no_traceback(response)
    if response.status_int == 303:
        assert "evil" not in response.headers["Location"]


def test_codes_saved_without_a_csrf_token_keeps_the_codes_shown(app, clock):
    create_user(app, "alice")
    client = browser(app)
    assert location(submit_login(client, "alice", GOOD_PASSWORD)) == "/"
    page = client.get("/account/two-factor")
    secret = page.html.select_one("#two-factor-secret").get_text(strip=True).replace(" ", "")
    form = page.forms["enable-two-factor"]
    form["code"] = Authenticator(secret, clock).now()
    codes_page = form.submit("submit", status=303).follow(status=200)
    fields = form_fields(codes_page, "codes-saved")
    del fields["csrf_token"]
    response = client.post(codes_page.forms["codes-saved"].action, fields, status=400)
    assert_no_traceback(response)
    client.get("/account/two-factor/recovery-codes", status=200)  # still shown
    fields = form_fields(codes_page, "codes-saved", next="https://evil.example/")
    done = client.post(codes_page.forms["codes-saved"].action, fields, status=303)
    assert "evil" not in done.headers["Location"]


@pytest.mark.parametrize(
    "path",
    [
        "/account/two-factor",
        "/account/two-factor/disable",
        "/account/two-factor/recovery-codes",
        "/account/two-factor/recovery-codes/saved",
        REAUTH,
    ],
)
def test_account_forms_posted_without_a_login_go_to_the_login_page(app, path):
    client = browser(app)
    token = client.get("/login").forms["login"]["csrf_token"].value
    fields = {"csrf_token": token, "code": "123456", "password": GOOD_PASSWORD}
    response = client.post(path, fields, status=303)
    assert location(response).startswith("/login")
    assert session_rows(app) == []


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", [SECOND_STEP, "/login/recovery-code", "/account/two-factor"])
def test_other_methods_are_a_4xx(app, method, path):
    response = browser(app).request(path, method=method, status="*")
    assert 400 <= response.status_int < 500
    assert_no_traceback(response)


# --- PostgreSQL: parallel requests ----------------------------------------------

BROWSERS = 8


@pytest.fixture
def concurrent_app(postgres_url, clock):
    built: list[Any] = []

    def make(**settings: str) -> Any:
        engine = make_engine(postgres_url, pool_size=30, max_overflow=10, pool_timeout=120)
        app = app_on_engine(engine, clock, **settings)
        built.append(app)
        return app

    yield make
    for app in built:
        app.registry["camauth.engine"].dispose()


def half_finished_logins(
    app: Any, count: int, field_value: Callable[[int], tuple[str, str, str]]
) -> list[Any]:
    """``count`` browsers each finish the password step of alice, then all send their
    second step at the same moment; ``field_value(n)`` gives (path, field, value)."""

    def prepare(number: int) -> Callable[[], webtest.TestResponse]:
        client = browser(app, ip=f"198.51.100.{number + 1}")
        password_step(client, "alice")
        path, field, value = field_value(number)
        formid = "two-factor" if field == "code" else "recovery-code"
        fields = form_fields(client.get(path, status=200), formid, **{field: value})
        return lambda: client.post(path, fields, status="*")

    return at_the_same_moment(count, prepare)


def test_the_same_code_in_parallel_logins_works_once(concurrent_app, clock):
    app = concurrent_app()
    user_id = create_user(app, "alice")
    device, _ = enrol(app, user_id, clock)
    code = device.next()
    responses = half_finished_logins(app, BROWSERS, lambda n: (SECOND_STEP, "code", code))

    for response in responses:
        assert_no_traceback(response)
    statuses = sorted(response.status_int for response in responses)
    assert statuses == [303] + [403] * (BROWSERS - 1)
    refused = [response for response in responses if response.status_int == 403]
    assert {error_text(response) for response in refused} == {REPLAYED}
    assert len(audit_events(app, "login_success")) == 1
    assert len(audit_events(app, "two_factor_replay_refused")) == BROWSERS - 1
    assert failure_count(app, "alice") == BROWSERS - 1
    assert len(session_rows(app, user_id)) == 1


def test_the_same_recovery_code_in_parallel_logins_works_once(concurrent_app, clock):
    app = concurrent_app()
    user_id = create_user(app, "alice")
    _, codes = enrol(app, user_id, clock)
    responses = half_finished_logins(
        app, BROWSERS, lambda n: ("/login/recovery-code", "recovery_code", codes[0])
    )
    statuses = sorted(response.status_int for response in responses)
    assert statuses == [303] + [403] * (BROWSERS - 1)
    assert len(audit_events(app, "recovery_code_used")) == 1
    assert len(audit_events(app, "login_success")) == 1
    used = [row for row in all_rows(app, select(RecoveryCode)) if row.used_at is not None]
    assert len(used) == 1


def test_parallel_wrong_codes_are_counted_exactly(concurrent_app, clock):
    attackers = 20
    app = concurrent_app(**{"lockout.threshold": "100"})
    user_id = create_user(app, "alice")
    device, _ = enrol(app, user_id, clock)
    wrong = device.not_now()
    responses = half_finished_logins(app, attackers, lambda n: (SECOND_STEP, "code", wrong))
    assert sorted(response.status_int for response in responses) == [403] * attackers
    assert failure_count(app, "alice") == attackers
    assert len(audit_events(app, "two_factor_wrong_code")) == attackers
    assert session_rows(app, user_id) == []


def test_parallel_wrong_codes_lock_at_the_threshold_exactly(concurrent_app, clock):
    attackers = 20
    app = concurrent_app(**{"lockout.threshold": str(attackers)})
    user_id = create_user(app, "alice")
    device, _ = enrol(app, user_id, clock)
    wrong = device.not_now()
    responses = half_finished_logins(app, attackers, lambda n: (SECOND_STEP, "code", wrong))
    statuses = sorted(response.status_int for response in responses)
    assert statuses == [403] * (attackers - 1) + [429]
    assert failure_count(app, "alice") == attackers
    assert len(audit_events(app, "lockout")) == 1
    # the lock holds for the right password and code
    client = browser(app, ip="192.0.2.200")
    submit_login(client, "alice", GOOD_PASSWORD, status=429)
    assert failure_count(app, "alice") == attackers


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_reauthentication_ignores_a_foreign_next(app, clock, target):
    user_id = create_user(app, "alice")
    device, _ = enrol(app, user_id, clock)
    client = browser(app)
    log_in_with_code(client, "alice", device)
    clock.advance(minutes=5)
    page = client.get(REAUTH, params={"next": target}, status=200)
    fields = form_fields(page, "reauthenticate", password=GOOD_PASSWORD, code=device.next())
    response = client.post(REAUTH, {**fields, "next": target}, status="*")
    assert_no_traceback(response)
    assert response.status_int in (303, 400)
    if response.status_int == 303:
        assert location(response) == "/"


def test_a_burst_of_wrong_codes_gets_no_more_guesses_than_the_threshold(concurrent_app, clock):
    """Codes are cheap to guess: parallel guesses past the threshold are refused by the
    lock, not judged, so a burst cannot try more codes than the threshold allows."""
    attackers, threshold = 20, 10
    app = concurrent_app(**{"lockout.threshold": str(threshold)})
    user_id = create_user(app, "alice")
    device, _ = enrol(app, user_id, clock)
    wrong = device.not_now()
    responses = half_finished_logins(app, attackers, lambda n: (SECOND_STEP, "code", wrong))
    statuses = sorted(response.status_int for response in responses)
    assert statuses == [403] * (threshold - 1) + [429] * (attackers - threshold + 1)
    assert failure_count(app, "alice") == threshold
    assert len(audit_events(app, "two_factor_wrong_code")) == threshold
    assert len(audit_events(app, "lockout")) == 1
