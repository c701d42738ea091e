"""Roles and groups under concurrency, on PostgreSQL: real threads, each on its own
connection, through the app or through the services.

Most races here are made deterministic: the first change runs and keeps its
transaction open (its row locks held); the second starts in a thread and the test
waits until PostgreSQL reports it blocked by the first (``pg_blocking_pids``), so
it really runs while the first is in flight; then the first commits. The second
must then decide on what the first committed: a clean ``Gone`` for a row deleted
meanwhile, "nothing to do" for a change made meanwhile, never an IntegrityError,
a stale-data error or a lost update. A few more go at the same moment behind a
barrier, in several rounds, so that either may win.

A request decides on one reading of what its user holds; the next request reads
again, in whichever process it lands (two app instances on one database here).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
import webtest
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from pyramid.router import Router
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from camauth.clock import FakeClock
from camauth.db import make_engine
from camauth.models import AuditEvent, GroupMember, RoleGrant, RolePermission
from camauth.services import accounts, groups, roles
from camauth.services.context import Context
from camauth.services.permissions import AccessError
from camauth.services.roles import Gone
from camauth.web.access import PERMISSIONS
from camauth.web.security import VIEW

from ..conftest import FAST_ARGON2, TEST_SECRET, app_context
from .conftest import all_rows, at_the_same_moment, create_user, logged_in, scalar

# a session that kept a row deleted meanwhile, and added it again, warns: an error here
pytestmark = pytest.mark.filterwarnings("error::sqlalchemy.exc.SAWarning")

DECLARED = {
    "reports.view": "See reports",
    "reports.export": "Export reports",
    "reports.delete": "Delete reports",
}
ROUNDS = 4


# --- the host application -------------------------------------------------------------------


class Pause:
    """Holds the next GET /reports inside its view (its permission already decided)
    until the test resumes it."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.resume = threading.Event()


def reports(request: Request) -> Response:
    pause: Pause | None = request.registry.get("test.pause")
    if pause is not None:
        pause.inside.set()
        assert pause.resume.wait(timeout=60)
    # asked again after the pause: one request decides on one reading
    still = request.has_permission("reports.view")
    return Response(f"Report for {request.user.username}; still {bool(still)}")


def export(request: Request) -> Response:
    return Response(f"Export for {request.user.username}")


def checks(request: Request) -> Response:
    """Several permissions checked in one request."""
    held = sorted(name for name in DECLARED if request.has_permission(name))
    return Response(json_body={"held": held})


def host_app(engine: Engine, clock: FakeClock) -> Router:
    """A host application on ``engine`` declaring its permissions, with views that
    need them; one instance is one process."""
    config = Configurator(
        settings={
            "sqlalchemy.url": str(engine.url),
            "camauth.secret": TEST_SECRET,  # the same in every instance: one site
            "camauth.session.cookie_secure": "false",
            "camauth.public_url": "http://localhost",
            "camauth.mfa.required_for": "none",
            **FAST_ARGON2,
        }
    )
    config.registry["camauth.engine"] = engine
    config.include("camauth")
    for name, description in DECLARED.items():
        config.add_camauth_permission(name, description)
    config.add_route("camauth.home", "/")
    config.scan("camauth.web.views.home")
    config.add_route("reports", "/reports")
    config.add_view(reports, route_name="reports", permission="reports.view")
    config.add_route("export", "/reports/export")
    config.add_view(export, route_name="export", permission="reports.export")
    config.add_route("checks", "/checks")
    config.add_view(checks, route_name="checks", permission=VIEW)
    app = config.make_wsgi_app()
    app.registry["camauth.clock"] = clock
    return app


def pg_engine(url: str) -> Engine:
    return make_engine(url, pool_size=10, max_overflow=5, pool_timeout=60)


def console(app: Router, actor: str = "root") -> Context:
    """An administrator's service context on its own ORM session (and connection)."""
    ctx = replace(app_context(app), permissions=app.registry[PERMISSIONS])
    return ctx.acting_as(None, actor)


def committed(app: Router, change: Callable[[Context], Any], actor: str = "root") -> Any:
    ctx = console(app, actor)
    try:
        result = change(ctx)
        ctx.db.commit()
        return result
    finally:
        ctx.db.close()


def role(ctx: Context, name: str) -> roles.Role:
    found = roles.find_role(ctx, name)
    assert found is not None
    return found


def group(ctx: Context, name: str) -> groups.Group:
    found = groups.find_group(ctx, name)
    assert found is not None
    return found


def user(ctx: Context, name: str) -> accounts.User:
    found = accounts.find_user(ctx, name)
    assert found is not None
    return found


def setup(ctx: Context) -> None:
    """reviewer (reports.view) granted to the group trial, whose members are ann and
    bob; exporter (reports.export) granted to nobody."""
    reviewer = roles.create_role(ctx, "reviewer", ["reports.view"])
    roles.create_role(ctx, "exporter", ["reports.export"])
    trial = groups.create_group(ctx, "trial")
    roles.grant_role(ctx, reviewer, group=trial)
    groups.add_member(ctx, trial, user(ctx, "ann"))
    groups.add_member(ctx, trial, user(ctx, "bob"))


@pytest.fixture
def site(postgres_url: str, clock: FakeClock) -> Iterator[Router]:
    engine = pg_engine(postgres_url)
    app = host_app(engine, clock)
    create_user(app, "root", is_admin=True)
    for name in ("ann", "bob"):
        create_user(app, name)
    committed(app, setup)
    yield app
    engine.dispose()


def count(app: Router, table: Any, **where: Any) -> int:
    return int(scalar(app, select(func.count()).select_from(table).filter_by(**where)))


def events(app: Router, name: str) -> list[AuditEvent]:
    return all_rows(app, select(AuditEvent).where(AuditEvent.event == name).order_by(AuditEvent.id))


def assert_nothing_logged_as_error(caplog: pytest.LogCaptureFixture) -> None:
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == [], errors


# --- one change in flight while another starts ------------------------------------------------


@dataclass
class InParallel:
    """``action`` run on ``ctx`` in a thread of its own and committed (rolled back if
    it raises); ``started_blocked`` says whether it had to wait for another's lock."""

    ctx: Context
    action: Callable[[], Any]
    result: Any = None
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self.pid = self.ctx.db.scalar(text("SELECT pg_backend_pid()"))
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        try:
            self.result = self.action()
            self.ctx.db.commit()
        except BaseException as error:  # reported in the main thread
            self.ctx.db.rollback()
            self.error = error

    def started_blocked(self, engine: Engine) -> bool:
        """Start, and wait until the thread waits for a lock held by another
        connection (True) or has finished without waiting (False)."""
        self.thread.start()
        deadline = time.monotonic() + 30
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as probe:
            while self.thread.is_alive() and time.monotonic() < deadline:
                blockers = probe.execute(
                    text("SELECT cardinality(pg_blocking_pids(:pid))"), {"pid": self.pid}
                ).scalar_one()
                if blockers:
                    return True
                self.thread.join(timeout=0.005)
        return False

    def outcome(self) -> Any:
        """The action's result, or the exception it raised."""
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the second change never finished"
        self.ctx.db.close()
        return self.error if self.error is not None else self.result


Prepare = Callable[[Context], Callable[[], Any]]


def while_in_flight(app: Router, first: Prepare, second: Prepare) -> tuple[Any, Any]:
    """Two administrators on their own connections: each prepares (loads what it
    acts on, as a page did), then ``first`` changes and keeps its transaction open,
    ``second`` starts and must wait for it; ``first`` commits, ``second`` finishes.
    Returns both outcomes (a result, or the exception raised)."""
    a, b = console(app, "root"), console(app, "boss")
    try:
        do_first, do_second = first(a), second(b)
        first_result = do_first()
        worker = InParallel(b, do_second)
        blocked = worker.started_blocked(app.registry["camauth.engine"])
        a.db.commit()
    finally:
        a.db.close()
    second_result = worker.outcome()
    assert blocked, f"the second change did not wait for the first: {second_result!r}"
    return first_result, second_result


# --- members and groups ------------------------------------------------------------------------


def test_a_member_removed_while_her_request_is_in_flight_holds_nothing_from_the_next(site, caplog):
    """ann's request is inside a view needing reports.view when root takes her out of
    trial and, at the same moment, boss grants exporter to trial and ann asks for
    another page. The request in flight finishes on what it read; from the next one
    on she holds nothing through trial, the new grant included, and no row of hers
    is left in the group. bob, still a member, holds the new grant at once."""
    caplog.set_level(logging.INFO)
    ann, bob = logged_in(site, "ann"), logged_in(site, "bob")
    assert ann.get("/reports", status=200)
    ann.get("/reports/export", status=403)
    pause = Pause()
    site.registry["test.pause"] = pause
    in_flight: dict[str, webtest.TestResponse] = {}
    request = threading.Thread(target=lambda: in_flight.update(r=ann.get("/reports", status="*")))
    request.start()
    assert pause.inside.wait(timeout=30)
    del site.registry["test.pause"]  # only the request in flight pauses

    def remove_ann(c: Context) -> bool:
        return groups.remove_member(c, group(c, "trial"), user(c, "ann"))

    def grant_exporter(c: Context) -> bool:
        return roles.grant_role(c, role(c, "exporter"), group=group(c, "trial"))

    sends: list[Callable[[], Any]] = [
        lambda: committed(site, remove_ann),
        lambda: committed(site, grant_exporter, "boss"),
        lambda: ann.get("/checks", status=200).json["held"],
    ]
    outcomes = dict(at_the_same_moment(3, lambda n: lambda: (n, sends[n]())))
    removed, granted, read = outcomes[0], outcomes[1], outcomes[2]
    pause.resume.set()
    request.join(timeout=60)
    assert in_flight["r"].status_int == 200
    assert in_flight["r"].text == "Report for ann; still True"  # one reading per request
    assert (removed, granted) == (True, True)
    assert read in ([], ["reports.view"], ["reports.export", "reports.view"])

    ann.get("/reports", status=403)
    ann.get("/reports/export", status=403)
    assert ann.get("/checks").json["held"] == []
    assert bob.get("/checks").json["held"] == ["reports.export", "reports.view"]
    ann_id = all_rows(site, select(accounts.User.id).where(accounts.User.username == "ann"))[0]
    assert count(site, GroupMember, user_id=ann_id) == 0
    assert count(site, RoleGrant, user_id=ann_id) == 0
    assert len(events(site, "member_removed")) == 1
    assert_nothing_logged_as_error(caplog)


def remove(name: str) -> Prepare:
    def prepare(ctx: Context) -> Callable[[], Any]:
        trial, someone = group(ctx, "trial"), user(ctx, name)
        return lambda: groups.remove_member(ctx, trial, someone)

    return prepare


def make_group_admin(name: str, *, looked_first: bool) -> Prepare:
    """Make ``name`` an administrator of trial; ``looked_first``: the request had read
    her membership already, and keeps it (a view checking she is a member first)."""

    def prepare(ctx: Context) -> Callable[[], Any]:
        trial, someone = group(ctx, "trial"), user(ctx, name)
        seen = groups.membership(ctx, trial, someone) if looked_first else None

        def act() -> bool:
            assert seen is None or not seen.is_group_admin
            return groups.set_group_admin(ctx, trial, someone, True)

        return act

    return prepare


def add(name: str, *, looked_first: bool = False, group_admin: bool = False) -> Prepare:
    def prepare(ctx: Context) -> Callable[[], Any]:
        trial, someone = group(ctx, "trial"), user(ctx, name)
        seen = groups.membership(ctx, trial, someone) if looked_first else None

        def act() -> bool:
            assert seen is not None or not looked_first  # the page showed her a member
            return groups.add_member(ctx, trial, someone, group_admin=group_admin)

        return act

    return prepare


@pytest.mark.parametrize("looked_first", [False, True])
def test_making_a_member_group_administrator_while_she_is_removed_is_gone(
    site, caplog, looked_first
):
    caplog.set_level(logging.INFO)
    removed, second = while_in_flight(
        site, remove("ann"), make_group_admin("ann", looked_first=looked_first)
    )
    assert removed is True
    assert isinstance(second, Gone), repr(second)
    assert "not a member" in str(second)
    assert count(site, GroupMember, user_id=user_id(site, "ann")) == 0
    assert events(site, "group_admin_granted") == []
    assert_nothing_logged_as_error(caplog)


@pytest.mark.parametrize("group_admin", [False, True])
def test_adding_a_member_back_while_she_is_removed_adds_her_again(site, caplog, group_admin):
    """The second administrator saw ann in trial and adds her (as a group
    administrator, or plainly). It runs after the removal, so it adds her again and
    says so: the result matches the row, whatever the page had read."""
    caplog.set_level(logging.INFO)
    removed, added = while_in_flight(
        site, remove("ann"), add("ann", looked_first=True, group_admin=group_admin)
    )
    assert removed is True
    assert added is True, repr(added)
    [member] = all_rows(site, select(GroupMember).filter_by(user_id=user_id(site, "ann")))
    assert member.is_group_admin is group_admin
    assert len(events(site, "member_added")) == 3  # ann and bob at set-up, ann again
    assert_nothing_logged_as_error(caplog)


def delete_group(name: str) -> Prepare:
    def prepare(ctx: Context) -> Callable[[], Any]:
        found = group(ctx, name)
        return lambda: groups.delete_group(ctx, found)

    return prepare


def delete_user(name: str) -> Prepare:
    def prepare(ctx: Context) -> Callable[[], Any]:
        found = user(ctx, name)
        return lambda: accounts.delete_user(ctx, found)

    return prepare


def grant_to_user(role_name: str, name: str) -> Prepare:
    def prepare(ctx: Context) -> Callable[[], Any]:
        found, someone = role(ctx, role_name), user(ctx, name)
        return lambda: roles.grant_role(ctx, found, user=someone)

    return prepare


def user_id(app: Router, name: str) -> int:
    return int(scalar(app, select(accounts.User.id).where(accounts.User.username == name)))


def test_adding_a_member_to_a_group_deleted_meanwhile_is_gone(site, caplog):
    caplog.set_level(logging.INFO)
    create_user(site, "cat")
    trial_id = scalar(site, select(groups.Group.id).where(groups.Group.name == "trial"))
    _, added = while_in_flight(site, delete_group("trial"), add("cat"))
    assert isinstance(added, Gone), repr(added)
    assert str(added) == "That group was deleted meanwhile."
    assert count(site, GroupMember, group_id=trial_id) == 0
    assert count(site, RoleGrant, group_id=trial_id) == 0
    assert events(site, "member_added")[-1].target_name == "bob"  # none for cat
    assert_nothing_logged_as_error(caplog)


@pytest.mark.parametrize(
    ("second", "member"),
    [
        (add("cat"), False),
        (grant_to_user("exporter", "cat"), False),
        (make_group_admin("cat", looked_first=True), True),
    ],
    ids=["add-member", "grant-role", "make-group-admin"],
)
def test_adding_or_granting_to_a_user_deleted_meanwhile_is_gone(site, caplog, second, member):
    """Deleting a user deletes her memberships without the group's lock: what acts
    on her locks her row too."""
    caplog.set_level(logging.INFO)
    cat = create_user(site, "cat")
    if member:
        committed(site, lambda c: groups.add_member(c, group(c, "trial"), user(c, "cat")))
    _, outcome = while_in_flight(site, delete_user("cat"), second)
    assert isinstance(outcome, Gone), repr(outcome)
    assert str(outcome) == "That user was deleted meanwhile."
    assert count(site, GroupMember, user_id=cat) == 0
    assert count(site, RoleGrant, user_id=cat) == 0
    assert_nothing_logged_as_error(caplog)


def test_a_group_deleted_at_the_same_moment_as_a_member_is_added(site, caplog):
    """Either wins, round after round: the member is added and leaves with the group,
    or the addition finds the group gone. Never an error, never a row left."""
    caplog.set_level(logging.INFO)
    for number in range(ROUNDS * 2):
        name, newcomer = f"team{number}", f"new{number}"
        create_user(site, newcomer)
        team_id = committed(site, lambda c, name=name: groups.create_group(c, name).id)

        def prepare(which: int, name: str = name, newcomer: str = newcomer) -> Any:
            ctx = console(site, "root" if which == 0 else "boss")
            team, someone = group(ctx, name), user(ctx, newcomer)

            def send() -> tuple[int, Any]:
                try:
                    if which == 0:
                        groups.delete_group(ctx, team)
                        outcome: Any = "deleted"
                    else:
                        outcome = groups.add_member(ctx, team, someone)
                    ctx.db.commit()
                except Gone as gone:
                    ctx.db.rollback()
                    outcome = gone
                finally:
                    ctx.db.close()
                return which, outcome

            return send

        deleted, added = (outcome for _, outcome in sorted(at_the_same_moment(2, prepare)))
        assert deleted == "deleted"
        assert added is True or isinstance(added, Gone), repr(added)
        assert count(site, GroupMember, group_id=team_id) == 0
    assert_nothing_logged_as_error(caplog)


# --- two administrators editing one role --------------------------------------------------------


def grant_permission(permission: str, role_name: str = "reviewer") -> Prepare:
    def prepare(ctx: Context) -> Callable[[], Any]:
        found = role(ctx, role_name)
        return lambda: roles.grant_permission(ctx, found, permission)

    return prepare


def rename_role(new_name: str, role_name: str = "reviewer") -> Prepare:
    def prepare(ctx: Context) -> Callable[[], Any]:
        found = role(ctx, role_name)
        return lambda: roles.rename_role(ctx, found, new_name)

    return prepare


def delete_role(role_name: str = "reviewer") -> Prepare:
    def prepare(ctx: Context) -> Callable[[], Any]:
        found = role(ctx, role_name)
        return lambda: roles.delete_role(ctx, found)

    return prepare


def role_permissions(app: Router, role_name: str) -> list[str]:
    ctx = console(app)
    try:
        return roles.permissions_of(ctx, role(ctx, role_name))
    finally:
        ctx.db.close()


def test_two_administrators_granting_two_permissions_to_one_role_keep_both(site, caplog):
    """Behind a barrier, in rounds: both grants are kept, whichever goes first."""
    caplog.set_level(logging.INFO)
    for number in range(ROUNDS):
        name = f"role{number}"
        committed(site, lambda c, name=name: roles.create_role(c, name))

        def prepare(which: int, name: str = name) -> Callable[[], Any]:
            ctx = console(site, ("root", "boss")[which])
            found = role(ctx, name)
            permission = ("reports.export", "reports.delete")[which]

            def send() -> bool:
                try:
                    granted = roles.grant_permission(ctx, found, permission)
                    ctx.db.commit()
                    return granted
                finally:
                    ctx.db.close()

            return send

        assert at_the_same_moment(2, prepare) == [True, True]
        assert role_permissions(site, name) == ["reports.delete", "reports.export"]
    assert len(events(site, "role_permission_granted")) == ROUNDS * 2
    assert_nothing_logged_as_error(caplog)


def test_granting_two_permissions_while_the_other_is_in_flight_keeps_both(site, caplog):
    caplog.set_level(logging.INFO)
    first, second = while_in_flight(
        site, grant_permission("reports.export"), grant_permission("reports.delete")
    )
    assert (first, second) == (True, True)
    assert role_permissions(site, "reviewer") == [
        "reports.delete",
        "reports.export",
        "reports.view",
    ]
    assert_nothing_logged_as_error(caplog)


def test_the_same_permission_granted_twice_at_once_is_one_grant(site, caplog):
    """A double click, or two administrators: the second finds it done (no duplicate
    row refused by the database, no second audit event)."""
    caplog.set_level(logging.INFO)
    first, second = while_in_flight(
        site, grant_permission("reports.export"), grant_permission("reports.export")
    )
    assert (first, second) == (True, False), repr(second)
    assert role_permissions(site, "reviewer") == ["reports.export", "reports.view"]
    assert len(events(site, "role_permission_granted")) == 1
    assert_nothing_logged_as_error(caplog)


def test_the_same_member_added_twice_at_once_is_one_membership(site, caplog):
    caplog.set_level(logging.INFO)
    create_user(site, "cat")
    first, second = while_in_flight(site, add("cat"), add("cat"))
    assert (first, second) == (True, False), repr(second)
    assert count(site, GroupMember, user_id=user_id(site, "cat")) == 1
    assert_nothing_logged_as_error(caplog)


@pytest.mark.parametrize("rename_first", [True, False])
def test_renaming_a_role_while_a_permission_is_granted_keeps_both(site, caplog, rename_first):
    caplog.set_level(logging.INFO)
    renaming, granting = rename_role("auditor"), grant_permission("reports.export")
    if rename_first:
        renamed, granted = while_in_flight(site, renaming, granting)
    else:
        granted, renamed = while_in_flight(site, granting, renaming)
    assert (renamed, granted) == (None, True)
    # (a query through a helper that closes its session: one left open holds a lock
    # on roles, and the next test's TRUNCATE waits for it forever)
    assert count(site, roles.Role, name="reviewer") == 0
    assert role_permissions(site, "auditor") == ["reports.export", "reports.view"]
    [event] = events(site, "role_permission_granted")
    # the grant that waited for the rename names the role as it is called now
    assert event.details["role"] == ("auditor" if rename_first else "reviewer")
    assert_nothing_logged_as_error(caplog)


@pytest.mark.parametrize(
    "second",
    [
        grant_permission("reports.export"),
        rename_role("auditor"),
        grant_to_user("reviewer", "ann"),
    ],
    ids=["grant-permission", "rename", "grant-role"],
)
def test_changing_a_role_deleted_meanwhile_is_gone(site, caplog, second):
    caplog.set_level(logging.INFO)
    reviewer_id = scalar(site, select(roles.Role.id).where(roles.Role.name == "reviewer"))
    _, outcome = while_in_flight(site, delete_role(), second)
    assert isinstance(outcome, Gone), repr(outcome)
    assert str(outcome) == "That role was deleted meanwhile."
    assert count(site, RolePermission, role_id=reviewer_id) == 0
    assert count(site, RoleGrant, role_id=reviewer_id) == 0
    assert events(site, "role_permission_granted") == []
    assert events(site, "role_renamed") == []
    assert len(events(site, "role_granted")) == 1  # to trial, at set-up
    assert_nothing_logged_as_error(caplog)


@pytest.mark.parametrize("kind", ["role", "group"])
def test_two_administrators_creating_one_name_at_once_one_is_refused(site, caplog, kind):
    caplog.set_level(logging.INFO)
    create = roles.create_role if kind == "role" else groups.create_group

    def creating(ctx: Context) -> Callable[[], Any]:
        return lambda: create(ctx, "Night-Shift").name

    first, second = while_in_flight(site, creating, creating)
    assert first == "night-shift"
    assert isinstance(second, AccessError) and not isinstance(second, Gone), repr(second)
    assert str(second) == f"A {kind} named night-shift already exists."
    assert_nothing_logged_as_error(caplog)


# --- requests that only read: the next request reads again, in any process --------------------


def test_a_change_through_one_instance_counts_at_the_next_request_in_the_other(
    postgres_url, clock, caplog
):
    """Two instances of the host application (two processes behind one proxy), each
    with its own engine and kept connections, on one database: every change made
    through the first is what the second answers from its very next request, for
    one view's permission and for several checked in one request."""
    caplog.set_level(logging.INFO)
    engines = [pg_engine(postgres_url), pg_engine(postgres_url)]
    try:
        here, there = (host_app(engine, clock) for engine in engines)
        create_user(here, "root", is_admin=True)
        for name in ("ann", "bob"):
            create_user(here, name)
        committed(here, setup)
        ann_there = logged_in(there, "ann")
        ann_here = webtest.TestApp(here, extra_environ={"REMOTE_ADDR": "192.0.2.10"})
        ann_here.cookiejar = ann_there.cookiejar  # one browser, either process
        root_there = logged_in(there, "root")

        def held() -> list[str]:
            """What ann holds, as the second instance answers her next requests."""
            answer: list[str] = ann_there.get("/checks").json["held"]
            status = ann_there.get("/reports", status="*").status_int
            assert status == (200 if "reports.view" in answer else 403)
            return answer

        def change(step: Callable[[Context], Any]) -> None:
            committed(here, step)  # through the first instance, committed

        assert held() == ["reports.view"]
        steps: list[tuple[Callable[[Context], Any], list[str]]] = [
            (lambda c: roles.revoke_permission(c, role(c, "reviewer"), "reports.view"), []),
            (
                lambda c: roles.grant_permission(c, role(c, "reviewer"), "reports.view"),
                ["reports.view"],
            ),
            (
                lambda c: roles.grant_role(c, role(c, "exporter"), user=user(c, "ann")),
                ["reports.export", "reports.view"],
            ),
            (
                lambda c: groups.remove_member(c, group(c, "trial"), user(c, "ann")),
                ["reports.export"],
            ),
            (
                lambda c: groups.add_member(c, group(c, "trial"), user(c, "ann")),
                [
                    "reports.export",
                    "reports.view",
                ],
            ),
            (
                lambda c: roles.grant_permission(c, role(c, "exporter"), "reports.delete"),
                ["reports.delete", "reports.export", "reports.view"],
            ),
            (lambda c: roles.delete_role(c, role(c, "exporter")), ["reports.view"]),
            (lambda c: groups.delete_group(c, group(c, "trial")), []),
        ]
        for step, expected in steps:
            change(step)
            assert held() == expected
            assert ann_here.get("/checks").json["held"] == expected  # and in the first
        # an administrator holds every declared permission, without any role
        assert root_there.get("/checks").json["held"] == sorted(DECLARED)
        assert_nothing_logged_as_error(caplog)
    finally:
        for engine in engines:
            engine.dispose()
