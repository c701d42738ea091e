"""Benchmark: what a host view's permission check costs for a user holding many roles.

Same process, same WSGI harness as ``authenticated_view.py`` (imported from it: a
prepared environ, a minimal ``start_response``, a cookie-jar browser; no WebTest).
A host application declares 100 permissions with ``config.add_camauth_permission``
(10 areas x 10 actions: ``reports.view``, ``reports.export``, ...). 50 roles hold
6 of them each, every permission held by 3 roles; 20 groups are granted 5 roles
each (every role reaches 2 groups); the user is a member of all 20 groups and has
2 roles granted directly, so they hold all 50 roles and all 100 permissions,
reached along 632 role/permission paths (the rows the holdings query returns). 200
other users are members of 2 groups each. For each database (a temporary SQLite
file always; PostgreSQL when ``--database-url`` or ``CAMAUTH_BENCH_DATABASE_URL``
names a server) it prints, in µs per request, against the bare Pyramid app and
against the same user on a ``camauth.view``-only view, in the same run:

1. a bare Pyramid "hello" app: the base of every ratio;
2. the bare app plus camauth's holdings query for the user
   (``SessionLookup.holdings``: one SELECT on a kept connection, the rows folded
   into sets): the database and parsing part of a permission check;
3. the heavy user on a host view protected by ``camauth.view`` (session and user
   loaded, no role read): what every logged-in page costs;
4. the heavy user on a host view protected by ``reports.view`` (held through a
   group's role);
5. the heavy user on a view protected by ``reports.view`` that also asks
   ``request.has_permission`` for 5 more (the holdings are read once per request);
6. a light user (1 group, 1 role, 1 permission) on the ``reports.view`` view.

Before timing it checks that each view answers 200 with its text, that a user
without roles gets 403 from the ``reports.view`` view, what the holdings query
returns, that nothing is written, and (SQLite, whose trace sees every statement)
that a permission view runs exactly one statement more than the
``camauth.view`` one.

camauth runs with its production defaults (real clock, 60 s touch interval)
except lockout thresholds so high that they never trigger. PostgreSQL: the bench
never touches the database in the URL; it creates ``camauth_bench_permissions``
(``--database-name``; a stale one is dropped) beside it, migrates, seeds and
``ANALYZE``s it, and drops it at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import sys
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import sqlalchemy
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from pyramid.router import Router
from sqlalchemy import text
from sqlalchemy.engine import Engine

import camauth
from camauth.services import accounts, groups, roles
from camauth.services.context import Context
from camauth.services.permissions import HOLDINGS
from camauth.services.session_lookup import SessionLookup
from camauth.web.access import PERMISSIONS
from camauth.web.security import VIEW

sys.path.insert(0, str(Path(__file__).parent))
import authenticated_view as harness

PERMISSIONS_DATABASE = "camauth_bench_permissions"
AREAS = (
    "reports",
    "invoices",
    "patients",
    "trials",
    "samples",
    "sites",
    "visits",
    "forms",
    "queries",
    "exports",
)
ACTIONS = ("view", "export", "edit", "delete", "approve", "sign", "lock", "audit", "share", "print")
DECLARED = [f"{area}.{action}" for area in AREAS for action in ACTIONS]  # 100
ROLES, PER_ROLE = 50, 6
GROUPS, ROLES_PER_GROUP = 20, 5
DIRECT_ROLES = 2
OTHER_USERS, GROUPS_PER_OTHER = 200, 2
NEEDED = "reports.view"
ALSO_CHECKED = ("reports.export", "invoices.view", "patients.edit", "trials.sign", "exports.print")

HEAVY, LIGHT, NOBODY = "bench-heavy", "bench-light", "bench-no-roles"
VIEW_ONLY, REPORTS, SUMMARY = "/protected", "/reports", "/reports/summary"


# --- the host application ------------------------------------------------------------------


def _protected(request: Request) -> Response:
    return Response(f"Signed in as {request.user.username}")


def _reports(request: Request) -> Response:
    return Response(f"Report for {request.user.username}")


def _summary(request: Request) -> Response:
    held = sum(1 for name in ALSO_CHECKED if request.has_permission(name))
    return Response(f"Summary for {request.user.username}: {held} of {len(ALSO_CHECKED)}")


def permissions_app(url: str) -> Router:
    """camauth with the settings of ``harness.camauth_app``, and a host application
    declaring :data:`DECLARED` with views protected by them."""
    config = camauth.make_config(
        {
            "sqlalchemy.url": url,
            "camauth.secret": secrets.token_urlsafe(32),
            "camauth.lockout.threshold": harness.NEVER,
            "camauth.lockout.ip_threshold": harness.NEVER,
            "camauth.public_url": f"https://{harness.HOST}",
        }
    )
    for name in DECLARED:
        config.add_camauth_permission(name, name.replace(".", " ").capitalize())
    config.add_route("bench.protected", VIEW_ONLY)
    config.add_view(_protected, route_name="bench.protected", permission=VIEW)
    config.add_route("bench.reports", REPORTS)
    config.add_view(_reports, route_name="bench.reports", permission=NEEDED)
    config.add_route("bench.summary", SUMMARY)
    config.add_view(_summary, route_name="bench.summary", permission=NEEDED)
    return config.make_wsgi_app()


def host_context(app: Router) -> Context:
    """A service context that knows the host application's permissions."""
    return replace(harness.app_context(app), permissions=app.registry[PERMISSIONS])


def seed(app: Router, password: str) -> dict[str, int]:
    """The roles, groups and users described above; returns the bench users' ids."""
    ctx = host_context(app)
    try:
        role_rows = [
            roles.create_role(
                ctx,
                f"role-{number:02}",
                [DECLARED[(2 * number + step) % len(DECLARED)] for step in range(PER_ROLE)],
            )
            for number in range(ROLES)
        ]
        group_rows = []
        for number in range(GROUPS):
            group = groups.create_group(ctx, f"group-{number:02}")
            for step in range(ROLES_PER_GROUP):
                roles.grant_role(
                    ctx, role_rows[(number * ROLES_PER_GROUP + step) % ROLES], group=group
                )
            group_rows.append(group)
        ids = {}
        for username in (HEAVY, LIGHT, NOBODY):
            ids[username] = accounts.create_user(ctx, username, password=password).id
        heavy = ctx.db.get(accounts.User, ids[HEAVY])
        for group in group_rows:
            groups.add_member(ctx, group, heavy)
        for role in role_rows[-DIRECT_ROLES:]:
            roles.grant_role(ctx, role, user=heavy)
        light = ctx.db.get(accounts.User, ids[LIGHT])
        reader = roles.create_role(ctx, "light-reader", [NEEDED])
        lonely = groups.create_group(ctx, "light-group")
        roles.grant_role(ctx, reader, group=lonely)
        groups.add_member(ctx, lonely, light)
        for number in range(OTHER_USERS):
            other = accounts.create_user(ctx, f"other-{number:03}")  # no password: no argon2
            for step in range(GROUPS_PER_OTHER):
                groups.add_member(ctx, group_rows[(number + step * 7) % GROUPS], other)
        ctx.db.commit()
        if ctx.db.get_bind().dialect.name == "postgresql":
            ctx.db.execute(text("ANALYZE"))  # the planner's statistics, as autovacuum keeps them
            ctx.db.commit()
        return ids
    finally:
        ctx.db.close()


def holdings_app(lookup: SessionLookup, user_id: int) -> Router:
    """The bare app plus camauth's holdings query for ``user_id`` (camauth's own
    code: the statement on a kept connection, the rows folded into sets)."""

    def view(request: Request) -> Response:
        held = lookup.holdings(user_id)
        return Response(f"hello {len(held.permissions)}")

    config = Configurator()
    config.add_route("hello", "/")
    config.add_view(view, route_name="hello")
    return config.make_wsgi_app()


# --- the measurements ---------------------------------------------------------------------


@dataclass
class Figures:
    dialect: str
    holdings_rows: int
    us: dict[str, float]
    statements: dict[str, float]


LABELS = {
    "bare": "bare Pyramid 'hello'",
    "holdings": "bare + holdings query (heavy user)",
    "view_only": f"heavy user GET {VIEW_ONLY} (camauth.view)",
    "reports": f"heavy user GET {REPORTS} ({NEEDED})",
    "summary": f"heavy user GET {SUMMARY} (+{len(ALSO_CHECKED)} checks)",
    "light": f"light user GET {REPORTS} ({NEEDED})",
}


def checked_environs(app: Router, password: str) -> dict[str, Any]:
    """Log the users in, check every view answers as it must, and return the
    environ of each timed camauth request."""
    heavy = harness.log_in(app, HEAVY, password)
    light = harness.log_in(app, LIGHT, password)
    nobody = harness.log_in(app, NOBODY, password)
    environs = {
        "view_only": heavy.environ("GET", VIEW_ONLY),
        "reports": heavy.environ("GET", REPORTS),
        "summary": heavy.environ("GET", SUMMARY),
        "light": light.environ("GET", REPORTS),
    }
    expected = {
        "view_only": f"Signed in as {HEAVY}",
        "reports": f"Report for {HEAVY}",
        "summary": f"Summary for {HEAVY}: {len(ALSO_CHECKED)} of {len(ALSO_CHECKED)}",
        "light": f"Report for {LIGHT}",
    }
    for name, environ in environs.items():
        harness.expect(harness.call(app, environ.copy()), 200, LABELS[name], expected[name])
    harness.expect(
        harness.call(app, nobody.environ("GET", REPORTS)), 403, f"GET {REPORTS} without roles"
    )
    return environs


def measure(app: Router, password: str, ids: dict[str, int], args: argparse.Namespace) -> Figures:
    engine: Engine = app.registry["camauth.engine"]
    lookup: SessionLookup = app.registry["camauth.session_lookup"]
    held = lookup.holdings(ids[HEAVY])
    if (len(held.permissions), len(held.roles), len(held.groups)) != (100, ROLES, GROUPS):
        raise SystemExit(f"bench: the heavy user holds {held}")
    ctx = host_context(app)
    rows = len(ctx.db.execute(HOLDINGS, {"user_id": ids[HEAVY]}).all())
    ctx.db.close()
    environs = checked_environs(app, password)

    checked = 10
    statements: dict[str, float] = {}
    for name, environ in environs.items():
        with harness.statements_of(engine, lookup) as seen:
            for _ in range(checked):
                harness.run_app(app, environ.copy())
        writes = [s for s in seen if s.upper().startswith(harness._WRITES)]
        if writes:
            raise SystemExit(f"bench: {LABELS[name]} wrote to the database: {writes[:1]}")
        statements[name] = len(seen) / checked
    if engine.dialect.name == "sqlite":
        for name in ("reports", "summary", "light"):
            if statements[name] != statements["view_only"] + 1:
                raise SystemExit(f"bench: {LABELS[name]} ran {statements[name]:g} statements")

    timed = {
        "bare": (harness.bare_app(), harness.make_environ("GET", "/"), args.iterations * 10),
        "holdings": (
            holdings_app(lookup, ids[HEAVY]),
            harness.make_environ("GET", "/"),
            args.iterations,
        ),
        **{name: (app, environ, args.iterations) for name, environ in environs.items()},
    }
    for warm_app, environ, _ in timed.values():
        harness.per_request_us(warm_app, environ, max(args.iterations // 10, 10))
    best = dict.fromkeys(timed, float("inf"))
    for _ in range(args.repeats):  # interleaved, so drift hits them all alike
        for name, (timed_app, environ, count) in timed.items():
            best[name] = min(best[name], harness.per_request_us(timed_app, environ, count))
    return Figures(engine.dialect.name, rows, best, statements)


def report(figures: Figures) -> None:
    us = figures.us
    bare, view_only = us["bare"], us["view_only"]
    print(
        f"  heavy user: {GROUPS} groups, {ROLES} roles ({DIRECT_ROLES} direct), "
        f"{len(DECLARED)} permissions; holdings query returns {figures.holdings_rows} rows"
    )
    for name, label in LABELS.items():
        value = us[name]
        line = f"  {label:<46}{value:9.1f} µs/request  {value / bare:6.2f}x bare"
        if name in ("reports", "summary", "light"):
            line += f"  {value / view_only:5.2f}x view-only ({value - view_only:+7.1f} µs)"
        if name == "holdings":
            line += f"  (the query: {value - bare:+.1f} µs)"
        print(line)
    how = "SQLite trace" if figures.dialect == "sqlite" else "via SQLAlchemy; raw DB-API not seen"
    counts = ", ".join(
        f"{name} {figures.statements[name]:g}"
        for name in ("view_only", "reports", "summary", "light")
    )
    print(f"    no database writes; SQL statements per request ({how}): {counts}")


def bench_database(label: str, url: str, args: argparse.Namespace) -> None:
    print(f"\n== {label} ==")
    app = permissions_app(url)
    try:
        password = "bench " + secrets.token_urlsafe(18)
        ids = seed(app, password)
        report(measure(app, password, ids, args))
    finally:
        app.registry["camauth.engine"].dispose()


def parse_args() -> argparse.Namespace:
    parser = harness.common_arguments(__doc__.splitlines()[0], PERMISSIONS_DATABASE, repeats=7)
    parser.add_argument(
        "--database-name",
        default=PERMISSIONS_DATABASE,
        help=f"the PostgreSQL database made and dropped (default {PERMISSIONS_DATABASE})",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    print(
        f"camauth permissions bench: {platform.platform()}, {os.cpu_count()} CPU(s); "
        f"Python {platform.python_version()}, Pyramid {version('pyramid')}, "
        f"SQLAlchemy {sqlalchemy.__version__}"
    )
    print("  figures are noisy when other jobs share the machine: compare ratios, run twice")
    harness.on_each_database(args, args.database_name, bench_database)


if __name__ == "__main__":
    main()
