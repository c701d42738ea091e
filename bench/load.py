"""Load benchmark: simulated people through nginx, two camauth processes, PostgreSQL.

The deployment test's stack (tests/deployment/stack.py: production.ini, real
nginx with TLS from deploy/nginx.conf) serves; locust (headless, bounded in
people and time) sends page views, logins, wrong passwords and logouts
(bench/locustfile.py). Afterwards it checks what load must never do: any 5xx,
and any lost or doubled failure (the failures recorded are exactly the 403
answers plus the failures that set a lock), and prints requests/s and the p50/p95/p99 latencies.

    .venv/bin/pip install -e '.[bench]'
    export CAMAUTH_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/load.py --users 50 --seconds 60
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from sqlalchemy import func, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import authenticated_view as harness  # noqa: E402

from camauth.clock import utcnow  # noqa: E402
from camauth.db import make_engine, make_session_factory  # noqa: E402
from camauth.models import AuditEvent, LoginFailure  # noqa: E402
from camauth.services import accounts, terms  # noqa: E402
from camauth.services.context import Context  # noqa: E402
from camauth.services.passwords import Passwords  # noqa: E402
from camauth.settings import parse_settings  # noqa: E402
from tests.deployment.stack import running_stack  # noqa: E402

PASSWORD = "correct horse battery staple"
LOCUST = Path(sys.executable).parent / "locust"
# one address (127.0.0.1, nginx's view of every simulated person) must not throttle them all
LOAD_SETTINGS = {"camauth.lockout.ip_threshold": "1000000"}


def seed_people(url: str, people: int) -> None:
    """The simulated people's accounts (each logs in as its own: one browser session
    per user), agreed to production.ini's terms."""
    settings = parse_settings({"camauth.secret": "bench-" + "x" * 40})
    engine = make_engine(url)
    with make_session_factory(engine).begin() as db:
        ctx = Context(db=db, settings=settings, clock=utcnow, passwords=Passwords(settings))
        for number in range(people):
            user = accounts.create_user(ctx, f"load-{number}", password=PASSWORD)
            terms.agree_terms(ctx, user, "1")
    engine.dispose()


def failures_and_locks(url: str) -> tuple[int, int]:
    """Failures recorded for the victims, and the locks those failures set."""
    engine = make_engine(url)
    with engine.connect() as connection:
        failures = connection.execute(
            select(func.count()).where(LoginFailure.username_key.like("victim-%"))
        ).scalar_one()
        locks = connection.execute(
            select(func.count()).where(
                AuditEvent.event == "lockout", AuditEvent.target_name.like("victim-%")
            )
        ).scalar_one()
    engine.dispose()
    return int(failures), int(locks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("CAMAUTH_BENCH_DATABASE_URL"))
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    if not args.database_url:
        raise SystemExit("bench: --database-url (PostgreSQL) is required")
    with harness.postgres_database(args.database_url, "camauth_bench_load") as url, \
            tempfile.TemporaryDirectory(prefix="camauth-load-") as folder:  # fmt: skip
        root = Path(folder)
        seed_people(url, args.users)
        with running_stack(root / "stack", url, processes=args.processes,
                           settings=LOAD_SETTINGS) as stack:  # fmt: skip
            counts_file = root / "counts.json"
            env = {**os.environ, "CAMAUTH_LOAD_COUNTS": str(counts_file),
                   "CAMAUTH_LOAD_PASSWORD": PASSWORD}  # fmt: skip
            host = f"https://127.0.0.1:{stack.tls_port}"
            run = subprocess.run(
                [str(LOCUST), "-f", str(REPO / "bench" / "locustfile.py"), "--headless",
                 "-u", str(args.users), "-r", str(max(args.users // 5, 1)),
                 "-t", f"{args.seconds}s", "--host", host, "--csv", str(root / "stats"),
                 "--only-summary", "--stop-timeout", "10"],
                env=env, capture_output=True, text=True, timeout=args.seconds + 120,
            )  # fmt: skip
            counts = json.loads(counts_file.read_text()) if counts_file.exists() else {}
            recorded, locks = failures_and_locks(url)
            report(root / "stats_stats.csv", counts, recorded, locks, run)


def report(stats_csv: Path, counts: dict[str, int], recorded: int, locks: int, run: object) -> None:
    rows = list(csv.DictReader(stats_csv.open())) if stats_csv.exists() else []
    if not rows:
        print(getattr(run, "stderr", "")[-3000:])
        raise SystemExit("bench: locust produced no statistics")
    print(f"{'request':<28} {'count':>7} {'fail':>5} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6}")
    for row in rows:
        print(
            f"{row['Name']:<28} {row['Request Count']:>7} {row['Failure Count']:>5} "
            f"{float(row['Requests/s']):>7.1f} {row['50%']:>6} {row['95%']:>6} {row['99%']:>6}"
        )
    print(f"answers by kind: {counts}")
    failures_csv = stats_csv.with_name("stats_failures.csv")
    if failures_csv.exists():
        for row in list(csv.DictReader(failures_csv.open()))[:5]:
            print(f"  failed: {row['Name']}: {row['Error'][:120]} ({row['Occurrences']}x)")
    server_errors = counts.get("5xx", 0)
    # every 403 is a recorded failure, and so is each failure that set a lock (its
    # answer is the 429 "locked"); the other 429s were refused unchecked
    expected = counts.get("wrong_recorded", 0) + locks
    print(
        f"5xx answers: {server_errors}   failures recorded {recorded} = 403 answers "
        f"{counts.get('wrong_recorded', 0)} + failures that locked {locks}: {recorded == expected}"
    )
    if server_errors or expected != recorded:
        raise SystemExit("bench: 5xx answers or lost failures under load")


if __name__ == "__main__":
    main()
