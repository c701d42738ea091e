"""Two-factor credentials (PRODUCT §8) at the service level: enrolment, code checks,
drift learning, recovery codes, removal, policy.

Devices are simulated with pyotp called directly, at the device's own idea of the
time (the fake clock plus the device's clock error).
"""

from __future__ import annotations

import hashlib
import re
from base64 import b32encode
from dataclasses import replace
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from camauth.db import make_session_factory
from camauth.models import RecoveryCode, TwoFactorCredential, WebSession
from camauth.services import audit, mfa, recovery_codes, sessions, terms
from camauth.services.audit import Event
from camauth.services.mfa import CodeChecker, TwoFactorError
from camauth.services.required_actions import Action, next_action
from camauth.services.totp import Match, Verdict

from .conftest import add_user, with_settings

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
OTHER_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
CODE_FORMAT = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")


class Device:
    """A TOTP device whose clock is ``error`` seconds ahead of the real time."""

    def __init__(self, clock, secret=SECRET, *, digits=6, period=30, digest=hashlib.sha1):
        self.clock = clock
        self.period = period
        self.error = 0.0
        self.totp = pyotp.TOTP(secret, digits=digits, digest=digest, interval=period)

    def steps_off(self, steps: float) -> Device:
        self.error = steps * self.period
        return self

    def code(self) -> str:
        return self.totp.at(self.clock() + timedelta(seconds=self.error))

    def step(self) -> int:
        return int((self.clock() + timedelta(seconds=self.error)).timestamp()) // self.period


def next_request(ctx):
    """What the web layer does between requests: commit, and read everything afresh."""
    ctx.db.commit()
    ctx.db.expire_all()


def stored(ctx, user):
    """The credential's columns as the database holds them now (or None)."""
    return ctx.db.execute(
        select(
            TwoFactorCredential.kind,
            TwoFactorCredential.drift,
            TwoFactorCredential.last_step,
            TwoFactorCredential.digits,
            TwoFactorCredential.period,
            TwoFactorCredential.algorithm,
            TwoFactorCredential.secret,
        ).where(TwoFactorCredential.user_id == user.id)
    ).first()


def code_rows(ctx, user=None):
    query = select(RecoveryCode)
    if user is not None:
        query = query.where(RecoveryCode.user_id == user.id)
    return ctx.db.scalars(query).all()


def events_of(ctx, event):
    """Audit events of one kind, oldest first."""
    return list(reversed(audit.events(ctx, event=event)))


def digest(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").encode()).hexdigest()


def check(ctx, user, code):
    """One login's code check, as its own request."""
    result = CodeChecker(ctx, user).check(code)
    next_request(ctx)
    return result


def enrol_app(ctx, clock, user, secret=SECRET, **kw):
    codes = mfa.enrol_app(ctx, user, secret, Device(clock, secret).code(), **kw)
    next_request(ctx)
    return codes


def enrol_hardware(ctx, user, device, secret=SECRET, **kw):
    drift = mfa.enrol_hardware(ctx, user, secret, device.code(), **kw)
    next_request(ctx)
    return drift


# --- enrolling an authenticator app ------------------------------------------------


@pytest.mark.parametrize("steps", [-1, 0, 1])
def test_enrol_app_with_a_right_code_turns_two_factor_on(ctx, clock, steps):
    user = add_user(ctx)
    clock.advance(hours=1)
    device = Device(clock).steps_off(steps)
    codes = mfa.enrol_app(ctx, user, SECRET, device.code())
    assert user.two_factor_enabled_at == clock()
    assert user.has_two_factor
    next_request(ctx)
    credential = stored(ctx, user)
    assert credential.kind == "app"
    assert credential.secret == SECRET
    assert (credential.digits, credential.period, credential.algorithm) == (6, 30, "sha1")
    assert credential.drift == 0  # an app never learns drift, not even at enrolment
    assert credential.last_step == device.step()
    assert len(codes) == 10
    [enrolled] = audit.events(ctx, event=Event.TWO_FACTOR_ENROLLED)
    assert enrolled.target_id == user.id
    assert enrolled.details["method"] == "app"


def test_enrol_app_refuses_a_wrong_code_and_stores_nothing(ctx, clock):
    user = add_user(ctx)
    right = Device(clock).code()
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    with pytest.raises(TwoFactorError, match="not correct"):
        mfa.enrol_app(ctx, user, SECRET, wrong)
    with pytest.raises(TwoFactorError):
        mfa.enrol_app(ctx, user, SECRET, "")
    with pytest.raises(TwoFactorError):
        mfa.enrol_app(ctx, user, OTHER_SECRET, right)
    assert not user.has_two_factor
    assert stored(ctx, user) is None
    assert code_rows(ctx) == []
    assert audit.events(ctx, event=Event.TWO_FACTOR_ENROLLED) == []


@pytest.mark.parametrize("steps", [-4, 2, 10])
def test_enrol_app_with_a_device_clock_off_says_so(ctx, clock, steps):
    user = add_user(ctx)
    with pytest.raises(TwoFactorError, match="clock"):
        mfa.enrol_app(ctx, user, SECRET, Device(clock).steps_off(steps).code())
    assert not user.has_two_factor
    assert stored(ctx, user) is None
    assert code_rows(ctx) == []


def test_enrol_app_twice_is_refused(ctx, clock):
    user = add_user(ctx)
    enrol_app(ctx, clock, user)
    clock.advance(minutes=1)
    with pytest.raises(TwoFactorError, match="already"):
        mfa.enrol_app(ctx, user, OTHER_SECRET, Device(clock, OTHER_SECRET).code())
    assert stored(ctx, user).secret == SECRET


def test_enrolment_stores_ten_recovery_code_digests_and_never_the_codes(ctx, clock):
    user = add_user(ctx)
    codes = enrol_app(ctx, clock, user)
    assert len(codes) == len(set(codes)) == 10
    for code in codes:
        assert CODE_FORMAT.match(code), code
    rows = code_rows(ctx, user)
    assert len(rows) == 10
    assert {row.code_digest for row in rows} == {digest(code) for code in codes}
    assert all(row.used_at is None for row in rows)
    # nothing in the table, in any column, holds a code or any part of one
    table = RecoveryCode.__table__
    dump = " ".join(
        str(value) for row in ctx.db.execute(select(table)).all() for value in row
    ).upper()
    for code in codes:
        assert code not in dump
        assert code.replace("-", "") not in dump


def test_enrolling_code_cannot_be_used_again(ctx, clock):
    user = add_user(ctx)
    device = Device(clock)
    enrolling = device.code()
    mfa.enrol_app(ctx, user, SECRET, enrolling)
    next_request(ctx)
    assert check(ctx, user, enrolling).verdict.match is Match.REPLAY
    clock.advance(seconds=20)  # still the same step
    assert check(ctx, user, enrolling).verdict.match is Match.REPLAY
    assert check(ctx, user, device.steps_off(-1).code()).verdict.match is Match.REPLAY
    clock.advance(seconds=10)  # the next step
    assert check(ctx, user, device.steps_off(0).code()).ok


def test_enrol_app_ends_the_users_other_sessions(ctx, clock):
    user = add_user(ctx)
    bob = add_user(ctx, "bob")
    current = sessions.create_session(ctx, user=user)[1].id
    for _ in range(2):
        sessions.create_session(ctx, user=user)
    bobs = sessions.create_session(ctx, user=bob)[1].id
    enrol_app(ctx, clock, user, keep_session_id=current)
    left = ctx.db.scalars(select(WebSession.id)).all()
    assert sorted(left) == sorted([current, bobs])


def test_code_checks_use_the_code_once(ctx, clock):
    user = add_user(ctx)
    device = Device(clock)
    enrol_app(ctx, clock, user)
    clock.advance(minutes=5)
    code = device.code()
    first = check(ctx, user, code)
    assert first.ok
    assert stored(ctx, user).last_step == device.step()
    again = check(ctx, user, code)
    assert again.verdict.match is Match.REPLAY
    assert "already been used" in again.message


def test_of_two_requests_with_the_same_code_only_one_is_accepted(ctx, clock, engine):
    """Both load the credential before either uses the code (the conditional UPDATE)."""
    user = add_user(ctx)
    device = Device(clock)
    enrol_app(ctx, clock, user)
    clock.advance(minutes=5)
    other = make_session_factory(engine)()
    try:
        other_ctx = replace(ctx, db=other)
        first = CodeChecker(ctx, user)
        second = CodeChecker(other_ctx, other_ctx.db.merge(user, load=True))
        assert first.credential.last_step == second.credential.last_step
        assert first.check(device.code()).ok
        ctx.db.commit()
        refused = second.check(device.code())
        assert refused.verdict.match is Match.REPLAY
        assert not refused.ok
        other.commit()
    finally:
        other.close()
    assert stored(ctx, user).last_step == device.step()


# --- hardware tokens: enrolment ------------------------------------------------------


@pytest.mark.parametrize("steps", [-10, -3, 0, 1, 7, 10])
def test_enrol_hardware_finds_the_tokens_starting_drift(ctx, clock, steps):
    user = add_user(ctx)
    device = Device(clock).steps_off(steps)
    assert enrol_hardware(ctx, user, device) == steps
    credential = stored(ctx, user)
    assert credential.kind == "hardware"
    assert credential.drift == steps
    assert credential.last_step == device.step()
    assert user.has_two_factor
    [enrolled] = audit.events(ctx, event=Event.TWO_FACTOR_ENROLLED)
    assert enrolled.details["method"] == "hardware"
    assert enrolled.details["drift"] == steps
    # the token, still as far off, works at the next login at the centre of the window
    clock.advance(minutes=3)
    result = check(ctx, user, device.code())
    assert result.ok
    assert result.verdict.offset == 0
    assert stored(ctx, user).drift == steps


@pytest.mark.parametrize("steps", [-11, 11, 30])
def test_enrol_hardware_refuses_a_token_more_than_ten_steps_off(ctx, clock, steps):
    user = add_user(ctx)
    with pytest.raises(TwoFactorError, match="does not match"):
        mfa.enrol_hardware(ctx, user, SECRET, Device(clock).steps_off(steps).code())
    assert not user.has_two_factor
    assert stored(ctx, user) is None


def test_enrol_hardware_refuses_a_wrong_code(ctx, clock):
    user = add_user(ctx)
    with pytest.raises(TwoFactorError):
        mfa.enrol_hardware(ctx, user, SECRET, Device(clock, OTHER_SECRET).code())
    assert stored(ctx, user) is None


def test_enrolling_code_of_a_hardware_token_cannot_be_used_again(ctx, clock):
    user = add_user(ctx)
    device = Device(clock).steps_off(4)
    code = device.code()
    enrol_hardware(ctx, user, device)
    assert check(ctx, user, code).verdict.match is Match.REPLAY


def test_sixty_second_sha256_eight_digit_token(ctx, clock):
    user = add_user(ctx)
    device = Device(clock, digits=8, period=60, digest=hashlib.sha256)
    kind = {"digits": 8, "period": 60, "algorithm": "sha256"}
    assert enrol_hardware(ctx, user, device, **kind) == 0
    credential = stored(ctx, user)
    assert (credential.digits, credential.period, credential.algorithm) == (8, 60, "sha256")
    assert credential.last_step == int(clock().timestamp()) // 60
    clock.advance(seconds=60)
    sha1_code = Device(clock, digits=8, period=60).code()
    six_digits = Device(clock, period=60, digest=hashlib.sha256).code()
    assert check(ctx, user, sha1_code).verdict.match is Match.WRONG
    assert check(ctx, user, six_digits).verdict.match is Match.WRONG
    assert check(ctx, user, device.code()).ok
    # two minutes ahead is two 60-second steps: the clock hint, in minutes
    clock.advance(minutes=5)
    off = check(ctx, user, device.steps_off(2).code())
    assert off.verdict.match is Match.CLOCK_OFF
    assert "about 2 minutes" in off.message


def test_hardware_token_secret_in_hex(ctx, clock):
    user = add_user(ctx)
    raw = b"12345678901234567890123456789012"
    base32 = b32encode(raw).decode().rstrip("=")
    device = Device(clock, base32, digits=8, digest=hashlib.sha256)
    spaced = " ".join(raw.hex()[i : i + 8] for i in range(0, 64, 8)).upper()
    drift = mfa.enrol_hardware(
        ctx, user, spaced, device.code(), digits=8, algorithm="sha256", hexadecimal=True
    )
    assert drift == 0
    assert stored(ctx, user).secret == base32


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"digits": 7}, "digits"),
        ({"digits": 10}, "digits"),
        ({"period": 45}, "period"),
        ({"period": 0}, "period"),
        ({"algorithm": "md5"}, "algorithm"),
        ({"algorithm": "sha512"}, "algorithm"),
    ],
)
def test_enrol_hardware_refuses_unsupported_parameters(ctx, clock, kw, message):
    user = add_user(ctx)
    with pytest.raises(TwoFactorError, match=message):
        mfa.enrol_hardware(ctx, user, SECRET, Device(clock).code(), **kw)
    assert stored(ctx, user) is None


@pytest.mark.parametrize(
    ("secret", "kw", "message"),
    [
        ("JBSWY3DPEHPK3PXP", {}, "128 to 512 bits"),  # 80 bits: too short
        ("not base32 at all", {}, "base32"),
        ("abcdefg", {"hexadecimal": True}, "hexadecimal"),
        ("ab" * 15, {"hexadecimal": True}, "128 to 512 bits"),
        ("ab" * 65, {"hexadecimal": True}, "128 to 512 bits"),
    ],
)
def test_enrol_hardware_refuses_unusable_secrets(ctx, clock, secret, kw, message):
    user = add_user(ctx)
    with pytest.raises(TwoFactorError, match=message):
        mfa.enrol_hardware(ctx, user, secret, "123456", **kw)
    assert stored(ctx, user) is None


def test_enrol_hardware_makes_no_recovery_codes_and_ends_sessions(ctx, clock):
    """The administrator must not see the codes; the owner makes them later."""
    user = add_user(ctx)
    for _ in range(2):
        sessions.create_session(ctx, user=user)
    enrol_hardware(ctx, user, Device(clock))
    assert code_rows(ctx) == []
    assert ctx.db.scalars(select(WebSession.id)).all() == []
    codes = mfa.regenerate_recovery_codes(ctx, user)
    assert mfa.use_recovery_code(ctx, user, codes[0]) == 9


def test_replacing_a_token_voids_the_recovery_codes(ctx, clock):
    user = add_user(ctx)
    codes = enrol_app(ctx, clock, user)
    sessions.create_session(ctx, user=user)
    clock.advance(minutes=1)
    enrol_hardware(ctx, user, Device(clock, OTHER_SECRET), OTHER_SECRET, replace=True)
    assert code_rows(ctx, user) == []
    assert mfa.use_recovery_code(ctx, user, codes[0]) is None
    assert ctx.db.scalars(select(WebSession.id)).all() == []
    [_, replaced] = events_of(ctx, Event.TWO_FACTOR_ENROLLED)
    assert replaced.details["replaced"] is True


def test_enrol_app_sees_an_enrolment_made_meanwhile(ctx, clock, engine):
    """A double-clicked Enable: the second request's user was loaded before the first
    committed."""
    user = add_user(ctx)
    other = make_session_factory(engine)()
    try:
        stale = other.get(type(user), user.id)
        assert not stale.has_two_factor
        enrol_app(ctx, clock, user)
        other_ctx = replace(ctx, db=other)
        clock.advance(seconds=30)
        with pytest.raises(TwoFactorError, match="already"):
            mfa.enrol_app(other_ctx, stale, OTHER_SECRET, Device(clock, OTHER_SECRET).code())
        other.rollback()
    finally:
        other.close()
    assert stored(ctx, user).secret == SECRET


def test_enrol_hardware_over_an_existing_credential_needs_replace(ctx, clock):
    user = add_user(ctx)
    enrol_app(ctx, clock, user)
    clock.advance(minutes=1)
    token = Device(clock, OTHER_SECRET).steps_off(3)
    with pytest.raises(TwoFactorError, match="already has"):
        mfa.enrol_hardware(ctx, user, OTHER_SECRET, token.code())
    assert stored(ctx, user).secret == SECRET
    assert enrol_hardware(ctx, user, token, OTHER_SECRET, replace=True) == 3
    credential = stored(ctx, user)
    assert (credential.kind, credential.secret, credential.drift) == ("hardware", OTHER_SECRET, 3)
    assert ctx.db.scalar(select(func.count()).select_from(TwoFactorCredential)) == 1
    clock.advance(minutes=1)
    assert not check(ctx, user, Device(clock).code()).ok  # the app is gone
    assert check(ctx, user, token.code()).ok


# --- hardware tokens: drift learning ----------------------------------------------------


@pytest.mark.parametrize("direction", [1, -1])
def test_a_token_drifting_a_step_a_week_stays_usable_for_a_year(ctx, clock, direction):
    user = add_user(ctx)
    device = Device(clock)
    enrol_hardware(ctx, user, device)
    drifts = [0]
    for week in range(1, 53):
        clock.advance(days=7)
        device.steps_off(direction * week)
        result = check(ctx, user, device.code())
        assert result.ok, f"week {week}: {result.verdict}"
        drifts.append(stored(ctx, user).drift)
    assert drifts == [direction * week for week in range(53)]
    assert stored(ctx, user).last_step == device.step()


def test_a_token_drifting_slowly_between_daily_logins_stays_usable(ctx, clock):
    """A token gaining 20 seconds a week, used every working day at varying times."""
    user = add_user(ctx)
    device = Device(clock)
    enrol_hardware(ctx, user, device)
    start = clock()
    for day in range(1, 365):
        clock.advance(days=1)
        if clock().weekday() >= 5:
            continue
        at = clock() + timedelta(minutes=(day * 37) % 480)
        device.clock = lambda at=at: at
        device.error = (at - start).total_seconds() * 20 / (7 * 86400)
        with_now = replace(ctx, clock=device.clock)
        result = CodeChecker(with_now, user).check(device.code())
        next_request(ctx)
        assert result.ok, f"day {day}: {result.verdict}"
    # about 52 weeks of 20 s: some 35 steps learned
    assert 33 <= stored(ctx, user).drift <= 36


def test_drift_moves_at_most_one_step_per_success(ctx, clock):
    user = add_user(ctx)
    device = Device(clock)
    enrol_hardware(ctx, user, device)

    clock.advance(minutes=1)
    assert check(ctx, user, device.steps_off(1).code()).ok
    assert stored(ctx, user).drift == 1

    # two steps beyond what was learned: refused with the hint, nothing learned
    clock.advance(minutes=1)
    before = stored(ctx, user)
    off = check(ctx, user, device.steps_off(3).code())
    assert (off.verdict.match, off.verdict.offset) == (Match.CLOCK_OFF, 2)
    assert stored(ctx, user).drift == before.drift

    clock.advance(minutes=1)
    assert check(ctx, user, device.steps_off(2).code()).ok
    assert stored(ctx, user).drift == 2

    # right on the learned drift: it stays
    clock.advance(minutes=1)
    assert check(ctx, user, device.code()).verdict.offset == 0
    assert stored(ctx, user).drift == 2

    # and back
    clock.advance(minutes=1)
    assert check(ctx, user, device.steps_off(1).code()).verdict.offset == -1
    assert stored(ctx, user).drift == 1


def test_a_clock_hint_for_a_step_still_to_come_uses_that_step_up(ctx, clock):
    """The hint tells a guesser their code will work later: it must not."""
    user = add_user(ctx)
    device = Device(clock)
    enrol_app(ctx, clock, user)
    clock.advance(minutes=5)
    ahead = device.steps_off(3).code()
    assert check(ctx, user, ahead).verdict.match is Match.CLOCK_OFF
    assert stored(ctx, user).last_step == device.step()
    clock.advance(seconds=90)  # that step has come
    device.steps_off(0)
    assert check(ctx, user, ahead).verdict.match is Match.REPLAY
    clock.advance(seconds=30)
    assert check(ctx, user, device.code()).ok


def test_a_clock_hint_for_a_past_step_uses_nothing_up(ctx, clock):
    user = add_user(ctx)
    device = Device(clock)
    enrol_app(ctx, clock, user)
    clock.advance(minutes=5)
    before = stored(ctx, user)
    assert check(ctx, user, device.steps_off(-3).code()).verdict.match is Match.CLOCK_OFF
    assert stored(ctx, user) == before
    assert check(ctx, user, device.steps_off(0).code()).ok


def test_refused_codes_teach_no_drift(ctx, clock):
    user = add_user(ctx)
    device = Device(clock)
    enrol_hardware(ctx, user, device)
    before = stored(ctx, user)
    # a replay found one step behind, and a wrong code, change nothing
    assert check(ctx, user, device.steps_off(-1).code()).verdict.match is Match.REPLAY
    assert check(ctx, user, "000000").verdict.match is not Match.ACCEPTED
    assert stored(ctx, user) == before


def test_an_app_does_not_learn_drift(ctx, clock):
    user = add_user(ctx)
    device = Device(clock)
    enrol_app(ctx, clock, user)
    clock.advance(days=7)
    accepted = check(ctx, user, device.steps_off(1).code())
    assert accepted.ok
    assert accepted.verdict.offset == 1
    assert stored(ctx, user).drift == 0
    # so a phone two steps off a week later gets the clock hint, not a login
    clock.advance(days=7)
    off = check(ctx, user, device.steps_off(2).code())
    assert off.verdict.match is Match.CLOCK_OFF
    assert "clock" in off.message
    assert stored(ctx, user).drift == 0


def test_a_user_without_two_factor_has_no_right_code(ctx, clock):
    user = add_user(ctx)
    result = CodeChecker(ctx, user).check(Device(clock).code())
    assert not result.ok
    assert result.verdict.match is Match.WRONG


# --- recovery codes -----------------------------------------------------------------


def test_recovery_codes_work_once_each(ctx, clock):
    user = add_user(ctx)
    codes = enrol_app(ctx, clock, user)
    for used, code in enumerate(codes, start=1):
        assert mfa.use_recovery_code(ctx, user, code) == 10 - used
        assert mfa.use_recovery_code(ctx, user, code) is None
        next_request(ctx)
    assert recovery_codes.remaining(ctx, user) == 0
    used_events = list(reversed(audit.events(ctx, event=Event.RECOVERY_CODE_USED)))
    assert [e.details["remaining"] for e in used_events] == list(range(9, -1, -1))
    assert all(e.target_id == user.id for e in used_events)


def test_a_spent_recovery_code_records_when(ctx, clock):
    user = add_user(ctx)
    codes = enrol_app(ctx, clock, user)
    clock.advance(hours=2)
    mfa.use_recovery_code(ctx, user, codes[3])
    next_request(ctx)
    used = [row for row in code_rows(ctx, user) if row.used_at is not None]
    assert [(row.code_digest, row.used_at) for row in used] == [(digest(codes[3]), clock())]


def _typed_forms(code: str) -> list[str]:
    bare = code.replace("-", "")
    return [
        code.lower(),
        bare,
        bare.lower(),
        " ".join(code.split("-")),
        f"  {code}\t",
        "-".join(bare[i : i + 2] for i in range(0, 16, 2)),
    ]


@pytest.mark.parametrize("form", range(6))
def test_recovery_codes_as_people_type_them(ctx, clock, form):
    user = add_user(ctx)
    codes = enrol_app(ctx, clock, user)
    typed = _typed_forms(codes[0])[form]
    assert mfa.use_recovery_code(ctx, user, typed) == 9
    assert mfa.use_recovery_code(ctx, user, codes[0]) is None


def test_recovery_codes_read_o_as_zero_and_i_l_as_one(ctx, clock):
    user = add_user(ctx)
    codes = enrol_app(ctx, clock, user)
    # 160 random characters: one with a 0 or 1 in it is all but certain, but be sure
    while not any(set(code) & {"0", "1"} for code in codes):
        codes = mfa.regenerate_recovery_codes(ctx, user)
    code = next(code for code in codes if set(code) & {"0", "1"})
    misread = code.replace("0", "o").replace("1", "l")
    assert misread != code
    assert mfa.use_recovery_code(ctx, user, misread) == 9
    other = next((c for c in codes if c != code and set(c) & {"0", "1"}), None)
    if other is not None:
        assert mfa.use_recovery_code(ctx, user, other.replace("0", "O").replace("1", "I")) == 8


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("abcd-efgh-jkmn-pqrs", "ABCDEFGHJKMNPQRS"),
        ("ABCD EFGH JKMN PQRS", "ABCDEFGHJKMNPQRS"),
        ("oOiI-lL01-2345-6789", "0011110123456789"),
        ("VWXY-Z000-0000-0000", "VWXYZ00000000000"),
    ],
)
def test_normalise_recovery_codes(typed, normalised):
    assert recovery_codes.normalise(typed) == normalised
    assert recovery_codes.looks_like_recovery_code(typed)


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "123456",
        "ABCD-EFGH-JKMN-PQR",  # 15
        "ABCD-EFGH-JKMN-PQRST",  # 17
        "ABCD-EFGH-JKMN-PQRU",  # U is not in Crockford's alphabet
        "ABCD-EFGH-JKMN-PQR!",
        "ABCD_EFGH_JKMN_PQRS",
    ],
)
def test_what_cannot_be_a_recovery_code(typed):
    assert recovery_codes.normalise(typed) is None
    assert not recovery_codes.looks_like_recovery_code(typed)


def test_unknown_and_malformed_recovery_codes_are_refused(ctx, clock):
    user = add_user(ctx)
    enrol_app(ctx, clock, user)
    for typed in ("", "0000-0000-0000-0000", "not a code", Device(clock).code()):
        assert mfa.use_recovery_code(ctx, user, typed) is None
    assert recovery_codes.remaining(ctx, user) == 10
    assert audit.events(ctx, event=Event.RECOVERY_CODE_USED) == []


def test_one_users_recovery_code_does_not_work_for_another(ctx, clock):
    alice = add_user(ctx)
    bob = add_user(ctx, "bob")
    enrol_app(ctx, clock, alice)
    bobs = enrol_app(ctx, clock, bob, OTHER_SECRET)
    assert mfa.use_recovery_code(ctx, alice, bobs[0]) is None
    assert mfa.use_recovery_code(ctx, bob, bobs[0]) == 9


def test_regenerating_recovery_codes_voids_the_old_ones(ctx, clock):
    user = add_user(ctx)
    old = enrol_app(ctx, clock, user)
    mfa.use_recovery_code(ctx, user, old[0])
    new = mfa.regenerate_recovery_codes(ctx, user)
    next_request(ctx)
    assert len(new) == 10
    assert not set(new) & set(old)
    assert recovery_codes.remaining(ctx, user) == 10
    assert len(code_rows(ctx, user)) == 10
    for code in old[1:]:
        assert mfa.use_recovery_code(ctx, user, code) is None
    assert mfa.use_recovery_code(ctx, user, new[0]) == 9
    [regenerated] = audit.events(ctx, event=Event.RECOVERY_CODES_REGENERATED)
    assert regenerated.target_id == user.id


def test_regenerating_recovery_codes_needs_two_factor(ctx):
    user = add_user(ctx)
    with pytest.raises(TwoFactorError):
        mfa.regenerate_recovery_codes(ctx, user)
    assert code_rows(ctx) == []


# --- removal ------------------------------------------------------------------------


def test_remove_deletes_credential_and_codes_and_ends_sessions(ctx, clock):
    user = add_user(ctx)
    bob = add_user(ctx, "bob")
    codes = enrol_app(ctx, clock, user)
    bobs_codes = enrol_app(ctx, clock, bob, OTHER_SECRET)
    for _ in range(3):
        sessions.create_session(ctx, user=user)
    _, bobs_session = sessions.create_session(ctx, user=bob)
    next_request(ctx)

    mfa.remove(ctx, user)
    next_request(ctx)
    assert user.two_factor_enabled_at is None
    assert not user.has_two_factor
    assert stored(ctx, user) is None
    assert code_rows(ctx, user) == []
    assert ctx.db.scalars(select(WebSession.id)).all() == [bobs_session.id]
    [removed] = audit.events(ctx, event=Event.TWO_FACTOR_REMOVED)
    assert removed.target_id == user.id
    assert removed.details == {"by": "administrator"}
    # nothing of it works any more; bob's is untouched
    clock.advance(minutes=1)
    assert not CodeChecker(ctx, user).check(Device(clock).code()).ok
    assert mfa.use_recovery_code(ctx, user, codes[0]) is None
    assert bob.has_two_factor
    assert mfa.use_recovery_code(ctx, bob, bobs_codes[0]) == 9


def test_remove_by_the_user_themself_keeps_their_current_session(ctx, clock):
    user = add_user(ctx)
    enrol_app(ctx, clock, user)
    _, current = sessions.create_session(ctx, user=user)
    sessions.create_session(ctx, user=user)
    mfa.remove(ctx.acting_as(user.id, user.username), user, keep_session_id=current.id)
    next_request(ctx)
    assert ctx.db.scalars(select(WebSession.id)).all() == [current.id]
    [removed] = audit.events(ctx, event=Event.TWO_FACTOR_REMOVED)
    assert removed.details == {"by": "self"}
    assert removed.actor_id == user.id


def test_remove_by_another_administrator_says_so(ctx, clock):
    admin = add_user(ctx, "root", is_admin=True)
    user = add_user(ctx)
    enrol_app(ctx, clock, user)
    mfa.remove(ctx.acting_as(admin.id, admin.username), user)
    [removed] = audit.events(ctx, event=Event.TWO_FACTOR_REMOVED)
    assert removed.details == {"by": "administrator"}
    assert removed.actor_id == admin.id


def test_remove_without_two_factor_is_refused(ctx):
    user = add_user(ctx)
    with pytest.raises(TwoFactorError):
        mfa.remove(ctx, user)
    assert audit.events(ctx, event=Event.TWO_FACTOR_REMOVED) == []


def test_after_removal_the_user_can_enrol_again(ctx, clock):
    user = add_user(ctx)
    enrol_app(ctx, clock, user)
    mfa.remove(ctx, user)
    next_request(ctx)
    clock.advance(minutes=1)
    codes = enrol_app(ctx, clock, user, OTHER_SECRET)
    assert stored(ctx, user).secret == OTHER_SECRET
    assert len(code_rows(ctx, user)) == 10
    assert mfa.use_recovery_code(ctx, user, codes[0]) == 9


# --- policy and required actions -------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "is_admin", "required"),
    [
        ("none", False, False),
        ("none", True, False),
        ("admins", False, False),
        ("admins", True, True),
        ("all", False, True),
        ("all", True, True),
    ],
)
def test_required_for_each_policy(ctx, policy, is_admin, required):
    ctx = with_settings(ctx, mfa_required_for=policy)
    user = add_user(ctx, is_admin=is_admin)
    assert mfa.required_for(ctx.settings, user) is required
    expected = Action.SET_UP_TWO_FACTOR if required else None
    assert next_action(ctx.settings, ctx.clock, user) is expected


def test_default_policy_is_admins(ctx):
    assert ctx.settings.mfa_required_for == "admins"
    assert mfa.required_for(ctx.settings, add_user(ctx, "root", is_admin=True))
    assert not mfa.required_for(ctx.settings, add_user(ctx))


def test_setting_up_two_factor_comes_after_password_and_terms(ctx, clock):
    ctx = with_settings(ctx, mfa_required_for="all", terms_revision="2026-01")
    user = add_user(ctx, must_change_password=True)
    assert next_action(ctx.settings, clock, user) is Action.CHANGE_PASSWORD
    user.must_change_password = False
    assert next_action(ctx.settings, clock, user) is Action.AGREE_TERMS
    terms.agree_terms(ctx, user)
    assert next_action(ctx.settings, clock, user) is Action.SET_UP_TWO_FACTOR
    enrol_app(ctx, clock, user)
    assert next_action(ctx.settings, clock, user) is None
    # removed by an administrator: owed again
    mfa.remove(ctx, user)
    assert next_action(ctx.settings, clock, user) is Action.SET_UP_TWO_FACTOR


def test_two_factor_set_up_does_not_excuse_other_actions(ctx, clock):
    ctx = with_settings(ctx, mfa_required_for="all", terms_revision="2026-01")
    user = add_user(ctx, must_change_password=True)
    enrol_app(ctx, clock, user)
    assert next_action(ctx.settings, clock, user) is Action.CHANGE_PASSWORD
    user.must_change_password = False
    assert next_action(ctx.settings, clock, user) is Action.AGREE_TERMS


def test_action_order_is_the_enum_order():
    assert list(Action) == [
        Action.CHANGE_PASSWORD,
        Action.AGREE_TERMS,
        Action.SET_UP_TWO_FACTOR,
    ]


# --- messages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "period", "minutes"),
    [(2, 30, "about 1 minute "), (-4, 30, "about 2 minutes"), (2, 60, "about 2 minutes")],
)
def test_clock_hint_says_roughly_how_far_off(offset, period, minutes):
    message = mfa.code_message(Verdict(Match.CLOCK_OFF, 1000, offset), period)
    assert minutes in message
