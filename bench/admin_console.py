"""Benchmark: the administrator console over 100,000 users and 1,000,000 audit events.

What an administrator waits for: the console's services (the user directory, the
audit log, the lockout report, the live sessions) called directly, and the
console's pages over WSGI as a logged-in administrator, each as a median in ms
and as a ratio to a bare Pyramid "hello" app timed in the same run. For each
database (a SQLite file always; PostgreSQL when ``--database-url`` names one):

1. the seed: 100,000 users (``user000000`` ..., names such as "Maria Schmidt":
   each of 100 family names ~1%, so "schmidt" matches ~1,000; ~96% active, the
   rest disabled or pending; ~90% with an address), 1,000,000 audit events over
   90 days (logins, failures, logouts, ended sessions, password changes, the
   administrators' edits ...; target and actor referencing users, ~10% of the
   failures for names nobody has), written with bulk inserts (SQLite) or COPY
   (PostgreSQL) while the tables' secondary indexes are dropped. Rows that only
   make sense relative to now are made anew on every run: 3,000 live web
   sessions, ~17,500 login failures over the last 24 hours (background noise, an
   attack that has 120 accounts locked, one throttled address) and 320 lock
   rows; then VACUUM ANALYZE on PostgreSQL, and camauth's housekeeping once;
2. the services: users' first page, a page 100 pages in (reached by following
   ``next``), searches ("schmidt", "user0999", and the short "zz", "s", "ma",
   "u", which match the start of names), the status filter, the counts, a
   user's overview; the audit log's first page, by event, by user, by time
   range, 100 pages in, and far back (a cursor 45 days old); ``export_rows`` of
   ~10,000 events (and per 1,000 rows); failures per hour, the locks in force,
   throttled addresses, recent failures; the live sessions;
3. the console's pages: /admin, /admin/users (first page, page 101, searches, a
   status filter), one user's page, /admin/audit (first page, by event, by user,
   page 101), /admin/sessions, /admin/lockouts, the CSV export; skipped, with
   the reason, if camauth answers /admin with anything but 200;
4. with ``--explain``: the query plan of every statement behind each service
   call (PostgreSQL: ``EXPLAIN (ANALYZE, BUFFERS)`` with the very parameters sent;
   SQLite: ``EXPLAIN QUERY PLAN``), then the findings: sequential scans of the
   big tables and statements over 50 ms.

Seeding takes a while, so the seeded database is kept: ``--reuse`` benches an
existing seed of the same size instead of making it again. Unlike the other
benches, the PostgreSQL database is the one the URL names, and it is emptied
(schema ``public`` dropped and re-created) before seeding: the bench refuses a
database that holds tables it did not make. The heap is frozen before timing
(``gc.freeze``; see ``freeze_heap``), so that a full garbage collection that one
operation provoked is not charged to the next.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import hashlib
import itertools
import json
import os
import platform
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy
from argon2 import PasswordHasher
from pyramid.router import Router
from sqlalchemy import JSON, Table, event, insert, inspect, make_url, text, update
from sqlalchemy.engine import Connection, Engine

from camauth import migrate
from camauth.db import make_engine
from camauth.models import User, UserStatus
from camauth.models.meta import DIALECT_ONLY, Base
from camauth.services import audit_search, directory, lockout_report, sessions
from camauth.services.accounts import create_user, find_user, set_password
from camauth.services.addresses import network_of
from camauth.services.audit_search import AuditFilter
from camauth.services.context import Context
from camauth.services.directory import UserFilter
from camauth.services.housekeeping import cleanup, cleanup_if_due
from camauth.services.paging import Cursor, Direction, Page
from camauth.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))
import authenticated_view as harness

TABLES = Base.metadata.tables
SEED_VERSION = 2  # bump when the seed changes: --reuse then seeds again
MARKER = "bench_admin_console_seed"  # the bench's own table: "this database is ours"
DEFAULT_SQLITE = Path(tempfile.gettempdir()) / "camauth-bench-admin-console.sqlite"
ADMIN = "bench-admin"
SEED_ADMINS = 10  # user000000 .. user000009 are administrators
BATCH = 20_000  # rows per INSERT executemany on SQLite
DAYS = 90  # the audit events span this many days, up to the seed's time
DEEP_PAGES = 100
SLOW_MS = 50.0  # a statement slower than this is reported
# searches of one or two characters: "s" (Sofia, Sara, Schmidt ...), "ma" (Maria,
# Marco, Hoffmann ...) and "u" (every username starts "user")
SHORT_SEARCHES = {"s": "1 character", "ma": "2 characters", "u": "every username"}
BIG_READ = 10_000  # a sequential scan reading this many rows is reported
BIG_TABLES = ("users", "audit_events", "login_failures")  # SQLite: a SCAN of these counts

FIRST_NAMES = (
    "Maria", "Anna", "Laura", "Sofia", "Emma", "Julia", "Lena", "Sara", "Clara", "Nina",
    "Eva", "Lisa", "Hannah", "Mia", "Olga", "Inès", "Chloé", "Zoë", "Aiko", "Priya",
    "Thomas", "Peter", "Jan", "Lukas", "David", "Daniel", "Paul", "Felix", "Jonas", "Marco",
    "Luca", "Ahmed", "Omar", "Kenji", "Raj", "Mateo", "Pierre", "Erik", "Björn", "Tomasz",
)  # fmt: skip
# 100 family names, each drawn alike: "Schmidt" is ~1% of the users, and no other
# name contains "schmidt" (Schmid, Schmitt and Schmitz are near misses, not matches)
LAST_NAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
    "Schwarz", "Zimmermann", "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt",
    "Werner", "Schmitz", "Krause", "Meier", "Lehmann", "Schmid", "Schulze", "Maier",
    "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber", "Kaiser", "Fuchs", "Peters",
    "Lang", "Scholz", "Möller", "Weiß", "Jung", "Hahn", "Schubert", "Vogel", "Friedrich",
    "Keller", "Günther", "Frank", "Berger", "Winkler", "Roth", "Beck", "Lorenz", "Baumann",
    "Franke", "Albrecht", "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia",
    "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson",
    "Anderson", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Rossi", "Russo", "Ferrari",
    "Esposito", "Bianchi", "Romano", "Dubois", "Lefebvre", "Moreau", "Laurent", "Nowak",
    "Kowalski", "Wiśniewski", "Tanaka", "Suzuki", "Sato", "Kim", "Park", "Singh",
)  # fmt: skip
DOMAINS = ("example.org", "example.com", "mail.example.net", "uni.example.edu")
STATUSES = {
    UserStatus.ACTIVE.value: 960,
    UserStatus.DISABLED.value: 20,
    UserStatus.PENDING_APPROVAL.value: 10,
    UserStatus.PENDING_EMAIL.value: 10,
}
# per mille; password_changed at 1% gives the ~10,000-row export
EVENTS = {
    "login_success": 430,
    "login_failure": 200,
    "logout": 150,
    "session_ended": 100,
    "terms_agreed": 20,
    "password_reset_requested": 15,
    "password_changed": 10,
    "password_reset": 10,
    "two_factor_wrong_code": 10,
    "user_edited": 10,
    "email_verified": 10,
    "lockout": 8,
    "user_approved": 5,
    "user_registered": 5,
    "two_factor_enrolled": 5,
    "unlock": 3,
    "user_disabled": 3,
    "ip_throttle": 2,
    "user_enabled": 2,
    "recovery_code_used": 2,
}
BY_ADMINS = {"user_edited", "user_disabled", "user_enabled", "user_approved", "unlock"}
ANONYMOUS = {"login_failure", "lockout", "ip_throttle", "password_reset_requested"}
UNKNOWN_NAMES = (
    "admin", "root", "test", "administrator", "info", "user", "guest", "oracle",
    "postgres", "support", "webmaster", "sales", "user", "demo", "backup",
)  # fmt: skip
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Version/18.1 Safari",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile",
    "python-requests/2.32.3",
)
LOCKED = 120  # accounts locked now (the attack)
LOCKED_BEFORE = 200  # lock rows whose lock has ended
SESSIONS_LIVE = 3000


# --- the seed -----------------------------------------------------------------------------


def username_of(index: int) -> str:
    return f"user{index:06d}"


def ascii_name(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name.replace("ß", "ss"))
    return folded.encode("ascii", "ignore").decode().lower()


def random_ip(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return f"2001:db8:{rng.randrange(1, 0xFFFF):x}::{rng.randrange(1, 0xFFFF):x}"
    return f"{rng.choice(('198.51.100', '192.0.2', '100.64.7'))}.{rng.randrange(1, 255)}"


def user_rows(count: int, anchor: datetime, rng: random.Random, hash_: str) -> Iterator[dict]:
    statuses = rng.choices(list(STATUSES), list(STATUSES.values()), k=count)
    for index in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        username = username_of(index)
        status = statuses[index]
        created = anchor - timedelta(days=1 + 729 * rng.random())
        if status == UserStatus.PENDING_EMAIL.value:  # a sign-up confirms within days, or goes
            created = anchor - timedelta(days=2 * rng.random())
        email = None
        if rng.random() < 0.9:
            domain = rng.choice(DOMAINS)
            email = f"{ascii_name(first)}.{ascii_name(last)}{index}@{domain}"
        logs_in = status in (UserStatus.ACTIVE.value, UserStatus.DISABLED.value)
        last_login = anchor - timedelta(days=DAYS * rng.random()) if logs_in else None
        agreed = created + timedelta(minutes=5) if logs_in else None
        yield {
            "id": index + 1,
            "username": username,
            "username_key": username,
            "email": email,
            "email_key": email.casefold() if email else None,
            "unconfirmed_email": None,
            "unconfirmed_email_key": None,
            "full_name": f"{first} {last}",
            "full_name_key": f"{first} {last}".casefold(),
            "status": status,
            "is_admin": index < SEED_ADMINS,
            "created_at": created,
            "last_login_at": last_login,
            "password_hash": hash_,
            "password_changed_at": created,
            "must_change_password": False,
            "terms_revision": "2026-01" if agreed else None,
            "terms_agreed_at": agreed,
            "two_factor_enabled_at": created if index < SEED_ADMINS or index % 7 == 0 else None,
            "time_zone": "",
            "extra": {},
        }


def audit_rows(count: int, users: int, anchor: datetime, rng: random.Random) -> Iterator[dict]:
    """``count`` events over ``DAYS`` days up to ``anchor``, ids in time order."""
    start = anchor - timedelta(days=DAYS)
    span = DAYS * 86400.0
    moments = sorted(rng.random() for _ in range(count))
    names = rng.choices(list(EVENTS), list(EVENTS.values()), k=count)
    for index in range(count):
        name = names[index]
        target = rng.randrange(users)
        target_id: int | None = target + 1
        target_name = username_of(target)
        actor_id, actor_name = target_id, target_name
        details: dict[str, Any] = {}
        if name in ANONYMOUS:
            actor_id, actor_name = None, ""
        elif name in BY_ADMINS:
            admin = rng.randrange(SEED_ADMINS)
            actor_id, actor_name = admin + 1, username_of(admin)
        if name == "login_failure":
            details = {"reason": "password"}
            if rng.random() < 0.1:  # a name nobody has
                target_id, target_name = None, rng.choice(UNKNOWN_NAMES)
        elif name == "session_ended":
            details = {"session": rng.randrange(1, 10**7), "reason": "timed out"}
        yield {
            "id": index + 1,
            "created_at": start + timedelta(seconds=span * moments[index]),
            "event": name,
            "actor_id": actor_id,
            "actor_name": actor_name,
            "target_id": target_id,
            "target_name": target_name,
            "ip": random_ip(rng),
            "user_agent": rng.choice(USER_AGENTS),
            "details": details,
        }


@dataclass
class Volatile:
    """The rows that only make sense relative to now, made anew on every run."""

    sessions: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)
    lockouts: list[dict] = field(default_factory=list)


def volatile_rows(
    users: int, active_ids: Sequence[int], now: datetime, rng: random.Random
) -> Volatile:
    rows = Volatile()
    hours = 3600.0

    def failure(key: str, exists: bool, ip: str, at: datetime, scope: str = "") -> dict:
        agent = rng.choice(USER_AGENTS)
        return {
            "username_key": key,
            "scope": scope,
            "user_exists": exists,
            "ip": ip,
            "network": network_of(ip),
            "user_agent": agent,
            "reason": "password",
            "created_at": at,
        }

    # background: mistyped passwords and guessed names over the last 24 hours (the
    # failure window: housekeeping deletes older ones)
    for _ in range(15_000):
        at = now - timedelta(seconds=24 * hours * rng.random())
        if rng.random() < 0.85:
            rows.failures.append(
                failure(username_of(rng.randrange(users)), True, random_ip(rng), at)
            )
        else:
            rows.failures.append(failure(rng.choice(UNKNOWN_NAMES), False, random_ip(rng), at))
    # an attack over the last 3 hours from 10 addresses: 120 accounts locked now
    attackers = [f"203.0.113.{n}" for n in range(1, 11)]
    picked = rng.sample(range(SEED_ADMINS, users), LOCKED + LOCKED_BEFORE)
    for position, index in enumerate(picked):
        key = username_of(index)
        scope = secrets.token_hex(16) if position % 40 == 39 else ""  # a few trusted devices
        if position < LOCKED:
            times = sorted(now - timedelta(seconds=3 * hours * rng.random()) for _ in range(20))
            until = now + timedelta(minutes=rng.randrange(5, 60))
            for at in times:
                rows.failures.append(failure(key, True, rng.choice(attackers), at, scope))
            updated = times[-1]
        else:  # locked earlier; the lock has ended
            updated = now - timedelta(hours=1 + 22 * rng.random())
            until = updated + timedelta(minutes=15)
        rows.lockouts.append(
            {
                "username_key": key,
                "scope": scope,
                "counted_since": None,
                "locked_until": until,
                "updated_at": updated,
            }
        )
    # one address throttled now: 80 failures in the last 10 minutes
    for _ in range(80):
        at = now - timedelta(seconds=600 * rng.random())
        rows.failures.append(failure(username_of(rng.randrange(users)), True, "198.18.0.66", at))
    # live sessions of active users (housekeeping deletes the timed-out ones)
    for number in range(SESSIONS_LIVE):
        created = now - timedelta(seconds=11 * hours * rng.random())
        seen = max(created, now - timedelta(seconds=1700 * rng.random()))
        rows.sessions.append(
            {
                "token_digest": hashlib.sha256(secrets.token_bytes(32)).hexdigest(),
                "user_id": rng.choice(active_ids),
                "kind": "api" if number % 10 == 0 else "browser",
                # what an API session's person approved (a device login); "" for a browser
                "client_id": "camauth-device-login" if number % 10 == 0 else "",
                "hostname": "build-7.example.org" if number % 10 == 0 else "",
                "scope": "",
                "created_at": created,
                "last_seen_at": seen,
                "authenticated_at": created,
                "ip": random_ip(rng),
                "user_agent": rng.choice(USER_AGENTS),
                "data": "{}",
            }
        )
    return rows


def bulk_insert(connection: Connection, table: Table, rows: Iterable[dict]) -> int:
    """Rows in big batches: COPY on PostgreSQL, executemany INSERTs elsewhere."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return 0
    # a column the model gained since this bench was written would be left to its
    # default (an empty search key, say): the bench must learn to fill it
    missing = [c.name for c in table.columns if c.name not in first and c.name != "id"]
    if missing:
        raise SystemExit(f"bench: the seed does not fill {table.name}.{', '.join(missing)}")
    rows = itertools.chain([first], iterator)
    if connection.dialect.name == "postgresql":
        return copy_rows(connection, table, rows)
    written = 0
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            connection.execute(insert(table), batch)
            written += len(batch)
            batch = []
    if batch:
        connection.execute(insert(table), batch)
        written += len(batch)
    return written


def copy_rows(connection: Connection, table: Table, rows: Iterable[dict]) -> int:
    """psycopg's COPY FROM STDIN in the connection's transaction; JSON as text."""
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return 0
    columns = list(first)
    as_json = [isinstance(table.c[name].type, JSON) for name in columns]
    names = ", ".join(f'"{name}"' for name in columns)
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    written = 0
    with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for values in itertools.chain([first], iterator):
            copy.write_row(
                [
                    json.dumps(values[name]) if encode else values[name]
                    for name, encode in zip(columns, as_json, strict=True)
                ]
            )
            written += 1
    cursor.close()
    return written


@contextmanager
def indexes_dropped(connection: Connection, table: str) -> Iterator[None]:
    """The table's secondary indexes (not its keys) dropped while it is filled, then
    made again from their own definitions: one sort each instead of a million
    inserts into each B-tree, or into a trigram index."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        query = text(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = CAST(:table AS regclass) AND NOT x.indisunique"
        )
    else:
        query = text(
            "SELECT name, sql FROM sqlite_master "
            "WHERE type = 'index' AND tbl_name = :table AND sql IS NOT NULL"
        )
    indexes = connection.execute(query, {"table": table}).all()
    for name, _ in indexes:
        connection.exec_driver_sql(f'DROP INDEX "{name}"')
    yield
    for _, definition in indexes:
        connection.exec_driver_sql(definition)


def restart_sequences(connection: Connection, tables: Sequence[str]) -> None:
    """After COPY with explicit ids: new rows must not collide with them."""
    if connection.dialect.name != "postgresql":
        return  # SQLite's rowid continues after the largest id by itself
    for table in tables:
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)"
            )
        )


@dataclass
class Seed:
    users: int
    events: int
    anchor: datetime  # when the audit events end
    seconds: float  # how long seeding took (0: reused)


def seed_marker(engine: Engine) -> tuple[int, int, int, datetime] | None:
    """(version, users, events, anchor) of a complete seed, if there is one."""
    if MARKER not in inspect(engine).get_table_names():
        return None
    with engine.connect() as connection:
        row = connection.execute(
            text(f"SELECT version, users, events, anchor FROM {MARKER}")  # noqa: S608
        ).first()
    if row is None:
        return None
    return row[0], row[1], row[2], datetime.fromisoformat(row[3])


def owned_or_empty(engine: Engine) -> bool:
    tables = inspect(engine).get_table_names()
    return not tables or MARKER in tables


def seed_everything(engine: Engine, args: argparse.Namespace, hash_: str) -> Seed:
    """Migrate the empty database, write the users and audit events, mark it ours."""
    started = time.perf_counter()
    migrate.upgrade(engine)
    rng = random.Random(20_26)  # every seed is the same data
    anchor = datetime.now(UTC).replace(microsecond=0)
    with engine.begin() as connection:
        connection.execute(
            text(
                f"CREATE TABLE {MARKER} (version integer, users integer, events integer, "
                "anchor varchar(40))"
            )
        )

    def users() -> Iterator[dict]:
        return user_rows(args.users, anchor, rng, hash_)

    def events() -> Iterator[dict]:
        return audit_rows(args.events, args.users, anchor, rng)

    steps = [("users", users), ("audit_events", events)]
    for label, rows in steps:
        step = time.perf_counter()
        with engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA cache_size=-262144")  # 256 MiB while seeding
            with indexes_dropped(connection, label):
                written = bulk_insert(connection, TABLES[label], rows())
            restart_sequences(connection, [label])
        print(f"    {label}: {written:,} rows in {time.perf_counter() - step:.1f} s")
    with engine.begin() as connection:
        connection.execute(
            text(f"INSERT INTO {MARKER} VALUES (:version, :users, :events, :anchor)"),  # noqa: S608
            {
                "version": SEED_VERSION,
                "users": args.users,
                "events": args.events,
                "anchor": anchor.isoformat(),
            },
        )
    return Seed(args.users, args.events, anchor, time.perf_counter() - started)


def refresh_volatile(engine: Engine, users: int) -> dict[str, int]:
    """Sessions, failures and locks as of now (the old ones deleted), then ANALYZE."""
    now = datetime.now(UTC)
    counts = {}
    with engine.begin() as connection:
        active = "SELECT id FROM users WHERE status = 'active' AND NOT is_admin"
        active_ids = connection.scalars(text(active)).all()
        rows = volatile_rows(users, active_ids, now, random.Random())
        # sign-ups wait for their confirmation (housekeeping deletes them a week on)
        users_table = TABLES["users"]
        connection.execute(
            update(users_table)
            .where(
                users_table.c.status == UserStatus.PENDING_EMAIL.value,
                users_table.c.created_at < now - timedelta(days=2),
            )
            .values(created_at=now - timedelta(days=1))
        )
        for name, new in (
            ("web_sessions", rows.sessions),
            ("login_failures", rows.failures),
            ("lockouts", rows.lockouts),
        ):
            connection.execute(TABLES[name].delete())
            counts[name] = bulk_insert(connection, TABLES[name], new)
    if engine.dialect.name == "postgresql":
        # autovacuum would get there eventually; a bench cannot wait for it
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")
    return counts


# --- the databases --------------------------------------------------------------------


def index_names(engine: Engine, table: str) -> set[str]:
    """The table's indexes, expression indexes included (SQLAlchemy's SQLite
    reflection skips those)."""
    if engine.dialect.name == "postgresql":
        query = (
            "SELECT indexname FROM pg_indexes "
            "WHERE tablename = :table AND schemaname = current_schema()"
        )
    else:
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :table"
    with engine.connect() as connection:
        return set(connection.scalars(text(query), {"table": table}))


def schema_drift(engine: Engine) -> str:
    """How the seeded tables differ from the models (a migration edited since the
    seed), or "" if they do not."""
    inspector = inspect(engine)
    dialect = engine.dialect.name
    for name in ("users", "audit_events"):
        table = TABLES[name]
        columns = {column["name"] for column in inspector.get_columns(name)}
        if columns != set(table.columns.keys()):
            return f"{name} has columns {sorted(columns ^ set(table.columns.keys()))} changed"
        present = index_names(engine, name)
        wanted = {
            index.name
            for index in table.indexes
            if index.info.get(DIALECT_ONLY, dialect) == dialect and index.name
        }
        if wanted - present:
            return f"{name} lacks {sorted(wanted - present)}"
    return ""


def reusable_seed(engine: Engine, args: argparse.Namespace) -> Seed | None:
    """The seed in the database if ``--reuse`` may use it (migrated to the head)."""
    marker = seed_marker(engine)
    if not args.reuse or marker is None:
        return None
    if marker[:3] != (SEED_VERSION, args.users, args.events):
        print(f"  the kept seed is another one (version, users, events: {marker[:3]})")
        return None
    migrate.upgrade(engine)  # a migration added since the seed runs on it
    drift = schema_drift(engine)
    if drift:
        print(f"  the kept seed is out of date: {drift}")
        return None
    return Seed(args.users, args.events, marker[3], 0.0)


@contextmanager
def sqlite_database(args: argparse.Namespace, hash_: str) -> Iterator[tuple[str, Seed]]:
    path = Path(args.sqlite_file)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        if not owned_or_empty(engine):
            raise SystemExit(f"bench: {path} holds tables this bench did not make; not touching it")
        seed = reusable_seed(engine, args)
        if seed is None:
            engine.dispose()
            for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                leftover.unlink(missing_ok=True)
            print(f"  seeding {path} ...")
            seed = seed_everything(engine, args, hash_)
    finally:
        engine.dispose()
    yield url, seed


@contextmanager
def postgres_database(args: argparse.Namespace, hash_: str) -> Iterator[tuple[str, Seed]]:
    given = make_url(args.database_url)
    if not given.drivername.startswith("postgresql") or not given.database:
        raise SystemExit("bench: --database-url must name a PostgreSQL database")
    url = given.render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        if not owned_or_empty(engine):
            raise SystemExit(
                f"bench: database {given.database} holds tables this bench did not make; "
                "give it an empty database of its own"
            )
        seed = reusable_seed(engine, args)
        if seed is None:
            print(f"  seeding database {given.database} ...")
            with engine.begin() as connection:
                connection.exec_driver_sql("DROP SCHEMA public CASCADE")
                connection.exec_driver_sql("CREATE SCHEMA public")
            seed = seed_everything(engine, args, hash_)
    finally:
        engine.dispose()
    yield url, seed


# --- what is timed -----------------------------------------------------------------------


@dataclass
class Operation:
    label: str
    run: Callable[[Context], Any]
    describe: Callable[[Any], str]
    rows: Callable[[Any], int] | None = None  # for a per-1000-rows figure
    samples: list[float] = field(default_factory=list)  # ms


def page_note(page: Page[Any]) -> str:
    return f"{len(page.items)} rows{', has next' if page.next else ''}"


def walk(ctx: Context, fetch: Callable[[Context, Cursor | None], Page[Any]]) -> Cursor:
    """The cursor ``DEEP_PAGES`` pages in, following ``next`` as a reader would."""

    def next_of(page: Page[Any]) -> Cursor:
        if page.next is None:
            raise SystemExit("bench: ran out of pages before the deep page")
        return page.next

    cursor = next_of(fetch(ctx, None))
    for _ in range(DEEP_PAGES - 1):
        cursor = next_of(fetch(ctx, cursor))
    return cursor


def users_page(ctx: Context, cursor: Cursor | None) -> Page[Any]:
    return directory.search_users(ctx, UserFilter(), cursor)


def audit_page(ctx: Context, cursor: Cursor | None) -> Page[Any]:
    return audit_search.search(ctx, AuditFilter(), cursor)


def exported(ctx: Context, criteria: AuditFilter) -> int:
    return sum(1 for _ in audit_search.export_rows(ctx, criteria)) - 1  # minus the header


EXPORT = AuditFilter(event="password_changed")  # ~1% of the events


@dataclass
class Prepared:
    """What the timed calls start from: the deep pages' cursors, a user's id."""

    deep_users: Cursor
    deep_audit: Cursor
    walked_ms: dict[str, float]
    user_id: int  # user000123's


def prepare(ctx: Context) -> Prepared:
    walked = {}
    cursors = []
    for name, fetch in (("users", users_page), ("audit", audit_page)):
        started = time.perf_counter()
        cursors.append(walk(ctx, fetch))
        walked[name] = (time.perf_counter() - started) * 1e3
    user = find_user(ctx, "user000123")
    if user is None:
        raise SystemExit("bench: user000123 is missing from the seed")
    return Prepared(cursors[0], cursors[1], walked, user.id)


def service_operations(seed: Seed, ready: Prepared) -> list[Operation]:
    # keyset paging makes any depth one index range: a cursor 45 days back (~500,000 rows)
    far_back = Cursor(Direction.AFTER, (seed.anchor - timedelta(days=DAYS // 2), 2**31 - 1))
    day = seed.anchor - timedelta(days=30)
    pending = UserStatus.PENDING_APPROVAL

    def count(c: Context, criteria: UserFilter) -> directory.MatchCount:
        return directory.count_users(c, criteria)

    def overview(c: Context) -> directory.UserOverview:
        user = c.db.get(User, ready.user_id)
        assert user is not None
        return directory.overview(c, user)

    return [
        Operation("users: first page", lambda c: users_page(c, None), page_note),
        Operation(
            f"users: page {DEEP_PAGES + 1}", lambda c: users_page(c, ready.deep_users), page_note
        ),
        Operation(
            "users: search 'schmidt'",
            lambda c: directory.search_users(c, UserFilter(text="schmidt")),
            page_note,
        ),
        Operation(
            "users: search 'user0999'",
            lambda c: directory.search_users(c, UserFilter(text="user0999")),
            page_note,
        ),
        Operation(
            "users: search 'zz' (too short for trigrams)",
            lambda c: directory.search_users(c, UserFilter(text="zz")),
            page_note,
        ),
        *(
            Operation(
                f"users: search {text!r} ({what})",
                lambda c, text=text: directory.search_users(c, UserFilter(text=text)),
                page_note,
            )
            for text, what in SHORT_SEARCHES.items()
        ),
        Operation(
            "users: status pending_approval",
            lambda c: directory.search_users(c, UserFilter(status=pending)),
            page_note,
        ),
        Operation("count_users, no filter", lambda c: count(c, UserFilter()), str),
        Operation("count_users 'schmidt'", lambda c: count(c, UserFilter(text="schmidt")), str),
        Operation(
            "count_users 'user0999'",
            lambda c: count(c, UserFilter(text="user0999")),
            str,
        ),
        Operation("count_users 'zz'", lambda c: count(c, UserFilter(text="zz")), str),
        *(
            Operation(
                f"count_users {text!r}", lambda c, text=text: count(c, UserFilter(text=text)), str
            )
            for text in SHORT_SEARCHES
        ),
        Operation(
            "count_users pending_approval",
            lambda c: count(c, UserFilter(status=pending)),
            str,
        ),
        Operation(
            "users_by_status",
            directory.users_by_status,
            lambda counts: " ".join(f"{k}={v:,}" for k, v in counts.items() if v),
        ),
        Operation(
            "users: overview of user000123",
            overview,
            lambda found: f"{len(found.recent_events)} events, {len(found.sessions)} sessions",
        ),
        Operation("audit: first page", lambda c: audit_page(c, None), page_note),
        Operation(
            "audit: event login_failure",
            lambda c: audit_search.search(c, AuditFilter(event="login_failure")),
            page_note,
        ),
        Operation(
            "audit: user user000123",
            lambda c: audit_search.search(c, AuditFilter(username="user000123")),
            page_note,
        ),
        Operation(
            "audit: one day, 30 days ago",
            lambda c: audit_search.search(c, AuditFilter(since=day - timedelta(days=1), until=day)),
            page_note,
        ),
        Operation(
            f"audit: page {DEEP_PAGES + 1}", lambda c: audit_page(c, ready.deep_audit), page_note
        ),
        Operation("audit: page 45 days back", lambda c: audit_page(c, far_back), page_note),
        Operation(
            "audit: export password_changed",
            lambda c: exported(c, EXPORT),
            lambda n: f"{n:,} rows",
            rows=lambda n: int(n),
        ),
        Operation(
            "lockouts: failures_per_hour",
            lockout_report.failures_per_hour,
            lambda hours: f"{len(hours)} hours, {sum(h.failures for h in hours):,} failures",
        ),
        Operation(
            "lockouts: locked_now",
            lockout_report.locked_now,
            lambda found: f"{len(found[0])} shown of {found[1]}",
        ),
        Operation(
            "lockouts: throttled_ips",
            lockout_report.throttled_ips,
            lambda ips: f"{len(ips)} address(es)",
        ),
        Operation(
            "lockouts: recent_failures",
            lockout_report.recent_failures,
            lambda rows: f"{len(rows)} rows",
        ),
        Operation("sessions: live_sessions_page", sessions.live_sessions_page, page_note),
        Operation("count_live_sessions", sessions.count_live_sessions, lambda n: f"{n:,} live"),
    ]


# --- the console over WSGI ------------------------------------------------------------------


def console_app(url: str) -> Router:
    """camauth as the other benches run it (production defaults), except that
    administrators need no second factor: the administrator logs in with a password
    (two-factor has its own bench). The lockout thresholds stay at their defaults
    (the harness raises them), so that the seeded attack shows as in production."""
    defaults = {item.name: item.default for item in dataclasses.fields(Settings)}
    return harness.camauth_app(
        url,
        **{
            "camauth.mfa.required_for": "none",
            "camauth.lockout.threshold": str(defaults["lockout_threshold"]),
            "camauth.lockout.ip_threshold": str(defaults["lockout_ip_threshold"]),
        },
    )


def housekeeping(app: Router) -> dict[str, int]:
    """camauth's clean-up, run now: it would otherwise run inside the login (it runs
    every 15 minutes per process), and the seed is what it leaves behind anyway."""
    ctx = harness.app_context(app)
    try:
        removed = cleanup(ctx)
        cleanup_if_due(ctx, app.registry)  # finds nothing left; marks it done for a while
        ctx.db.commit()
    finally:
        ctx.db.close()
    return {what: count for what, count in removed.items() if count}


def admin_browser(app: Router) -> harness.Browser:
    """A browser logged in as the bench's administrator (made, or given a new password)."""
    password = "bench " + secrets.token_urlsafe(18)
    ctx = harness.app_context(app)
    try:
        admin = find_user(ctx, ADMIN)
        if admin is None:
            create_user(ctx, ADMIN, password=password, is_admin=True, full_name="Bench Admin")
        else:
            set_password(ctx, admin, password)
        ctx.db.commit()
    finally:
        ctx.db.close()
    return harness.log_in(app, ADMIN, password)


def page_targets(ready: Prepared) -> list[str]:
    return [
        "/admin",
        "/admin/users",
        f"/admin/users?{urlencode({'after': ready.deep_users.encode()})}",
        "/admin/users?q=schmidt",
        "/admin/users?q=zz",
        *(f"/admin/users?q={text}" for text in SHORT_SEARCHES),
        "/admin/users?status=pending_approval",
        f"/admin/users/{ready.user_id}",
        "/admin/audit",
        "/admin/audit?event=login_failure",
        "/admin/audit?user=user000123",
        f"/admin/audit?{urlencode({'after': ready.deep_audit.encode()})}",
        "/admin/sessions",
        "/admin/lockouts",
        f"/admin/audit.csv?event={EXPORT.event}",
    ]


@dataclass
class PageTiming:
    target: str
    environ: dict[str, Any]
    size: int  # bytes of the page
    samples: list[float] = field(default_factory=list)  # ms

    @property
    def label(self) -> str:
        path, _, query = self.target.partition("?")
        if "after=" in query:
            return f"{path}?after=(page {DEEP_PAGES + 1})"
        return self.target


def console_pages(
    app: Router, browser: harness.Browser, ready: Prepared
) -> tuple[list[PageTiming], str]:
    """The pages to time (each checked: 200), or none and why."""
    pages: list[PageTiming] = []
    for target in page_targets(ready):
        path, _, query = target.partition("?")
        environ = browser.environ("GET", path)
        environ["QUERY_STRING"] = query
        reply = harness.call(app, environ.copy())
        if not reply.status.startswith("200"):
            if not pages:
                return [], f"GET {target} answered {reply.status}: the console's pages are skipped"
            raise SystemExit(f"bench: GET {target} as an administrator answered {reply.status}")
        pages.append(PageTiming(target, environ, len(reply.body.encode())))
    return pages, ""


# --- measuring ------------------------------------------------------------------------------


def measure(
    app: Router,
    operations: list[Operation],
    pages: list[PageTiming],
    args: argparse.Namespace,
) -> tuple[float, list[Any]]:
    """Rounds of everything in turn (the first warms up), so drift hits all alike; the
    bare app runs ``--iterations`` requests per round and its best round counts."""
    bare = harness.bare_app()
    hello = harness.make_environ("GET", "/")
    harness.per_request_us(bare, hello, args.iterations)
    bare_us = float("inf")
    results: list[Any] = [None] * len(operations)
    for round_ in range(args.samples + 1):
        bare_us = min(bare_us, harness.per_request_us(bare, hello, args.iterations))
        for position, operation in enumerate(operations):
            ctx = harness.app_context(app)  # a fresh ORM session, as a request has
            try:
                start = time.perf_counter()
                results[position] = operation.run(ctx)
                elapsed = time.perf_counter() - start
            finally:
                ctx.db.close()
            if round_:
                operation.samples.append(elapsed * 1e3)
        for page in pages:
            elapsed_us = harness.per_request_us(app, page.environ, 1)
            if round_:
                page.samples.append(elapsed_us / 1e3)
    return bare_us, results


def freeze_heap() -> str:
    """Move everything alive now out of the collector's way (``gc.freeze``).

    A full collection walks every tracked object, and the start-up heap (Pyramid,
    SQLAlchemy, deform, camauth: some 3,000 classes) makes one cost ~100+ ms. It
    runs when allocations pile up, so an export of 10,000 rows made the *next*
    operation pay it: the figures would blame the wrong line. Frozen, a
    collection walks only what the timed calls made, as in a server that freezes
    its heap after start-up.
    """
    gc.collect()
    objects = len(gc.get_objects())
    start = time.perf_counter()
    gc.collect()
    full_ms = (time.perf_counter() - start) * 1e3
    gc.freeze()
    start = time.perf_counter()
    gc.collect()
    frozen_ms = (time.perf_counter() - start) * 1e3
    return (
        f"a full garbage collection walks {objects:,} objects in {full_ms:.0f} ms; frozen "
        f"(gc.freeze) before timing, it takes {frozen_ms:.1f} ms"
    )


def figures(samples: list[float], bare_us: float) -> str:
    median = statistics.median(samples)
    q1, _, q3 = statistics.quantiles(samples, n=4)
    return f"{median:9.2f}  {f'{q1:.2f}-{q3:.2f}':>15}  {median * 1e3 / bare_us:8,.0f}x"


def slow_findings(operations: list[Operation], pages: list[PageTiming], dialect: str) -> list[str]:
    found = [
        f"{dialect}: {item.label} takes {statistics.median(item.samples):.1f} ms (median)"
        for item in operations
        if statistics.median(item.samples) > SLOW_MS
    ]
    found += [
        f"{dialect}: GET {page.label} takes {statistics.median(page.samples):.1f} ms (median)"
        for page in pages
        if statistics.median(page.samples) > SLOW_MS
    ]
    return found


def report(
    bare_us: float,
    operations: list[Operation],
    results: list[Any],
    pages: list[PageTiming],
    args: argparse.Namespace,
) -> None:
    print(
        f"  bare Pyramid 'hello'  {bare_us:.1f} µs/request, best of {args.samples + 1} rounds "
        f"x {args.iterations}: the base of every ratio"
    )
    header = f"    {'':46}{'ms':>9}  {'quartiles (ms)':>15}  {'ratio':>9}"
    print(
        f"  services, called directly (a fresh ORM session each); median of {args.samples}, "
        "everything in turn"
    )
    print(f"{header}   result")
    for operation, result in zip(operations, results, strict=True):
        note = operation.describe(result)
        if operation.rows is not None and operation.rows(result):
            per = statistics.median(operation.samples) / operation.rows(result) * 1000
            note += f", {per:.2f} ms per 1000"
        print(f"    {operation.label:<46}{figures(operation.samples, bare_us)} bare   {note}")
    if pages:
        print(f"  console pages over WSGI, logged in as an administrator; median of {args.samples}")
        print(f"{header}   page")
        for page in pages:
            size = f"200, {page.size / 1024:.0f} KiB"
            print(f"    GET {page.label:<42}{figures(page.samples, bare_us)} bare   {size}")


# --- query plans ------------------------------------------------------------------------------


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SELECTs ``engine`` runs inside the block, with the parameters sent."""
    seen: list[tuple[str, Any]] = []

    def on_execute(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


_IN_LIST = re.compile(r"\((?:(?:\?|%\(\w+\)s(?:::\w+)?), ){7,}(?:\?|%\(\w+\)s(?:::\w+)?)\)")
_ARRAY = re.compile(r"'\{([^}]{80,})\}'")


def shown(statement: str) -> str:
    """The statement on one line, a long column list and IN lists abbreviated."""
    flat = " ".join(statement.split())
    head = re.match(r"SELECT (.*?) FROM ", flat)
    if head and len(head.group(1)) > 100:
        flat = f"SELECT {head.group(1)[:60]}... FROM {flat[head.end() :]}"  # noqa: S608
    return _IN_LIST.sub(lambda found: f"({found.group().count(',') + 1} values)", flat)


def shown_parameters(parameters: Any) -> str:
    items = list(parameters.items() if isinstance(parameters, dict) else enumerate(parameters))
    if len(items) <= 8:
        return repr(parameters)
    kept = ", ".join(f"{key!r}: {value!r}" for key, value in items[:4])
    return f"{{{kept}, ... {len(items)} in all}}"


def shown_plan_line(line: str) -> str:
    return _ARRAY.sub(lambda found: f"'{{({found.group(1).count(',') + 1} values)}}'", line)


def plan_of(engine: Engine, statement: str, parameters: Any) -> tuple[list[str], float]:
    """The plan's lines and how long the statement took (ms)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            lines = [row[0] for row in cursor.fetchall()]
            took = re.search(r"Execution Time: ([\d.]+) ms", "\n".join(lines))
            return lines, float(took.group(1)) if took else 0.0
        cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        depth: dict[int, int] = {0: -1}
        lines = []
        for node, parent, _, detail in cursor.fetchall():
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + detail)
        start = time.perf_counter()
        cursor.execute(statement, parameters)
        cursor.fetchall()
        return lines, (time.perf_counter() - start) * 1e3
    finally:
        raw.rollback()
        raw.close()


def rows_read(lines: list[str], at: int) -> int:
    """Rows a PostgreSQL plan node read: returned plus filtered out, times loops."""
    found = re.search(r"actual time=\S+ rows=(\d+) loops=(\d+)", lines[at])
    if found is None:
        return 0
    per_loop, loops = int(found.group(1)), int(found.group(2))
    for line in lines[at + 1 :]:
        if "->" in line:
            break
        removed = re.search(r"Rows Removed by (?:Index Recheck|Filter): (\d+)", line)
        if removed:  # like rows, a mean per loop
            per_loop += int(removed.group(1))
    return per_loop * loops


_SCAN_NODE = re.compile(
    r"(?<!Bitmap )((?:Parallel )?(?:Seq|Index|Index Only|Bitmap Heap) Scan)\b.* on (\w+)"
)


def plan_findings(label: str, dialect: str, lines: list[str], took_ms: float) -> list[str]:
    """Big reads (PostgreSQL: a scan node reading >= ``BIG_READ`` rows, whatever the
    access path; SQLite: a SCAN without an index of a big table, where "SCAN t
    USING INDEX" walks an index in order and stops at the LIMIT) and slow
    statements."""
    found = []
    for at, line in enumerate(lines):
        if dialect == "postgresql":
            scan = _SCAN_NODE.search(line)
            read = rows_read(lines, at) if scan else 0
            if scan and read >= BIG_READ:
                found.append(
                    f"{dialect}: {label}: {scan.group(1)} on {scan.group(2)} reads {read:,} rows"
                )
        else:
            scan = re.fullmatch(r"\s*SCAN (\w+)", line)
            if scan and scan.group(1) in BIG_TABLES:
                found.append(f"{dialect}: {label}: SCAN {scan.group(1)} (every row)")
    if took_ms > SLOW_MS:
        found.append(f"{dialect}: {label}: a statement takes {took_ms:.1f} ms")
    return found


def explain(app: Router, operations: list[Operation]) -> list[str]:
    engine: Engine = app.registry["camauth.engine"]
    dialect = engine.dialect.name
    how = "EXPLAIN (ANALYZE, BUFFERS)" if dialect == "postgresql" else "EXPLAIN QUERY PLAN"
    print(f"\n  query plans ({how}, with the parameters the service sent)")
    findings = []
    for operation in operations:
        ctx = harness.app_context(app)
        try:
            with captured(engine) as statements:
                operation.run(ctx)
        finally:
            ctx.db.close()
        for number, (statement, parameters) in enumerate(statements, 1):
            lines, took_ms = plan_of(engine, statement, parameters)
            ran = "" if dialect == "postgresql" else f", ran in {took_ms:.2f} ms"
            print(f"\n  -- {operation.label} [{number}/{len(statements)}{ran}]")
            print(f"     {shown(statement)}")
            print(f"     parameters: {shown_parameters(parameters)}")
            for line in lines:
                print(f"       {shown_plan_line(line)}")
            findings += plan_findings(operation.label, dialect, lines, took_ms)
    return findings


# --- per database -------------------------------------------------------------------------


def database_size(engine: Engine) -> str:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            size = connection.scalar(text("SELECT pg_database_size(current_database())"))
    else:
        size = Path(str(engine.url.database)).stat().st_size
    return f"{(size or 0) / 2**20:,.0f} MiB"


def bench_database(label: str, url: str, seed: Seed, args: argparse.Namespace) -> list[str]:
    print(f"\n== {label} ==")
    how = f"seeded in {seed.seconds:.0f} s" if seed.seconds else "reused (--reuse)"
    print(
        f"  {seed.users:,} users and {seed.events:,} audit events up to "
        f"{seed.anchor:%Y-%m-%d %H:%M} UTC, {how}"
    )
    app = console_app(url)
    engine: Engine = app.registry["camauth.engine"]
    try:
        started = time.perf_counter()
        made = refresh_volatile(engine, seed.users)
        print(
            f"  as of now: {made['web_sessions']:,} live web sessions, "
            f"{made['login_failures']:,} login failures, {made['lockouts']} lock rows "
            f"({LOCKED} in force) in {time.perf_counter() - started:.1f} s"
            + ("; VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "")
        )
        print(f"  database size {database_size(engine)}")
        started = time.perf_counter()
        removed = housekeeping(app)
        print(
            f"  housekeeping (camauth's clean-up) run before timing: "
            f"{time.perf_counter() - started:.2f} s, removed {removed or 'nothing'}"
        )
        browser = admin_browser(app)
        ctx = harness.app_context(app)
        try:
            ready = prepare(ctx)
        finally:
            ctx.db.close()
        print(
            f"  reaching page {DEEP_PAGES + 1} by following 'next': users "
            f"{ready.walked_ms['users']:.0f} ms, audit {ready.walked_ms['audit']:.0f} ms"
        )
        operations = service_operations(seed, ready)
        pages: list[PageTiming] = []
        skipped = "pages skipped (--no-pages)"
        if not args.no_pages:
            pages, skipped = console_pages(app, browser, ready)
        print(f"  {freeze_heap()}")
        bare_us, results = measure(app, operations, pages, args)
        report(bare_us, operations, results, pages, args)
        if skipped:
            print(f"  {skipped}")
        findings = slow_findings(operations, pages, engine.dialect.name)
        if args.explain:
            findings += explain(app, operations)
        return findings
    finally:
        gc.unfreeze()
        engine.dispose()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL database of the bench's own to seed and bench as well: emptied "
        "first unless --reuse finds its seed (the bench refuses one with other tables)",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="only bench PostgreSQL")
    parser.add_argument(
        "--sqlite-file", default=str(DEFAULT_SQLITE), help="where the SQLite seed is kept"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="bench an existing seed of the same size"
    )
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000, help="audit events")
    parser.add_argument(
        "--samples", type=int, default=15, help="timed calls per operation and page (>= 2)"
    )
    parser.add_argument("--iterations", type=int, default=2000, help="bare app requests per round")
    parser.add_argument("--no-pages", action="store_true", help="time the services only")
    parser.add_argument(
        "--explain", action="store_true", help="print the plan of every statement, and findings"
    )
    args = parser.parse_args()
    if args.samples < 2 or args.users < 6000 or args.events < 10_000:
        parser.error("need --samples >= 2, --users >= 6000, --events >= 10000")
    return args


def main() -> None:
    args = parse_args()
    if os.environ.pop("CAMAUTH_DATABASE_URL", None):
        print("note: ignoring CAMAUTH_DATABASE_URL; the bench uses its own databases")
    print(
        f"camauth admin console bench: {platform.platform()}, {os.cpu_count()} CPU(s); "
        f"Python {platform.python_version()}, Pyramid {version('pyramid')}, "
        f"SQLAlchemy {sqlalchemy.__version__}, psycopg {version('psycopg')}"
    )
    print("  figures are noisy when other jobs share the machine: compare ratios, run twice")
    # one hash for every seeded account: nobody logs in as them
    hash_ = PasswordHasher().hash(secrets.token_urlsafe(18))
    findings: list[str] = []
    if not args.no_sqlite:
        with sqlite_database(args, hash_) as (url, seed):
            findings += bench_database(f"SQLite ({args.sqlite_file})", url, seed, args)
    if args.database_url:
        with postgres_database(args, hash_) as (url, seed):
            shown_url = make_url(url).render_as_string(hide_password=True)
            findings += bench_database(f"PostgreSQL ({shown_url})", url, seed, args)
    print(f"\n== findings: full reads of big tables, anything over {SLOW_MS:.0f} ms ==")
    for finding in findings or ["none"]:
        print(f"  {finding}")


if __name__ == "__main__":
    main()
