"""Benchmark: do the authenticated request and the login stay flat as the tables
grow? And how long does ``cleanup`` take for a million expired rows?

For each database the same app is measured with 10,000 and then 1,000,000 rows
in ``web_sessions`` and ``login_failures`` (live sessions of other users, and
failures of other names and addresses spread over the failure window), in the
same run, against a bare Pyramid app: the per-request cost of ``GET /`` with a
session, and the wrong-password login POST. ``--explain`` prints PostgreSQL's
plans of the queries those requests run. ``--cleanup`` then expires every
seeded row and times ``cleanup_in_batches`` deleting them, with the longest
batch (the longest any lock is held).

    .venv/bin/python bench/scale.py                      # SQLite
    export CAMAUTH_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/scale.py --no-sqlite --explain --cleanup
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text, update
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).parent))
import authenticated_view as harness

from camauth.models import LoginFailure, WebSession
from camauth.services import housekeeping
from camauth.services.sessions import token_digest

SIZES = (10_000, 1_000_000)
CHUNK = 20_000
PASSWORD = "correct horse battery staple"


def seed(engine: Engine, start: int, stop: int, filler_user: int) -> None:
    """Rows ``start``..``stop`` of each table: live sessions of ``filler_user`` and
    failures of other names (2,000 of them) over the last 23 hours."""
    now = datetime.now(UTC)
    for low in range(start, stop, CHUNK):
        high = min(low + CHUNK, stop)
        sessions = [
            {
                "token_digest": token_digest(f"seed-{n}"),
                "user_id": filler_user,
                "kind": "browser",
                "created_at": now,
                "last_seen_at": now,
                "authenticated_at": now,
                "ip": "",
                "user_agent": "",
                "data": "{}",
            }
            for n in range(low, high)
        ]
        failures = [
            {
                "username_key": f"name{n % 2000}",
                "scope": "",
                "user_exists": False,
                "ip": f"198.51.{n % 250}.{n % 200}",
                "network": f"198.51.{n % 250}.{n % 200}",
                "user_agent": "",
                "reason": "password",
                "created_at": now - timedelta(seconds=n % (23 * 3600)),
            }
            for n in range(low, high)
        ]
        with engine.begin() as connection:
            connection.execute(insert(WebSession), sessions)
            connection.execute(insert(LoginFailure), failures)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE web_sessions"))
            connection.execute(text("ANALYZE login_failures"))


def wrong_login_ms(app: Any, samples: int) -> float:
    """Median ms of a wrong password for alice (a name with its own few failures)."""
    times = []
    for _ in range(samples):
        browser = harness.Browser(app)
        page = browser.request("GET", "/login")
        form = harness.login_form(harness.csrf_token_in(page.body), "alice", "wrong password!")
        elapsed, reply = harness.timed_ms(app, browser.environ("POST", "/login", form))
        harness.expect(reply, 403, "a wrong password")
        times.append(elapsed)
    return statistics.median(times)


def explain(engine: Engine, digest: str) -> None:
    queries = {
        "session lookup": (
            "SELECT s.id, u.id FROM web_sessions s LEFT JOIN users u ON u.id = s.user_id "
            "WHERE s.token_digest = :digest",
            {"digest": digest},
        ),
        "failures of a name": (
            "SELECT count(*) FROM login_failures WHERE username_key = 'alice' AND scope = '' "
            "AND created_at > now() - interval '24 hours'",
            {},
        ),
        "the network's throttle": (
            "SELECT created_at FROM login_failures WHERE network = '192.0.2.10' "
            "AND created_at > now() - interval '15 minutes' ORDER BY created_at DESC "
            "OFFSET 50 LIMIT 1",
            {},
        ),
    }
    with engine.connect() as connection:
        for name, (sql, params) in queries.items():
            plan = connection.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql), params)
            print(f"    plan, {name}:")
            for (line,) in plan:
                print(f"      {line}")


def bench_database(url: str, args: argparse.Namespace) -> None:
    app = harness.camauth_app(
        url,
        **{
            "camauth.lockout.threshold": "1000000",
            "camauth.lockout.ip_threshold": "1000000",
            "camauth.mfa.required_for": "none",
            "camauth.terms.revision": "",
        },
    )
    engine: Engine = app.registry["camauth.engine"]
    harness.add_user(app, "alice", PASSWORD)
    harness.add_user(app, "filler", PASSWORD)
    with engine.connect() as connection:
        filler = connection.execute(text("SELECT id FROM users WHERE username = 'filler'")).scalar()
    browser = harness.log_in(app, "alice", PASSWORD)
    bare = harness.bare_app()
    hello = harness.make_environ("GET", "/")
    home = browser.environ("GET", harness.HOME)
    print(f"\n== {engine.dialect.name} ==")
    seeded = 0
    results: dict[int, tuple[float, float, float]] = {}
    sizes = args.sizes
    for size in sizes:
        seed(engine, seeded, size, filler)
        seeded = size
        harness.per_request_us(app, home, 200)  # warm
        bare_us = view_us = float("inf")
        for _ in range(args.repeats):
            bare_us = min(bare_us, harness.per_request_us(bare, hello, args.iterations * 10))
            view_us = min(view_us, harness.per_request_us(app, home, args.iterations))
        login_ms = wrong_login_ms(app, args.login_samples)
        results[size] = (bare_us, view_us, login_ms)
        print(
            f"  {size:>9,} rows each: bare {bare_us:6.1f} µs | GET /protected {view_us:7.1f} µs "
            f"({view_us / bare_us:4.1f}x bare) | wrong-password login {login_ms:6.2f} ms"
        )
    small, large = results[sizes[0]], results[sizes[-1]]
    print(
        f"  {sizes[-1]:,} / {sizes[0]:,}: GET /protected {large[1] / small[1]:.3f}   "
        f"login {large[2] / small[2]:.3f}   (flat: within 1.10)"
    )
    if args.explain and engine.dialect.name == "postgresql":
        explain(engine, token_digest(browser.cookies["__Host-camauth_session"]))
    if args.cleanup:
        time_cleanup(app)
    engine.dispose()


def time_cleanup(app: Any) -> None:
    """Expire every seeded row, then delete them as ``camauth cleanup`` does."""
    engine: Engine = app.registry["camauth.engine"]
    long_ago = datetime.now(UTC) - timedelta(days=30)
    with engine.begin() as connection:
        connection.execute(
            update(WebSession)
            .where(WebSession.user_agent == "")
            .values(last_seen_at=long_ago, created_at=long_ago)
        )
        connection.execute(update(LoginFailure).values(created_at=long_ago))
    batches: list[float] = []
    last = [time.perf_counter()]

    def progress(what: str, done: int, total: int) -> None:
        now = time.perf_counter()
        batches.append(now - last[0])
        last[0] = now

    ctx = harness.app_context(app)
    started = time.perf_counter()
    counts = housekeeping.cleanup_in_batches(ctx, on_progress=progress)
    elapsed = time.perf_counter() - started
    ctx.db.close()
    print(
        f"  cleanup: {counts['sessions']:,} sessions and {counts['failures']:,} failures in "
        f"{elapsed:.1f} s; {len(batches)} batches of {housekeeping.BATCH:,}, longest "
        f"{max(batches) * 1000:.0f} ms, median {statistics.median(batches) * 1000:.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("CAMAUTH_BENCH_DATABASE_URL"))
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--login-samples", type=int, default=9)
    parser.add_argument(
        "--sizes", type=lambda text: [int(n) for n in text.split(",")], default=list(SIZES)
    )
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--cleanup", action="store_true", help="also time cleanup of 1M rows")
    args = parser.parse_args()
    if not args.no_sqlite:
        with harness.sqlite_database() as url:
            bench_database(url, args)
    if args.database_url:
        with harness.postgres_database(args.database_url, "camauth_bench_scale") as url:
            bench_database(url, args)


if __name__ == "__main__":
    main()
