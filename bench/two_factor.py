"""Benchmark: what two-factor authentication (TOTP) costs per code and per login.

Same process, same WSGI harness as ``authenticated_view.py`` (imported from it: a
prepared environ, a minimal ``start_response``, a cookie-jar browser; no WebTest).
For each database (a temporary SQLite file always; PostgreSQL when
``--database-url`` or ``CAMAUTH_BENCH_DATABASE_URL`` names a server) it prints:

1. a bare Pyramid "hello" app, µs per request: the base of every ratio;
2. checking a code in the service, µs per call: ``CodeChecker(ctx, user).check``
   with a right code (the credential loaded, one HMAC, the conditional UPDATE that
   uses the step up; rolled back, untimed, so the next call is no replay) and with
   a wrong code (the worst case: 21 HMACs, the window and the clock-hint search),
   and ``totp.check_code`` alone (pure, no database) for both;
3. the login's second step over WSGI: POST /login/two-factor with a right code
   (each sample a fresh browser: GET /login, POST /login with the password -> 303
   to /login/two-factor, GET of that page, then the timed POST of the code -> 303
   to /), medians in ms and the ratio to bare; the whole login of a two-factor
   user (password POST + code POST) against a password login of a user without
   two-factor, interleaved, so that what the second factor adds is visible;
4. camauth's home page for a logged-in user with two-factor (app with
   ``mfa.required_for = all``, so the required-actions gate runs its check) and for
   one without (the default policy, ``admins``), µs per request and the ratio to
   bare; the gate must not cost a query.

camauth runs with its production defaults (argon2id m=19456 KiB, t=2, p=1; real
clock; 60 s touch interval) except lockout thresholds so high that they never
trigger. Codes for the WSGI logins come from ``pyotp.TOTP(secret).now()``. A time
step can be used once per user, so every two-factor login is a different user,
all created (argon2 hashes) and enrolled before anything is timed; they enrol at a
moment ten minutes back, so that the step now is not used up.

PostgreSQL: the bench never touches the database in the URL; it connects to that
server, creates a database ``camauth_bench_two_factor`` (dropping a stale one),
migrates it, and drops it at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import platform
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pyotp
import sqlalchemy
from pyramid.router import Router

from camauth.clock import FakeClock, utcnow
from camauth.services import mfa, totp
from camauth.services.accounts import create_user, find_user
from camauth.services.context import Context
from camauth.services.totp import Match, TotpParameters

sys.path.insert(0, str(Path(__file__).parent))
import authenticated_view as harness

TWO_FACTOR_DATABASE = "camauth_bench_two_factor"
PLAIN_USER = "bench-plain"  # no two-factor
SERVICE_USER = "bench-mfa-service"  # two-factor, for the service-level checks
HOME_USER = "bench-mfa-home"  # two-factor, logged in for the GET / figures
LOGIN_USER = "bench-mfa-{}"  # two-factor, one per timed login
CODE_PAGE = "/login/two-factor"
ENROLLED_AGO = timedelta(minutes=10)
CHUNKS = 10  # the GET / requests of a repeat, in this many chunks per app


# --- set-up ------------------------------------------------------------------------------


def two_factor_apps(url: str) -> tuple[Router, Router]:
    """Two apps on the same database with the same secret (a session cookie of one is
    valid in the other): the default policy (``mfa.required_for = admins``) and
    ``all``."""
    common = {
        "camauth.secret": secrets.token_urlsafe(32),
        # links in mails are built from it (none is sent here); required with SMTP
        "camauth.public_url": f"https://{harness.HOST}",
    }
    default = harness.camauth_app(url, **common)
    required = harness.camauth_app(url, **common, **{"camauth.mfa.required_for": "all"})
    return default, required


def add_users(app: Router, password: str, logins: int) -> dict[str, str]:
    """The plain user, and the two-factor users with their secrets (an authenticator
    app each, enrolled through ``mfa.enrol_app`` ten minutes ago)."""
    ctx = harness.app_context(app)
    earlier = dataclasses.replace(ctx, clock=FakeClock(utcnow() - ENROLLED_AGO))
    secrets_of: dict[str, str] = {}
    try:
        create_user(ctx, PLAIN_USER, password=password)
        names = [SERVICE_USER, HOME_USER] + [LOGIN_USER.format(i) for i in range(logins)]
        for name in names:
            user = create_user(ctx, name, password=password)
            secret = totp.new_secret()
            params = TotpParameters(secret)
            code = params.code_at(params.step_at(earlier.clock()))
            mfa.enrol_app(earlier, user, secret, code)
            secrets_of[name] = secret
        ctx.db.commit()
    finally:
        ctx.db.close()
    return secrets_of


def location_of(reply: harness.Reply) -> str:
    location = dict((k.lower(), v) for k, v in reply.headers).get("location", "")
    return location.removeprefix(f"https://{harness.HOST}")


def expect_redirect(reply: harness.Reply, to: str, what: str) -> None:
    if not reply.status.startswith("303") or location_of(reply) != to:
        raise SystemExit(
            f"bench: {what}: expected 303 to {to}, got {reply.status} to {location_of(reply)!r}"
        )


def code_form(csrf_token: str, code: str) -> list[tuple[str, str]]:
    return [
        ("_charset_", "UTF-8"),
        ("__formid__", "two-factor"),
        ("csrf_token", csrf_token),
        ("code", code),
        ("submit", "submit"),
    ]


def password_step(
    app: Router, username: str, password: str
) -> tuple[harness.Browser, float, harness.Reply]:
    """A fresh browser GETs /login (untimed) and posts the password (timed)."""
    browser = harness.Browser(app)
    page = browser.request("GET", "/login")
    harness.expect(page, 200, "GET /login")
    form = harness.login_form(harness.csrf_token_in(page.body), username, password)
    elapsed, reply = harness.timed_ms(app, browser.environ("POST", "/login", form))
    return browser, elapsed, browser.keep_cookies(reply)


def code_step(app: Router, browser: harness.Browser, secret: str) -> tuple[float, harness.Reply]:
    """GET the code page (untimed) and post the code it shows now (timed)."""
    page = browser.request("GET", CODE_PAGE)
    harness.expect(page, 200, f"GET {CODE_PAGE}", 'name="code"')
    form = code_form(harness.csrf_token_in(page.body), pyotp.TOTP(secret).now())
    elapsed, reply = harness.timed_ms(app, browser.environ("POST", CODE_PAGE, form))
    return elapsed, browser.keep_cookies(reply)


def log_in_two_factor(
    app: Router, username: str, password: str, secret: str
) -> tuple[harness.Browser, float, float]:
    """A whole two-factor login, checked; returns the browser and the two POSTs' ms."""
    browser, password_ms, reply = password_step(app, username, password)
    expect_redirect(reply, CODE_PAGE, "login POST of a two-factor user")
    if "__Host-camauth_session" not in browser.cookies:
        raise SystemExit("bench: no session cookie after the password step")
    code_ms, reply = code_step(app, browser, secret)
    expect_redirect(reply, "/", f"POST {CODE_PAGE} with a right code")
    return browser, password_ms, code_ms


def signed_in(browser: harness.Browser, what: str) -> harness.Reply:
    home = browser.request("GET", "/account")  # the account centre: a Log out form
    harness.expect(home, 200, what, "Signed in as")
    return home


def log_out(browser: harness.Browser, home: harness.Reply) -> None:
    logout = [("csrf_token", harness.csrf_token_in(home.body))]
    harness.expect(browser.request("POST", "/logout", logout), 303, "logout")


# --- 2. code checks in the service -------------------------------------------------------


@dataclass
class ServiceFigures:
    right_us: list[float] = field(default_factory=list)
    wrong_us: list[float] = field(default_factory=list)
    pure_right_us: float = 0.0
    pure_wrong_us: float = 0.0
    hmacs_right: int = 0  # codes computed (one HMAC each) to judge the right code
    hmacs_wrong: int = 0


def wrong_code_for(params: TotpParameters, step: int) -> str:
    """A code that matches none of the steps ``check_code`` tries (the worst case)."""
    near = {params.code_at(step + offset) for offset in range(-11, 12)}
    for candidate in range(1_000_000):
        code = f"{candidate:06d}"
        if code not in near:
            return code
    raise AssertionError("unreachable")


def hmacs_to_judge(params: TotpParameters, code: str, now: datetime, last_step: int) -> int:
    """How many codes (one HMAC each) ``check_code`` computes to judge ``code``."""
    computed = 0
    code_at = TotpParameters.code_at

    def counted(self: TotpParameters, step: int) -> str:
        nonlocal computed
        computed += 1
        return code_at(self, step)

    TotpParameters.code_at = counted  # type: ignore[method-assign]
    try:
        totp.check_code(params, code, now, last_step=last_step)
    finally:
        TotpParameters.code_at = code_at  # type: ignore[method-assign]
    return computed


def pure_us(call: Callable[[], Any], calls: int, repeats: int) -> float:
    """Best of ``repeats`` means over ``calls`` calls, µs per call."""
    best = float("inf")
    gc.collect()
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - start) / calls * 1e6)
    return best


def measure_service(app: Router, calls: int, repeats: int) -> ServiceFigures:
    """``CodeChecker(ctx, user).check`` as ``second_factor`` calls it, on a clock that
    stands still (so the right code stays right); after each call the transaction is
    rolled back and the user re-read (untimed), so the step is never used up."""
    clock = FakeClock(utcnow())
    ctx: Context = dataclasses.replace(harness.app_context(app), clock=clock)
    figures = ServiceFigures()
    try:
        user = find_user(ctx, SERVICE_USER)
        assert user is not None
        credential = mfa.credential_of(ctx, user)
        assert credential is not None
        params = mfa.parameters(credential)
        step = params.step_at(clock())
        right = params.code_at(step)
        wrong = wrong_code_for(params, step)

        def checked(code: str) -> tuple[float, mfa.CodeCheck]:
            start = time.perf_counter()
            result = mfa.CodeChecker(ctx, user).check(code)
            elapsed = (time.perf_counter() - start) * 1e6
            ctx.db.rollback()
            _ = user.id  # re-read the expired user, untimed
            return elapsed, result

        # the checks the figures depend on
        if not checked(right)[1].ok:
            raise SystemExit("bench: CodeChecker refused the right code")
        if checked(wrong)[1].verdict.match is not Match.WRONG:
            raise SystemExit("bench: CodeChecker did not judge the wrong code wrong")
        verdict = totp.check_code(params, right, clock(), last_step=credential.last_step)
        if verdict.match is not Match.ACCEPTED or verdict.offset != 0:
            raise SystemExit(f"bench: check_code judged the right code {verdict}")
        if totp.check_code(params, wrong, clock()).match is not Match.WRONG:
            raise SystemExit("bench: check_code did not judge the wrong code wrong")
        figures.hmacs_right = hmacs_to_judge(params, right, clock(), credential.last_step)
        figures.hmacs_wrong = hmacs_to_judge(params, wrong, clock(), credential.last_step)

        gc.collect()
        for index in range(calls + 1):  # interleaved; the first round warms up
            order = [(right, figures.right_us), (wrong, figures.wrong_us)]
            for code, into in order if index % 2 else order[::-1]:
                elapsed, result = checked(code)
                if result.ok != (code == right):
                    raise SystemExit(f"bench: CodeChecker answered {result.verdict}")
                if index:
                    into.append(elapsed)

        last_step = credential.last_step
        now = clock()
        figures.pure_right_us = pure_us(
            lambda: totp.check_code(params, right, now, last_step=last_step), calls * 10, repeats
        )
        figures.pure_wrong_us = pure_us(
            lambda: totp.check_code(params, wrong, now, last_step=last_step), calls, repeats
        )

        # and a used code is refused: the rollbacks above did not hide a used-up step
        first = mfa.CodeChecker(ctx, user).check(right)
        ctx.db.commit()
        again = mfa.CodeChecker(ctx, user).check(right)
        ctx.db.rollback()
        if not first.ok or again.verdict.match is not Match.REPLAY:
            raise SystemExit("bench: a right code used twice was not refused as a replay")
    finally:
        ctx.db.close()
    return figures


# --- 3. the login over WSGI --------------------------------------------------------------


@dataclass
class LoginFigures:
    password_ms: list[float] = field(default_factory=list)  # two-factor user, step 1
    code_ms: list[float] = field(default_factory=list)  # two-factor user, step 2
    plain_ms: list[float] = field(default_factory=list)  # user without two-factor

    @property
    def whole_ms(self) -> list[float]:
        return [p + c for p, c in zip(self.password_ms, self.code_ms, strict=True)]


def measure_logins(
    required: Router, default: Router, password: str, secrets_of: dict[str, str], samples: int
) -> LoginFigures:
    """Round ``i`` logs in two-factor user ``i`` on the ``all`` app and the plain user on
    the default app (each from a fresh browser, ABBA order), then checks the home page
    and logs out (untimed). The first round warms up."""
    figures = LoginFigures()
    gc.collect()
    for index in range(samples + 1):
        for two_factor in (True, False) if index % 2 else (False, True):
            if two_factor:
                username = LOGIN_USER.format(index)
                browser, password_ms, code_ms = log_in_two_factor(
                    required, username, password, secrets_of[username]
                )
                log_out(browser, signed_in(browser, "GET / after the two-factor login"))
                if index:
                    figures.password_ms.append(password_ms)
                    figures.code_ms.append(code_ms)
            else:
                browser, elapsed, reply = password_step(default, PLAIN_USER, password)
                expect_redirect(reply, "/", "login POST of a user without two-factor")
                log_out(browser, signed_in(browser, "GET / after the password login"))
                if index:
                    figures.plain_ms.append(elapsed)
    return figures


# --- 4. GET / with and without two-factor ------------------------------------------------


@dataclass
class HomeFigures:
    bare_us: float
    plain_us: float
    two_factor_us: float
    paired_us: list[float]  # two-factor - plain, per pair of chunks run back to back
    plain_sql: int
    two_factor_sql: int
    touched: bool
    dialect: str


def sql_per_request(app: Router, home: dict[str, Any], what: str) -> int:
    """Checks the page, that 10 requests write nothing; returns statements per request."""
    harness.expect(harness.call(app, home.copy()), 200, what, "Signed in as")
    engine = app.registry["camauth.engine"]
    with harness.statements_of(engine) as statements:
        for _ in range(10):
            harness.run_app(app, home.copy())
    writes = [s for s in statements if s.upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    if writes:
        raise SystemExit(f"bench: {what} wrote to the database: {writes[:1]}")
    if len(statements) % 10:
        raise SystemExit(f"bench: {what}: {len(statements)} statements in 10 requests")
    return len(statements) // 10


def measure_home(
    required: Router,
    default: Router,
    password: str,
    secrets_of: dict[str, str],
    iterations: int,
    repeats: int,
) -> HomeFigures:
    two_factor, _, _ = log_in_two_factor(required, HOME_USER, password, secrets_of[HOME_USER])
    plain, _, reply = password_step(default, PLAIN_USER, password)
    expect_redirect(reply, "/", "login POST of a user without two-factor")
    two_factor_home = two_factor.environ("GET", harness.HOME)
    plain_home = plain.environ("GET", harness.HOME)

    # the gate is on: with mfa.required_for = all, the plain user is sent to set it up
    gated = harness.call(required, plain_home.copy())
    if not gated.status.startswith("30") or not location_of(gated).startswith(
        "/account/two-factor"
    ):
        raise SystemExit(
            f"bench: mfa.required_for=all, yet GET / for a user without two-factor answered "
            f"{gated.status} {location_of(gated)!r}"
        )
    two_factor_sql = sql_per_request(required, two_factor_home, "GET / (two-factor user)")
    plain_sql = sql_per_request(default, plain_home, "GET / (user without two-factor)")
    if two_factor_sql > plain_sql:
        raise SystemExit(
            f"bench: GET / for the two-factor user runs {two_factor_sql} statements, "
            f"{plain_sql} without two-factor: the gate costs a query"
        )
    token = two_factor.cookies["__Host-camauth_session"]
    seen_before = harness.last_seen(required, token)

    bare = harness.bare_app()
    hello = harness.make_environ("GET", "/", dict(two_factor.cookies))
    apps: list[tuple[Callable[..., Any], dict[str, Any]]] = [
        (bare, hello),
        (default, plain_home),
        (required, two_factor_home),
    ]
    for app, environ in apps:
        harness.per_request_us(app, environ, max(iterations // 10, 10))
    bare_us = plain_us = two_factor_us = float("inf")
    paired: list[float] = []
    chunk = max(iterations // CHUNKS, 1)
    for _ in range(repeats):
        bare_us = min(bare_us, harness.per_request_us(bare, hello, iterations * 10))
        # in chunks, back to back and each first in turn, so load from elsewhere hits both
        plain_chunks: list[float] = []
        two_factor_chunks: list[float] = []
        for index in range(CHUNKS):
            pair = [
                (plain_chunks, default, plain_home),
                (two_factor_chunks, required, two_factor_home),
            ]
            for into, app, environ in pair if index % 2 else pair[::-1]:
                into.append(harness.per_request_us(app, environ, chunk))
        plain_us = min(plain_us, statistics.fmean(plain_chunks))
        two_factor_us = min(two_factor_us, statistics.fmean(two_factor_chunks))
        paired.extend(t - p for t, p in zip(two_factor_chunks, plain_chunks, strict=True))
    touched = harness.last_seen(required, token) != seen_before
    dialect = required.registry["camauth.engine"].dialect.name
    return HomeFigures(
        bare_us, plain_us, two_factor_us, paired, plain_sql, two_factor_sql, touched, dialect
    )


# --- report -----------------------------------------------------------------------------


def iqr(values: list[float], unit: str = "", digits: int = 2) -> str:
    q1, _, q3 = statistics.quantiles(values, n=4)
    return f"IQR {q1:.{digits}f}-{q3:.{digits}f}{unit}"


def report_service(service: ServiceFigures, bare_us: float, calls: int, repeats: int) -> None:
    right = statistics.median(service.right_us)
    wrong = statistics.median(service.wrong_us)
    print(
        "  code check in the service: CodeChecker(ctx, user).check as second_factor calls it, "
        f"clock\n    standing still, medians of {calls}, interleaved; rolled back after each "
        "call (untimed)"
    )
    pure_right, pure_wrong = service.pure_right_us, service.pure_wrong_us
    hr, hw = service.hmacs_right, service.hmacs_wrong
    print(f"    {'':37}{'µs/call':>9}  {'ratio':>10}")
    rows = [
        (f"right code (SELECT, {hr} HMAC, UPDATE)", right, iqr(service.right_us, " µs", 1)),
        (f"wrong code (SELECT, {hw} HMACs)", wrong, iqr(service.wrong_us, " µs", 1)),
        ("totp.check_code alone, right", pure_right, f"best of {repeats} x {calls * 10}"),
        (
            "totp.check_code alone, wrong",
            pure_wrong,
            f"best of {repeats} x {calls}; {pure_wrong / hw:.1f} µs per step tried",
        ),
    ]
    for label, us, note in rows:
        print(f"    {label:<37}{us:9.1f}  {us / bare_us:6.1f}x bare   {note}")
    print("    checked: right accepted at offset 0, wrong judged wrong, a used step refused")


def report_logins(logins: LoginFigures, bare_us: float) -> None:
    n = len(logins.code_ms)
    print(f"  login over WSGI (fresh browser each, URL-encoded, CSRF), medians of {n}, interleaved")
    print(f"    {'':36}{'ms':>8}  {'ratio':>10}   {'quartiles':<16} answer")
    rows = [
        (f"POST {CODE_PAGE}, right code", logins.code_ms, "303 /"),
        ("POST /login, two-factor user", logins.password_ms, f"303 {CODE_PAGE}"),
        ("whole two-factor login (the sum)", logins.whole_ms, ""),
        ("POST /login, user without two-factor", logins.plain_ms, "303 /"),
    ]
    for label, values, answer in rows:
        ms = statistics.median(values)
        q1, _, q3 = statistics.quantiles(values, n=4)
        print(
            f"    {label:<36}{ms:8.2f}  {ms * 1e3 / bare_us:6.0f}x bare   "
            f"{f'{q1:.2f}-{q3:.2f}':<16} {answer}".rstrip()
        )
    whole = statistics.median(logins.whole_ms)
    plain = statistics.median(logins.plain_ms)
    print(
        f"    {'two-factor login - password login':<36}{whole - plain:+8.2f}  "
        f"({whole / plain:.2f}x the password login)"
    )
    print(
        "    checked: each login ends on GET / 200 'Signed in as'; a new two-factor user per "
        "login\n    (a step works once); code from pyotp.TOTP(secret).now(), real clock"
    )


def report_home(home: HomeFigures, iterations: int, repeats: int) -> None:
    bare = home.bare_us
    print(f"  GET / (logged in), best of {repeats} x {iterations}, the two apps in chunks")
    rows = [
        ("without two-factor (required_for=admins)", home.plain_us, home.plain_sql),
        ("with two-factor (required_for=all)", home.two_factor_us, home.two_factor_sql),
    ]
    for label, us, sql in rows:
        print(f"    {label:<42}{us:8.1f} µs  {us / bare:5.1f}x bare   SQL/request: {sql}")
    paired = statistics.median(home.paired_us)
    q1, _, q3 = statistics.quantiles(home.paired_us, n=4)
    print(
        f"    {'difference, with - without':<42}{paired:+8.1f} µs  "
        f"({paired / home.plain_us * 100:+.1f}%; median of {len(home.paired_us)} pairs of "
        f"chunks, IQR {q1:+.1f} to {q3:+.1f})"
    )
    print(
        "    checked: 200 'Signed in as', no writes, no extra query for the gate; with "
        "required_for=all\n    a user without two-factor is sent to /account/two-factor"
    )
    if home.dialect != "sqlite":
        print(
            "    SQL counted via SQLAlchemy: an ORM query (a lazy load for the gate) is seen, "
            "the raw\n    DB-API session lookup is not (SQLite's trace sees it: 1 statement)"
        )
    if home.touched:
        print("    note: the session's last_seen_at was touched once (the run passed 60 s)")


def bench_database(label: str, url: str, args: argparse.Namespace) -> None:
    print(f"\n== {label} ==")
    password = "bench " + secrets.token_urlsafe(18)
    default, required = two_factor_apps(url)
    try:
        settings = required.registry["camauth.settings"]
        print(
            f"  argon2id m={settings.password_argon2_memory_kib} KiB, "
            f"t={settings.password_argon2_time_cost}, p={settings.password_argon2_parallelism}; "
            f"touch interval {settings.session_touch_interval_seconds} s; TOTP 6 digits, "
            f"30 s, SHA-1, window ±{totp.WINDOW}, clock hint ±{totp.HINT_STEPS}"
        )
        start = time.perf_counter()
        secrets_of = add_users(required, password, args.login_samples + 1)
        print(
            f"  set-up: {len(secrets_of)} two-factor users and 1 without, created and "
            f"enrolled in {time.perf_counter() - start:.1f} s (untimed)"
        )
        home = measure_home(required, default, password, secrets_of, args.iterations, args.repeats)
        print(f"  bare Pyramid 'hello'  {home.bare_us:8.1f} µs/request   (the base of every ratio)")
        if args.code_calls:
            service = measure_service(required, args.code_calls, args.repeats)
            report_service(service, home.bare_us, args.code_calls, args.repeats)
        if args.login_samples:
            logins = measure_logins(required, default, password, secrets_of, args.login_samples)
            report_logins(logins, home.bare_us)
        report_home(home, args.iterations, args.repeats)
    finally:
        default.registry["camauth.engine"].dispose()
        required.registry["camauth.engine"].dispose()


def parse_args() -> argparse.Namespace:
    parser = harness.common_arguments(__doc__.splitlines()[0], TWO_FACTOR_DATABASE, repeats=5)
    parser.add_argument(
        "--code-calls", type=int, default=500, help="service code checks per kind (0: skip)"
    )
    parser.add_argument(
        "--login-samples",
        type=int,
        default=21,
        help="two-factor and password logins timed (0: skip); one user each",
    )
    return parser.parse_args()


def installed(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def main() -> None:
    args = parse_args()
    print(
        f"camauth two-factor bench: {platform.platform()}, {os.cpu_count()} CPU(s); "
        f"Python {platform.python_version()}, Pyramid {version('pyramid')}, "
        f"SQLAlchemy {sqlalchemy.__version__}, pyotp {version('pyotp')}, "
        f"argon2-cffi {version('argon2-cffi')}, psycopg {installed('psycopg')}"
    )
    print("  figures are noisy when other jobs share the machine: compare ratios, run twice")
    harness.on_each_database(args, TWO_FACTOR_DATABASE, bench_database)


if __name__ == "__main__":
    main()
