"""``camauth CONFIG_URI add-token USERNAME`` and ``remove-two-factor USERNAME``
(PRODUCT §8, §13): hardware tokens enrolled from the command line, on both databases.

The command line runs on the real clock (``camauth.clock.utcnow``). So that a test
cannot straddle a time step between computing a code and the command checking it,
the command's clock (``camauth.cli.utcnow``) is pinned here to second 15 of the
current real minute, inside a 30- and a 60-second step alike; codes are computed with
pyotp at that moment.
"""

from __future__ import annotations

import hashlib
from base64 import b32encode
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import func, select

from camauth import cli
from camauth.clock import FakeClock
from camauth.models import RecoveryCode, TwoFactorCredential
from camauth.services import accounts, audit, mfa, sessions, totp

from ..conftest import GOOD_PASSWORD
from .conftest import one_line

# 20 bytes (160 bits): the RFC 6238 test key
HEX_SECRET = "3132333435363738393031323334353637383930"
BASE32_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # 160 bits
OTHER_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """The moment the command line sees: real time, pinned at second 15 of its minute."""
    real = datetime.now(UTC)
    moment = real.replace(second=15, microsecond=0)
    monkeypatch.setattr(cli, "utcnow", FakeClock(moment))
    return moment


def code_at(
    secret: str,
    moment: datetime,
    *,
    digits: int = 6,
    period: int = 30,
    digest=hashlib.sha1,
) -> str:
    return pyotp.TOTP(secret, digits=digits, digest=digest, interval=period).at(moment)


def make_user(service, name="alice", **kw):
    with service() as ctx:
        accounts.create_user(ctx, name, password=GOOD_PASSWORD, **kw)


def credential(service, name="alice") -> TwoFactorCredential | None:
    with service() as ctx:
        user = accounts.find_user(ctx, name)
        found = mfa.credential_of(ctx, user)
        if found is not None:
            ctx.db.expunge(found)
        return found


def has_two_factor(service, name="alice") -> bool:
    with service() as ctx:
        return accounts.find_user(ctx, name).has_two_factor


def recovery_code_count(service, name="alice") -> int:
    with service() as ctx:
        user = accounts.find_user(ctx, name)
        query = select(func.count()).where(RecoveryCode.user_id == user.id)
        return ctx.db.scalar(query) or 0


def event_rows(service, event: str) -> list:
    with service() as ctx:
        rows = list(audit.events(ctx, event=event))
        for row in rows:
            ctx.db.expunge(row)
        return rows


def live_count(service, name="alice") -> int:
    with service() as ctx:
        return len(sessions.live_sessions(ctx, accounts.find_user(ctx, name)))


def enrol_app(service, name="alice") -> list[str]:
    """The person enrolled an authenticator app themselves (with recovery codes)."""
    with service() as ctx:
        user = accounts.find_user(ctx, name)
        return mfa.enrol_app(ctx, user, OTHER_SECRET, code_at(OTHER_SECRET, ctx.clock()))


def add_token(camauth, ini, *options: str, secret: str, code: str, user: str = "alice"):
    return camauth(ini, "add-token", user, *options, stdin=f"{secret}\n{code}\n")


def assert_nothing_stored(service, name="alice") -> None:
    assert credential(service, name) is None
    assert not has_two_factor(service, name)
    assert event_rows(service, "two_factor_enrolled") == []


# --- add-token -----------------------------------------------------------------------


def test_add_a_sha1_30_second_token_typed_in_lower_case_with_spaces(ini, camauth, service, now):
    make_user(service)
    typed = " ".join(BASE32_SECRET[i : i + 4] for i in range(0, 32, 4)).lower()
    code, out, err = add_token(camauth, ini, secret=typed, code=code_at(BASE32_SECRET, now))
    assert (code, err) == (0, "")
    assert out == "Hardware token enrolled for 'alice'; their sessions were ended.\n"
    assert typed not in out and BASE32_SECRET not in out

    stored = credential(service)
    assert stored is not None
    assert (stored.kind, stored.secret) == ("hardware", BASE32_SECRET)
    assert (stored.period, stored.digits, stored.algorithm, stored.drift) == (30, 6, "sha1", 0)
    assert stored.last_step == int(now.timestamp()) // 30  # the enrolling code is used up
    assert has_two_factor(service)
    [event] = event_rows(service, "two_factor_enrolled")
    assert (event.actor_name, event.actor_id, event.target_name) == ("system", None, "alice")
    assert event.details == {
        "method": "hardware",
        "digits": 6,
        "period": 30,
        "algorithm": "sha1",
        "drift": 0,
        "replaced": False,
    }

    # the token now works at login's second step, on its next code
    with service(clock=FakeClock(now + timedelta(seconds=30))) as ctx:
        user = accounts.find_user(ctx, "alice")
        check = mfa.CodeChecker(ctx, user).check(code_at(BASE32_SECRET, ctx.clock()))
        assert check.ok, check.message


def test_add_a_60_second_sha256_8_digit_token_from_a_hex_secret(ini, camauth, service, now):
    make_user(service)
    base32 = b32encode(bytes.fromhex(HEX_SECRET)).decode()
    token_code = code_at(base32, now, digits=8, period=60, digest=hashlib.sha256)
    assert len(token_code) == 8
    options = ("--period", "60", "--digits", "8", "--algorithm", "sha256", "--hex")
    code, out, err = add_token(camauth, ini, *options, secret=HEX_SECRET, code=token_code)
    assert (code, err) == (0, "")
    assert "enrolled for 'alice'" in out

    stored = credential(service)
    assert stored is not None
    assert stored.secret == base32.rstrip("=")
    assert (stored.period, stored.digits, stored.algorithm, stored.drift) == (60, 8, "sha256", 0)
    assert stored.last_step == int(now.timestamp()) // 60
    [event] = event_rows(service, "two_factor_enrolled")
    assert event.details["period"] == 60
    assert event.details["algorithm"] == "sha256"

    # a SHA-1 code of the same secret and step is not this token's code
    with service(clock=FakeClock(now + timedelta(seconds=60))) as ctx:
        user = accounts.find_user(ctx, "alice")
        later = now + timedelta(seconds=60)
        sha1 = code_at(base32, later, digits=8, period=60)
        assert not mfa.CodeChecker(ctx, user).check(sha1).ok
        right = code_at(base32, later, digits=8, period=60, digest=hashlib.sha256)
        assert mfa.CodeChecker(ctx, user).check(right).ok


def test_a_token_whose_clock_is_behind_is_accepted_with_its_drift(ini, camauth, service, now):
    make_user(service)
    behind = now - timedelta(seconds=150)  # five 30-second steps
    code, out, err = add_token(
        camauth, ini, secret=BASE32_SECRET, code=code_at(BASE32_SECRET, behind)
    )
    assert (code, err) == (0, "")
    assert (
        out == "Hardware token enrolled for 'alice' (its clock is -5 steps off; that is learned);"
        " their sessions were ended.\n"
    )
    stored = credential(service)
    assert stored is not None
    assert stored.drift == -5
    assert stored.last_step == int(behind.timestamp()) // 30
    [event] = event_rows(service, "two_factor_enrolled")
    assert event.details["drift"] == -5

    # at login the token's codes are expected where its clock is
    with service(clock=FakeClock(now + timedelta(seconds=30))) as ctx:
        user = accounts.find_user(ctx, "alice")
        token_now = behind + timedelta(seconds=30)
        check = mfa.CodeChecker(ctx, user).check(code_at(BASE32_SECRET, token_now))
        assert check.ok, check.message


@pytest.mark.parametrize(
    "token_code",
    [
        pytest.param(
            lambda now: "000000" if code_at(BASE32_SECRET, now) != "000000" else "111111",
            id="wrong",
        ),
        pytest.param(
            lambda now: code_at(BASE32_SECRET, now - timedelta(seconds=11 * 30)),
            id="11-steps-behind",
        ),
        pytest.param(lambda now: code_at(OTHER_SECRET, now), id="another-secret"),
        pytest.param(lambda now: code_at(BASE32_SECRET, now, digits=8), id="eight-digits"),
        pytest.param(lambda now: "not a code", id="garbage"),
    ],
)
def test_a_wrong_code_stores_nothing(ini, camauth, service, now, token_code):
    make_user(service)
    code, out, err = add_token(camauth, ini, secret=BASE32_SECRET, code=token_code(now))
    assert code == 1
    assert out == ""
    assert one_line(err).startswith("camauth: the code does not match the secret")
    assert_nothing_stored(service)


def test_unknown_user(ini, camauth, service, now):
    make_user(service)
    code, out, err = add_token(
        camauth, ini, secret=BASE32_SECRET, code=code_at(BASE32_SECRET, now), user="nobody"
    )
    assert code == 1
    assert out == ""
    assert "no user named 'nobody'" in one_line(err)
    assert_nothing_stored(service)


def test_a_user_with_two_factor_is_refused_without_replace(ini, camauth, service, now):
    make_user(service)
    make_user(service, "bob")
    codes = enrol_app(service)
    before = credential(service)
    assert before is not None
    with service() as ctx:
        for name in ("alice", "bob"):
            sessions.create_session(ctx, user=accounts.find_user(ctx, name))

    code, out, err = add_token(camauth, ini, secret=BASE32_SECRET, code=code_at(BASE32_SECRET, now))
    assert code == 1
    assert out == ""
    assert "alice already has two-factor authentication" in one_line(err)
    kept = credential(service)
    assert kept is not None
    assert (kept.id, kept.kind, kept.secret) == (before.id, "app", OTHER_SECRET)
    assert len(codes) == recovery_code_count(service) == 10

    code, out, err = add_token(
        camauth, ini, "--replace", secret=BASE32_SECRET, code=code_at(BASE32_SECRET, now)
    )
    assert (code, err) == (0, "")
    assert "enrolled for 'alice'" in out
    # a replaced token may be lost or stolen: sessions opened with it end
    assert live_count(service) == 0
    assert live_count(service, "bob") == 1
    replaced = credential(service)
    assert replaced is not None
    assert (replaced.kind, replaced.secret, replaced.period, replaced.digits) == (
        "hardware",
        BASE32_SECRET,
        30,
        6,
    )
    with service() as ctx:
        rows = ctx.db.scalar(select(func.count()).select_from(TwoFactorCredential))
        assert rows == 1  # one credential per user
    hardware = [
        e for e in event_rows(service, "two_factor_enrolled") if e.details["method"] == "hardware"
    ]
    assert [e.details["replaced"] for e in hardware] == [True]


@pytest.mark.parametrize(
    ("secret", "options", "message"),
    [
        ("JBSWY3DPEHPK3PXP", (), "the secret must be 128 to 512 bits long, got 80"),
        ("31323334353637383930313233343536", ("--hex",), None),  # exactly 128 bits: fine
        ("313233343536373839303132333435", ("--hex",), "must be 128 to 512 bits long, got 120"),
        ("JBSWY3DPEHPK3PX1JBSWY3DPEHPK3PXP", (), "not valid base32"),
        ("3132333435363738393031323334353g", ("--hex",), "not valid hexadecimal"),
    ],
)
def test_secret_length_and_alphabet(ini, camauth, service, now, secret, options, message):
    make_user(service)
    if message is None:
        base32 = b32encode(bytes.fromhex(secret)).decode().rstrip("=")
        code, _out, err = add_token(
            camauth, ini, *options, secret=secret, code=code_at(base32, now)
        )
        assert (code, err) == (0, "")
        assert credential(service).secret == base32
        return
    code, out, err = add_token(camauth, ini, *options, secret=secret, code="123456")
    assert code == 1
    assert out == ""
    assert message in one_line(err)
    assert_nothing_stored(service)


@pytest.mark.parametrize(
    ("stdin", "missing"),
    [
        ("", "token secret"),
        (f"{BASE32_SECRET}\n", "code the token shows now"),
        (BASE32_SECRET, "code the token shows now"),  # no newline either
    ],
)
def test_standard_input_ending_early(ini, camauth, service, now, stdin, missing):
    make_user(service)
    code, out, err = camauth(ini, "add-token", "alice", stdin=stdin)
    assert code == 1
    assert out == ""
    assert one_line(err) == f"camauth: standard input ended before the {missing}\n"
    assert_nothing_stored(service)


@pytest.mark.parametrize(
    "options",
    [("--period", "45"), ("--digits", "7"), ("--algorithm", "md5")],
)
def test_unsupported_options_are_usage_errors(ini, camauth, service, now, options):
    make_user(service)
    with pytest.raises(SystemExit) as exited:
        add_token(camauth, ini, *options, secret=BASE32_SECRET, code=code_at(BASE32_SECRET, now))
    assert exited.value.code == 2
    assert_nothing_stored(service)


# --- remove-two-factor ----------------------------------------------------------------


def test_remove_two_factor(ini, camauth, service, now):
    make_user(service)
    make_user(service, "bob")
    enrol_app(service)
    enrol_app(service, "bob")
    with service() as ctx:
        for name in ("alice", "alice", "bob"):
            sessions.create_session(ctx, user=accounts.find_user(ctx, name))
    assert recovery_code_count(service) == 10
    assert live_count(service) == 2

    code, out, err = camauth(ini, "remove-two-factor", "ALICE")
    assert (code, err) == (0, "")
    assert out == "Two-factor authentication of 'alice' removed; their sessions were ended.\n"
    assert credential(service) is None
    assert not has_two_factor(service)
    assert recovery_code_count(service) == 0
    assert live_count(service) == 0
    [event] = event_rows(service, "two_factor_removed")
    assert (event.actor_name, event.target_name, event.details) == (
        "system",
        "alice",
        {"by": "administrator"},
    )
    # nobody else's two-factor or sessions were touched
    assert credential(service, "bob") is not None
    assert recovery_code_count(service, "bob") == 10
    assert live_count(service, "bob") == 1

    # and a token can be enrolled again afterwards, without --replace
    code, _out, err = add_token(
        camauth, ini, secret=BASE32_SECRET, code=code_at(BASE32_SECRET, now)
    )
    assert (code, err) == (0, "")


def test_remove_two_factor_of_a_user_without_it(ini, camauth, service, now):
    make_user(service)
    with service() as ctx:
        sessions.create_session(ctx, user=accounts.find_user(ctx, "alice"))
    code, out, err = camauth(ini, "remove-two-factor", "alice")
    assert code == 1
    assert out == ""
    assert "alice has no two-factor authentication" in one_line(err)
    assert live_count(service) == 1  # nothing was done
    assert event_rows(service, "two_factor_removed") == []


def test_remove_two_factor_of_an_unknown_user(ini, camauth, service, now):
    code, out, err = camauth(ini, "remove-two-factor", "nobody")
    assert code == 1
    assert out == ""
    assert "no user named 'nobody'" in one_line(err)


def test_list_users_shows_two_factor(ini, camauth, service, now):
    make_user(service)
    make_user(service, "bob")
    code, _out, err = add_token(
        camauth, ini, secret=BASE32_SECRET, code=code_at(BASE32_SECRET, now)
    )
    assert (code, err) == (0, "")
    code, out, err = camauth(ini, "list-users")
    assert (code, err) == (0, "")
    rows = {line.split()[0]: line.split()[3] for line in out.splitlines()[1:]}
    assert rows == {"alice": "yes", "bob": "no"}


def test_totp_module_agrees_with_pyotp(now):
    """The codes the tests compute are the product's codes (a guard on the helpers)."""
    params = totp.TotpParameters(BASE32_SECRET, 8, 60, "sha256")
    step = params.step_at(now)
    assert params.code_at(step) == code_at(
        BASE32_SECRET, now, digits=8, period=60, digest=hashlib.sha256
    )
