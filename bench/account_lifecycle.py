"""Benchmark: what recovery, the password policy and the required-actions gate cost.

Same process, same WSGI harness as ``authenticated_view.py`` (imported from it: a
prepared environ, a minimal ``start_response``; no WebTest). For each database (a
temporary SQLite file always; PostgreSQL when ``--database-url`` or
``CAMAUTH_BENCH_DATABASE_URL`` names a server) it prints:

1. a bare Pyramid "hello" app, µs per request: the base of every ratio;
2. POST /password/forgot as a browser sends it (CSRF cookie and token from a GET,
   URL-encoded form) for an existing account that has an email address and for an
   unknown username, interleaved, medians in ms, and the ratio existing / unknown
   (the answer must not tell whether the account exists: target 0.95-1.05);
3. the password policy (``check_new_password`` with default ``Settings``) for
   typical passwords, ms per check and its ratio to a bare request;
4. camauth's home page for a logged-in user with and without
   ``camauth.terms.revision`` set (the user has agreed), µs per request and the
   ratio to bare: what the required-actions gate costs on every page.

camauth runs with its production defaults (argon2id m=19456 KiB, t=2, p=1; real
clock) except: lockout thresholds and the mail limits per hour so high that they
never trigger, and mail delivered as in production, by a worker thread after the
commit, except that the worker writes ``.eml`` files into a temporary folder
(pyramid_mailer's ``DebugMailer``) instead of talking SMTP, so the bench can
check what was sent.

PostgreSQL: the bench never touches the database in the URL; it connects to that
server, creates a database ``camauth_bench_recovery`` (dropping a stale one),
migrates it, and drops it at the end.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import platform
import random
import re
import secrets
import statistics
import string
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import sqlalchemy
from pyramid.router import Router
from pyramid_mailer.mailer import DebugMailer
from pyramid_mailer.message import Message

from camauth.services.accounts import create_user, find_user
from camauth.services.password_policy import ZXCVBN_MAX, PasswordPolicyError, check_new_password
from camauth.services.required_actions import next_action
from camauth.services.terms import agree_terms
from camauth.settings import Settings
from camauth.web.mail import POSTMAN, Postman

sys.path.insert(0, str(Path(__file__).parent))
import authenticated_view as harness

RECOVERY_DATABASE = "camauth_bench_recovery"
TERMS_REVISION = "2025-01"
USERNAME = "bench-user"
EMAIL = "bench-user@mail.example"
UNKNOWN = "nobody-bench-user"
FORGOT = "/password/forgot"
CHUNKS = 10  # the GET / requests of a repeat, in this many chunks per app
SENT = FORGOT + "?sent=1"


# --- set-up ------------------------------------------------------------------------------


def lifecycle_app(url: str, secret: str, mail_directory: str, *, terms: bool) -> Router:
    settings = {
        "camauth.secret": secret,
        "camauth.mail.transport": "file",
        "camauth.mail.directory": mail_directory,
        "camauth.mail.account_limit_per_hour": harness.NEVER,
        "camauth.mail.ip_limit_per_hour": harness.NEVER,
    }
    if terms:
        settings["camauth.terms.revision"] = TERMS_REVISION
    app = harness.camauth_app(url, **settings)
    # production's shape: the request only queues the mail, a worker thread delivers
    # it (SMTP there, the same .eml files here, so the bench can check them)
    app.registry[POSTMAN] = Postman(DebugMailer(mail_directory), background=True)
    return app


def add_users(app: Router, password: str) -> None:
    """The bench user (with an email address, agreed to the terms) and one who has not
    agreed (only to check that the gate is on)."""
    ctx = harness.app_context(app)
    user = create_user(ctx, USERNAME, password=password, email=EMAIL)
    agree_terms(ctx, user, TERMS_REVISION)
    create_user(ctx, "owes-terms", password=password)
    ctx.db.commit()
    ctx.db.close()


def client_address(n: int) -> str:
    """The n-th address of 198.18.0.0/15 (RFC 2544, for benchmarks): a new client each."""
    return f"198.{18 + (n >> 16 & 1)}.{n >> 8 & 255}.{n & 255}"


def mails_in(folder: str, app: Router | None = None) -> list[Path]:
    """The mails written so far (after the app's delivery worker has caught up)."""
    if app is not None:
        app.registry[POSTMAN].wait_until_sent()
    return sorted(Path(folder).glob("*.eml"))


# --- 2. POST /password/forgot -----------------------------------------------------------


def forgot_form(csrf_token: str, login: str) -> list[tuple[str, str]]:
    return [
        ("_charset_", "UTF-8"),
        ("__formid__", "forgot-password"),
        ("csrf_token", csrf_token),
        ("login", login),
        ("submit", "submit"),
    ]


def answer_of(reply: harness.Reply) -> tuple[str, list[tuple[str, str]], str]:
    return reply.status, sorted(reply.headers), reply.body


@dataclass
class ForgotFigures:
    existing_ms: list[float] = field(default_factory=list)
    unknown_ms: list[float] = field(default_factory=list)
    mail_write_ms: list[float] = field(default_factory=list)
    mails_written: int = 0
    answer: str = ""
    dialect: str = ""
    existing_sql: list[str] = field(default_factory=list)
    unknown_sql: list[str] = field(default_factory=list)


def measure_forgot(app: Router, mail_directory: str, samples: int) -> ForgotFigures:
    figures = ForgotFigures()
    browser = harness.Browser(app)
    page = browser.request("GET", FORGOT)
    harness.expect(page, 200, f"GET {FORGOT}", 'name="login"')
    token = harness.csrf_token_in(page.body)
    existing = browser.environ("POST", FORGOT, forgot_form(token, USERNAME))
    unknown = browser.environ("POST", FORGOT, forgot_form(token, UNKNOWN))
    addresses = iter(range(1, 1 << 17))

    def post(template: dict[str, Any]) -> tuple[float, harness.Reply]:
        environ = template.copy()
        environ["wsgi.input"] = io.BytesIO(template["wsgi.input"].getvalue())
        environ["REMOTE_ADDR"] = client_address(next(addresses))
        return harness.timed_ms(app, environ)

    # the checks the figures depend on: a mail goes out for one, not the other,
    # and the answers are the same
    engine = app.registry["camauth.engine"]
    figures.dialect = engine.dialect.name
    before = len(mails_in(mail_directory, app))
    with harness.statements_of(engine) as figures.existing_sql:
        _, known_reply = post(existing)
    written = mails_in(mail_directory, app)
    if len(written) != before + 1 or "/password/reset/" not in written[-1].read_text():
        raise SystemExit("bench: no reset mail written for the existing account")
    with harness.statements_of(engine) as figures.unknown_sql:
        _, unknown_reply = post(unknown)
    if len(mails_in(mail_directory, app)) != before + 1:
        raise SystemExit("bench: a mail was written for an unknown username")
    harness.expect(known_reply, 303, f"POST {FORGOT} (existing account)")
    if answer_of(known_reply) != answer_of(unknown_reply):
        raise SystemExit("bench: the answers for an existing and an unknown account differ")
    location = dict((k.lower(), v) for k, v in known_reply.headers).get("location", "")
    if not location.endswith(SENT):
        raise SystemExit(f"bench: unexpected redirect {location!r}")
    figures.answer = f"{known_reply.status} -> {location.removeprefix('https://' + harness.HOST)}"

    # timed: interleaved ABBA against drift, one warm-up round
    before = len(mails_in(mail_directory, app))
    gc.collect()
    for index in range(samples + 1):
        order = [(existing, figures.existing_ms), (unknown, figures.unknown_ms)]
        for environ, into in order if index % 2 else order[::-1]:
            elapsed, reply = post(environ)
            if not reply.status.startswith("303"):
                raise SystemExit(f"bench: POST {FORGOT} answered {reply.status}")
            if index:
                into.append(elapsed)
    # file names are a timestamp and 4 random letters: two in one second may collide
    figures.mails_written = len(mails_in(mail_directory, app)) - before

    # what writing one such mail costs by itself
    postman = app.registry["camauth.postman"]
    body = mails_in(mail_directory, app)[-1].read_text()
    settings = app.registry["camauth.settings"]
    for index in range(samples + 1):
        message = Message(
            subject="Reset your password",
            sender=settings.mail_sender,
            recipients=[EMAIL],
            body=body,
        )
        start = time.perf_counter()
        postman.deliver(message)
        if index:
            figures.mail_write_ms.append((time.perf_counter() - start) * 1e3)
    return figures


# --- 3. the password policy -------------------------------------------------------------


def policy_passwords() -> list[tuple[str, list[str]]]:
    """Typical passwords, per kind. zxcvbn's time depends on the characters, so a random
    kind is a different password each sample (from a fixed seed: every run checks the
    same ones); a fixed kind is one password. The 1024-character passwords begin with
    the 72-character ones, so the two lines differ only by what lies past zxcvbn's cut."""
    rng = random.Random(20250101)
    characters = string.ascii_letters + string.digits + string.punctuation

    def generated(length: int, count: int = 500) -> list[str]:
        return ["".join(rng.choices(characters, k=length)) for _ in range(count)]

    passphrase = "lantern orbit mustard velvet"
    cut = generated(ZXCVBN_MAX)
    return [
        ("random, 12 chars", generated(12)),
        (f"4-word passphrase, {len(passphrase)} chars", [passphrase]),
        (f"random, {ZXCVBN_MAX} chars", cut),
        (
            "random, 1024 chars",
            [start + rest for start, rest in zip(cut, generated(1024 - ZXCVBN_MAX), strict=True)],
        ),
        ("weak: 'abc' x 4, 12 chars", ["abc" * 4]),
        (f"weak: 'ab' x {ZXCVBN_MAX // 2}, {ZXCVBN_MAX} chars", ["ab" * (ZXCVBN_MAX // 2)]),
    ]


@dataclass
class PolicyFigure:
    label: str
    outcomes: set[str]
    ms: list[float]


def check_policy(settings: Settings, password: str) -> str:
    try:
        check_new_password(settings, password, username=USERNAME, email=EMAIL)
    except PasswordPolicyError as refused:
        return f"refused: {str(refused)[:40]}..."
    return "accepted"


def measure_policy(samples: int, seconds: float) -> list[PolicyFigure]:
    """Round robin over the kinds, so drift hits them alike; a kind stops after
    ``samples`` checks, or once its checks took ``seconds`` (at least 5 checks)."""
    settings = Settings(secret="x" * 40)
    kinds = policy_passwords()
    figures = [PolicyFigure(label, set(), []) for label, _ in kinds]
    for _, passwords in kinds:
        check_policy(settings, passwords[-1])  # warm-up, not counted
    gc.collect()
    for index in range(samples):
        for figure, (_, passwords) in zip(figures, kinds, strict=True):
            if index >= 5 and sum(figure.ms) > seconds * 1e3:
                continue
            start = time.perf_counter()
            outcome = check_policy(settings, passwords[index % len(passwords)])
            figure.ms.append((time.perf_counter() - start) * 1e3)
            figure.outcomes.add(outcome)
    return figures


# --- 4. the required-actions gate on every page -----------------------------------------


@dataclass
class GateFigures:
    bare_us: float
    plain_us: float
    terms_us: float
    next_action_us: float
    touched: bool
    paired_us: list[float]  # terms - plain, per pair of chunks run back to back


def check_home(app: Router, home: dict[str, Any], what: str) -> None:
    harness.expect(harness.call(app, home.copy()), 200, what, "Signed in as")
    engine = app.registry["camauth.engine"]
    with harness.statements_of(engine) as statements:
        for _ in range(10):
            harness.run_app(app, home.copy())
    writes = [s for s in statements if s.upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    if writes:
        raise SystemExit(f"bench: {what} wrote to the database: {writes[:1]}")


def check_gate_is_on(app: Router, password: str) -> None:
    """A user who has not agreed to this revision is sent to the terms page."""
    browser = harness.log_in(app, "owes-terms", password)
    reply = browser.request("GET", harness.HOME)
    location = dict((k.lower(), v) for k, v in reply.headers).get("location", "")
    if not reply.status.startswith("30") or "/account/terms" not in location:
        raise SystemExit(f"bench: terms.revision set, GET {harness.HOME}: {reply.status}")


def time_next_action(app: Router, calls: int) -> float:
    """µs per ``next_action`` call for the logged-in user, terms revision set."""
    ctx = harness.app_context(app)
    try:
        user = find_user(ctx, USERNAME)
        assert user is not None
        settings, clock = ctx.settings, ctx.clock
        if next_action(settings, clock, user) is not None:
            raise SystemExit("bench: the bench user owes a required action")
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(calls):
                next_action(settings, clock, user)
            best = min(best, (time.perf_counter() - start) / calls * 1e6)
        return best
    finally:
        ctx.db.close()


def measure_gate(
    plain: Router, with_terms: Router, password: str, iterations: int, repeats: int
) -> GateFigures:
    browser = harness.log_in(with_terms, USERNAME, password)
    token = browser.cookies["__Host-camauth_session"]
    home = browser.environ("GET", harness.HOME)
    check_home(plain, home, f"GET {harness.HOME} without a terms revision")
    check_home(with_terms, home, f"GET {harness.HOME} with a terms revision the user agreed to")
    seen_before = harness.last_seen(plain, token)

    bare = harness.bare_app()
    hello = harness.make_environ("GET", "/", dict(browser.cookies))
    apps: list[tuple[Callable[..., Any], dict[str, Any]]] = [
        (bare, hello),
        (plain, home),
        (with_terms, home),
    ]
    for app, environ in apps:
        harness.per_request_us(app, environ, max(iterations // 10, 10))
    bare_us = plain_us = terms_us = float("inf")
    paired: list[float] = []
    chunk = max(iterations // CHUNKS, 1)
    for _ in range(repeats):
        bare_us = min(bare_us, harness.per_request_us(bare, hello, iterations * 10))
        # the two camauth apps in chunks, back to back and each first in turn, so that
        # load from elsewhere hits both alike
        plain_chunks: list[float] = []
        terms_chunks: list[float] = []
        for index in range(CHUNKS):
            if index % 2:
                plain_chunks.append(harness.per_request_us(plain, home, chunk))
                terms_chunks.append(harness.per_request_us(with_terms, home, chunk))
            else:
                terms_chunks.append(harness.per_request_us(with_terms, home, chunk))
                plain_chunks.append(harness.per_request_us(plain, home, chunk))
        plain_us = min(plain_us, statistics.fmean(plain_chunks))
        terms_us = min(terms_us, statistics.fmean(terms_chunks))
        paired.extend(t - p for t, p in zip(terms_chunks, plain_chunks, strict=True))
    touched = harness.last_seen(plain, token) != seen_before
    next_action_us = time_next_action(with_terms, iterations * 50)
    return GateFigures(bare_us, plain_us, terms_us, next_action_us, touched, paired)


# --- report -----------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def spread(values: list[float]) -> str:
    q1, _, q3 = statistics.quantiles(values, n=4)
    return f"IQR {q1:.2f}-{q3:.2f}"


_LITERAL = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b|\bNULL\b")


def without_values(statement: str) -> str:
    """The statement with its values as ``?`` (SQLite's trace shows them inlined)."""
    return _LITERAL.sub("?", statement)


def report_forgot(forgot: ForgotFigures, samples: int) -> None:
    existing = statistics.median(forgot.existing_ms)
    unknown = statistics.median(forgot.unknown_ms)
    mail = statistics.median(forgot.mail_write_ms)
    ratio = existing / unknown
    print(
        f"  POST {FORGOT} (CSRF cookie + token, URL-encoded), medians of {samples}, "
        "interleaved, a new client address each"
    )
    print(
        f"    existing account (has email)  {existing:9.2f} ms   {spread(forgot.existing_ms)}"
        f"   mails written: {forgot.mails_written}/{samples + 1}"
    )
    print(f"    unknown username              {unknown:9.2f} ms   {spread(forgot.unknown_ms)}")
    print(
        f"    existing / unknown = {ratio:.3f}   "
        f"(target 0.95-1.05: {verdict(0.95 <= ratio <= 1.05)})   "
        f"difference {existing - unknown:+.2f} ms"
    )
    print(f"    handing one mail to the delivery worker, alone: {mail:.3f} ms (median)")
    how = "SQLite trace" if forgot.dialect == "sqlite" else "via SQLAlchemy"
    print(
        f"    SQL per request ({how}): existing {len(forgot.existing_sql)}, "
        f"unknown {len(forgot.unknown_sql)}; only for the existing account:"
    )
    only = Counter(map(without_values, forgot.existing_sql)) - Counter(
        map(without_values, forgot.unknown_sql)
    )
    for statement in sorted(only.elements()):
        print(f"      {statement[:90]}{'...' if len(statement) > 90 else ''}")
    print(f"    both answered: {forgot.answer} (status, headers and body identical)")
    print(
        "    note: the request composes the mail either way and only queues it; a worker"
        "\n    thread delivers it after the commit, as in production"
    )


def report_policy(policy: list[PolicyFigure], bare_us: float) -> None:
    print(
        "  password policy: check_new_password, default Settings (min 12 chars, score >= 3, "
        f"zxcvbn on the first {ZXCVBN_MAX}),\n    with the user's username and email as camauth "
        "passes them; no database; a random kind is a new password each check"
    )
    print("    kind                            median       ratio        max   n   outcome")
    for figure in policy:
        ms = statistics.median(figure.ms)
        outcome = " / ".join(sorted(figure.outcomes))
        print(
            f"    {figure.label:<29}{ms:9.2f} ms {ms * 1e3 / bare_us:7.0f}x bare "
            f"{max(figure.ms):7.1f} ms {len(figure.ms):3d}   {outcome}"
        )


def report_gate(gate: GateFigures, iterations: int, repeats: int) -> None:
    print(
        "  required-actions gate: camauth GET /protected (logged in, terms agreed), "
        f"best of {repeats} x {iterations}"
    )
    plain, terms = gate.plain_us, gate.terms_us
    bare = gate.bare_us
    print(f"    no terms.revision             {plain:9.1f} µs/request  {plain / bare:5.1f}x bare")
    print(f"    terms.revision set            {terms:9.1f} µs/request  {terms / bare:5.1f}x bare")
    paired = statistics.median(gate.paired_us)
    q1, _, q3 = statistics.quantiles(gate.paired_us, n=4)
    print(
        f"    difference, terms - none      {paired:+9.1f} µs/request  "
        f"({paired / plain * 100:+.1f}%; median of {len(gate.paired_us)} pairs of chunks "
        f"run back to back, IQR {q1:+.1f} to {q3:+.1f} µs)"
    )
    print(f"    next_action() alone           {gate.next_action_us:9.2f} µs/call")
    print(
        "    checked: no database writes in either; a user who has not agreed is sent to "
        "/account/terms"
    )
    if gate.touched:
        print("    note: the session's last_seen_at was touched once (the run passed 60 s)")


def bench_database(label: str, url: str, args: argparse.Namespace) -> None:
    print(f"\n== {label} ==")
    secret = secrets.token_urlsafe(32)
    password = "bench " + secrets.token_urlsafe(18)
    with tempfile.TemporaryDirectory(prefix="camauth-bench-mail-") as mail_directory:
        plain = lifecycle_app(url, secret, mail_directory, terms=False)
        with_terms = lifecycle_app(url, secret, mail_directory, terms=True)
        try:
            settings = with_terms.registry["camauth.settings"]
            print(
                f"  argon2id m={settings.password_argon2_memory_kib} KiB, "
                f"t={settings.password_argon2_time_cost}, "
                f"p={settings.password_argon2_parallelism}; mail limits "
                f"{settings.mail_account_limit_per_hour}/h per account and per address; "
                "mail: worker thread writing .eml files"
            )
            add_users(with_terms, password)
            check_gate_is_on(with_terms, password)
            gate = measure_gate(plain, with_terms, password, args.iterations, args.repeats)
            bare = f"{gate.bare_us:9.1f} µs/request   (the base of every ratio)"
            print(f"  bare Pyramid 'hello'            {bare}")
            if args.forgot_samples:
                forgot = measure_forgot(plain, mail_directory, args.forgot_samples)
                report_forgot(forgot, args.forgot_samples)
            if args.policy_samples:
                policy = measure_policy(args.policy_samples, args.policy_seconds)
                report_policy(policy, gate.bare_us)
            report_gate(gate, args.iterations, args.repeats)
        finally:
            plain.registry["camauth.engine"].dispose()
            with_terms.registry["camauth.engine"].dispose()


def parse_args() -> argparse.Namespace:
    parser = harness.common_arguments(__doc__.splitlines()[0], RECOVERY_DATABASE, repeats=7)
    parser.add_argument(
        "--forgot-samples", type=int, default=51, help="recovery POSTs timed per kind (0: skip)"
    )
    parser.add_argument(
        "--policy-samples", type=int, default=101, help="policy checks per kind (0: skip)"
    )
    parser.add_argument(
        "--policy-seconds",
        type=float,
        default=4.0,
        help="stop checking a kind after this long (at least 5 checks)",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    print(
        f"camauth account-lifecycle bench: Python {platform.python_version()}, "
        f"Pyramid {version('pyramid')}, SQLAlchemy {sqlalchemy.__version__}, "
        f"zxcvbn {version('zxcvbn')}, {os.cpu_count()} CPU(s)"
    )
    harness.on_each_database(args, RECOVERY_DATABASE, bench_database)


if __name__ == "__main__":
    main()
