"""A host application's own permissions, held through roles and groups (PRODUCT §17),
through the real security policy: real logins at /login, on both databases.

The host (``reports_app.py``) declares ``reports.view``, ``reports.export`` and
``trial.sign`` in code and ``trial.read`` in the ``camauth.permissions`` setting;
its ``/trials/{name}`` context allows ``trial.read`` to ``group:trial-NAME`` and
``trial.sign`` to ``role:signer``. Every change is made with the services, as
the console and the command line make it, and counts from the next request on.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import webtest
from pyramid.router import Router
from sqlalchemy import event

from camauth.clock import FakeClock
from camauth.models import SessionKind, User
from camauth.services import accounts, groups, roles, sessions
from camauth.services.context import Context
from camauth.services.session_lookup import SessionLookup

from ..conftest import GOOD_PASSWORD, app_context, login
from .reports_app import CODE_PERMISSIONS, SETTING, make_app

EVERY_PERMISSION = sorted(["camauth.view", "camauth.admin", *CODE_PERMISSIONS, "trial.read"])


@pytest.fixture
def host_app(ini_settings: dict[str, Any], clock: FakeClock) -> Iterator[Router]:
    settings = {
        **ini_settings,
        "camauth.permissions": SETTING,
        "camauth.mfa.required_for": "none",  # the administrator logs in with a password
    }
    app = make_app(settings, clock)
    with changes(app) as ctx:
        for name in ("alice", "bob", "carol"):
            accounts.create_user(ctx, name, password=GOOD_PASSWORD)
        accounts.create_user(ctx, "root", password=GOOD_PASSWORD, is_admin=True)
        accounts.create_user(ctx, "dave", password=GOOD_PASSWORD, must_change_password=True)
    yield app
    app.registry["camauth.engine"].dispose()


@contextmanager
def changes(app: Router) -> Iterator[Context]:
    """Change roles and groups as the console does: the host's own catalogue, committed."""
    ctx = replace(app_context(app), permissions=app.registry["camauth.permissions"])
    try:
        yield ctx
        ctx.db.commit()
    finally:
        ctx.db.close()


def user(ctx: Context, name: str) -> User:
    found = accounts.find_user(ctx, name)
    assert found is not None
    return found


Browser = Callable[[str], webtest.TestApp]


@pytest.fixture
def browser(host_app: Router) -> Browser:
    """A browser logged in as ``name`` through the login form."""

    def log_in(name: str) -> webtest.TestApp:
        agent = webtest.TestApp(host_app, extra_environ={"REMOTE_ADDR": "192.0.2.30"})
        login(agent, name, GOOD_PASSWORD, status=303)
        return agent

    return log_in


def whoami(agent: webtest.TestApp, **kw: Any) -> dict[str, Any]:
    answer: dict[str, Any] = agent.get("/whoami", status=200, **kw).json
    return answer


def forbidden(agent: webtest.TestApp, path: str) -> None:
    page = agent.get(path, status=403)
    assert "You do not have access to this page." in page.text


# --- a role granted to the user ----------------------------------------------------------


def test_a_role_granted_directly_then_revoked(host_app: Router, browser: Browser) -> None:
    alice = browser("alice")
    forbidden(alice, "/reports")
    with changes(host_app) as ctx:
        reviewer = roles.create_role(ctx, "reviewer", ["reports.view"])
        roles.grant_role(ctx, reviewer, user=user(ctx, "alice"))
    # the next request, on the same session, holds it
    assert alice.get("/reports", status=200).text == "Reports for alice"
    assert alice.get("/reports/both", status=200).text == "reports.view"
    assert whoami(alice) == {
        "permissions": ["camauth.view", "reports.view"],
        "principals": ["role:reviewer"],
        "administered_groups": [],
    }
    with changes(host_app) as ctx:
        reviewer = roles.find_role(ctx, "reviewer")
        assert reviewer is not None
        assert roles.revoke_role(ctx, reviewer, user=user(ctx, "alice"))
    forbidden(alice, "/reports")
    assert alice.get("/reports/both", status=200).text == "-"
    assert whoami(alice)["permissions"] == ["camauth.view"]


def test_a_permission_taken_from_the_role_then_the_role_deleted(
    host_app: Router, browser: Browser
) -> None:
    with changes(host_app) as ctx:
        reviewer = roles.create_role(ctx, "reviewer", ["reports.view", "reports.export"])
        roles.grant_role(ctx, reviewer, user=user(ctx, "alice"))
    alice = browser("alice")
    assert alice.get("/reports/both", status=200).text == "reports.export reports.view"
    with changes(host_app) as ctx:
        reviewer = roles.find_role(ctx, "reviewer")
        assert reviewer is not None
        assert roles.revoke_permission(ctx, reviewer, "reports.view")
    forbidden(alice, "/reports")
    assert alice.get("/reports/both", status=200).text == "reports.export"
    assert whoami(alice)["principals"] == ["role:reviewer"]
    with changes(host_app) as ctx:
        reviewer = roles.find_role(ctx, "reviewer")
        assert reviewer is not None
        roles.grant_permission(ctx, reviewer, "reports.view")
    assert alice.get("/reports", status=200).text == "Reports for alice"
    with changes(host_app) as ctx:
        reviewer = roles.find_role(ctx, "reviewer")
        assert reviewer is not None
        roles.delete_role(ctx, reviewer)
    forbidden(alice, "/reports")
    assert alice.get("/reports/both", status=200).text == "-"
    assert whoami(alice) == {
        "permissions": ["camauth.view"],
        "principals": [],
        "administered_groups": [],
    }


# --- a role granted to a group -----------------------------------------------------------


def test_a_role_through_a_group_then_the_member_removed(host_app: Router, browser: Browser) -> None:
    with changes(host_app) as ctx:
        reviewer = roles.create_role(ctx, "reviewer", ["reports.view"])
        trial = groups.create_group(ctx, "trial-17")
        roles.grant_role(ctx, reviewer, group=trial)
        groups.add_member(ctx, trial, user(ctx, "bob"))
    bob = browser("bob")
    assert bob.get("/reports", status=200).text == "Reports for bob"
    assert whoami(bob) == {
        "permissions": ["camauth.view", "reports.view"],
        "principals": ["role:reviewer", "group:trial-17"],
        "administered_groups": [],
    }
    # the context's ACL allows trial.read to group:trial-17, only for trial 17
    assert bob.get("/trials/17", status=200).text == "Records of trial 17"
    forbidden(bob, "/trials/18")
    # alice is in no group
    alice = browser("alice")
    forbidden(alice, "/reports")
    forbidden(alice, "/trials/17")

    with changes(host_app) as ctx:
        trial = groups.find_group(ctx, "trial-17")
        assert trial is not None
        assert groups.remove_member(ctx, trial, user(ctx, "bob"))
    forbidden(bob, "/reports")
    forbidden(bob, "/trials/17")
    assert whoami(bob)["principals"] == []


def test_a_role_revoked_from_the_group(host_app: Router, browser: Browser) -> None:
    with changes(host_app) as ctx:
        reviewer = roles.create_role(ctx, "reviewer", ["reports.view"])
        trial = groups.create_group(ctx, "trial-17")
        roles.grant_role(ctx, reviewer, group=trial)
        groups.add_member(ctx, trial, user(ctx, "bob"))
        # held both ways: revoking one leaves the other
        roles.grant_role(ctx, reviewer, user=user(ctx, "bob"))
    bob = browser("bob")
    with changes(host_app) as ctx:
        reviewer = roles.find_role(ctx, "reviewer")
        assert reviewer is not None
        assert roles.revoke_role(ctx, reviewer, user=user(ctx, "bob"))
    assert bob.get("/reports", status=200).text == "Reports for bob"
    with changes(host_app) as ctx:
        reviewer, trial = roles.find_role(ctx, "reviewer"), groups.find_group(ctx, "trial-17")
        assert reviewer is not None and trial is not None
        assert roles.revoke_role(ctx, reviewer, group=trial)
    forbidden(bob, "/reports")
    assert whoami(bob)["principals"] == ["group:trial-17"]


def test_the_role_principal_opens_what_the_acl_allows(host_app: Router, browser: Browser) -> None:
    # the role holds no permission itself: the context's ACL names it
    with changes(host_app) as ctx:
        signer = roles.create_role(ctx, "signer")
        roles.grant_role(ctx, signer, user=user(ctx, "alice"))
    alice = browser("alice")
    assert alice.get("/trials/17/sign", status=200).text == "Signed trial 17"
    assert alice.get("/trials/99/sign", status=200).text == "Signed trial 99"
    forbidden(alice, "/trials/17")  # trial.read: the group's, not the role's
    assert whoami(alice)["permissions"] == ["camauth.view"]  # the ACL's are per context
    forbidden(browser("bob"), "/trials/17/sign")
    with changes(host_app) as ctx:
        signer = roles.find_role(ctx, "signer")
        assert signer is not None
        roles.delete_role(ctx, signer)
    forbidden(alice, "/trials/17/sign")


# --- administrators, visitors, people owing an action --------------------------------------


def test_an_administrator_holds_every_permission(host_app: Router, browser: Browser) -> None:
    root = browser("root")
    assert root.get("/reports", status=200).text == "Reports for root"
    assert root.get("/reports/both", status=200).text == (
        "reports.export reports.view trial.read trial.sign"
    )
    assert root.get("/trials/17", status=200).text == "Records of trial 17"
    assert root.get("/trials/17/sign", status=200).text == "Signed trial 17"
    assert whoami(root) == {
        "permissions": EVERY_PERMISSION,
        "principals": [],  # no group:admin: administrators hold the permissions themselves
        "administered_groups": [],
    }


@pytest.mark.parametrize("path", ["/reports", "/reports/both", "/trials/17", "/trials/17/sign"])
def test_a_visitor_is_sent_to_login(host_app: Router, path: str) -> None:
    visitor = webtest.TestApp(host_app)
    response = visitor.get(path, status=303)
    assert "/login?next=" in response.location
    assert visitor.get("/whoami", status=303).location.endswith("/login?next=%2Fwhoami")


def test_someone_owing_an_action_holds_nothing_until_it_is_done(
    host_app: Router, browser: Browser
) -> None:
    with changes(host_app) as ctx:
        reviewer = roles.create_role(ctx, "reviewer", ["reports.view"])
        signer = roles.create_role(ctx, "signer")
        trial = groups.create_group(ctx, "trial-17")
        dave = user(ctx, "dave")
        roles.grant_role(ctx, reviewer, user=dave)
        roles.grant_role(ctx, signer, user=dave)
        groups.add_member(ctx, trial, dave, group_admin=True)
    dave_browser = browser("dave")  # must change the password first
    for path in ("/reports", "/reports/both", "/trials/17", "/trials/17/sign"):
        gate = dave_browser.get(path, status=303)
        assert "/account/password" in gate.location, path
    assert whoami(dave_browser) == {"permissions": [], "principals": [], "administered_groups": []}


def test_a_group_administrator_holds_no_role_by_it(host_app: Router, browser: Browser) -> None:
    with changes(host_app) as ctx:
        roles.create_role(ctx, "reviewer", ["reports.view"])
        trial = groups.create_group(ctx, "trial-18")
        groups.add_member(ctx, trial, user(ctx, "carol"), group_admin=True)
    carol = browser("carol")
    forbidden(carol, "/reports")
    forbidden(carol, "/trials/17")
    forbidden(carol, "/trials/17/sign")
    forbidden(carol, "/admin")
    assert carol.get("/reports/both", status=200).text == "-"
    assert whoami(carol) == {
        "permissions": ["camauth.view"],
        "principals": ["group:trial-18"],
        "administered_groups": ["trial-18"],
    }


def test_a_role_listing_camauths_own_permissions_makes_no_administrator(
    host_app: Router, browser: Browser
) -> None:
    with changes(host_app) as ctx:
        admins = roles.create_role(ctx, "admins", ["camauth.admin", "reports.view"])
        roles.grant_role(ctx, admins, user=user(ctx, "alice"))
    alice = browser("alice")
    forbidden(alice, "/admin")
    assert alice.get("/reports", status=200).text == "Reports for alice"
    # the set says what the policy allows: not camauth.admin
    assert whoami(alice)["permissions"] == ["camauth.view", "reports.view"]


# --- a bearer token -----------------------------------------------------------------------


def api_token(app: Router, username: str) -> str:
    """An API session as an approved device login leaves it."""
    with changes(app) as ctx:
        token, row = sessions.create_session(ctx, user=user(ctx, username), kind=SessionKind.API)
        row.scope = "api"
    return token


def test_a_bearer_token_holds_the_role_s_permissions(host_app: Router) -> None:
    with changes(host_app) as ctx:
        reviewer = roles.create_role(ctx, "reviewer", ["reports.view"])
        trial = groups.create_group(ctx, "trial-17")
        roles.grant_role(ctx, reviewer, group=trial)
        groups.add_member(ctx, trial, user(ctx, "alice"))
    tool = webtest.TestApp(host_app)
    bearer = {"Authorization": f"Bearer {api_token(host_app, 'alice')}"}
    assert tool.get("/reports", headers=bearer, status=200).text == "Reports for alice"
    assert tool.get("/trials/17", headers=bearer, status=200).text == "Records of trial 17"
    assert whoami(tool, headers=bearer)["permissions"] == ["camauth.view", "reports.view"]
    refused = tool.get("/trials/17/sign", headers=bearer, status=403)
    assert refused.json["error"] == "forbidden"
    with changes(host_app) as ctx:
        trial = groups.find_group(ctx, "trial-17")
        assert trial is not None
        groups.remove_member(ctx, trial, user(ctx, "alice"))
    assert tool.get("/reports", headers=bearer, status=403).json["error"] == "forbidden"
    assert "Set-Cookie" not in tool.get("/whoami", headers=bearer).headers


# --- one query for the holdings ---------------------------------------------------------------


class Statements:
    """Every statement a request runs: the lookup's raw ones and the ORM's."""

    def __init__(self, app: Router, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sql: list[str] = []
        lookup: SessionLookup = app.registry["camauth.session_lookup"]
        self.holdings_sql = lookup._holdings_sql
        real_rows = lookup._rows

        def rows(sql: str, parameters: Any) -> list[Any]:
            self.sql.append(sql)
            return real_rows(sql, parameters)

        monkeypatch.setattr(lookup, "_rows", rows)
        engine = app.registry["camauth.engine"]

        def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            self.sql.append(statement)

        event.listen(engine, "before_cursor_execute", before)
        self.stop = lambda: event.remove(engine, "before_cursor_execute", before)

    def of(self, agent: webtest.TestApp, path: str, **kw: Any) -> tuple[int, int]:
        """(holdings queries, other statements naming the role tables) of one request."""
        self.sql.clear()
        agent.get(path, **kw)
        holdings = sum(1 for sql in self.sql if sql == self.holdings_sql)
        others = [
            sql
            for sql in self.sql
            if sql != self.holdings_sql and ("role" in sql or "group_members" in sql)
        ]
        return holdings, len(others)


@pytest.fixture
def statements(host_app: Router, monkeypatch: pytest.MonkeyPatch) -> Iterator[Statements]:
    counter = Statements(host_app, monkeypatch)
    yield counter
    counter.stop()


def test_one_holdings_query_however_many_checks(
    host_app: Router, browser: Browser, statements: Statements
) -> None:
    with changes(host_app) as ctx:
        reviewer = roles.create_role(ctx, "reviewer", ["reports.view", "reports.export"])
        trial = groups.create_group(ctx, "trial-17")
        roles.grant_role(ctx, reviewer, group=trial)
        groups.add_member(ctx, trial, user(ctx, "bob"))
        roles.grant_role(ctx, roles.create_role(ctx, "signer"), user=user(ctx, "bob"))
    bob = browser("bob")
    # 20 checks in the view, denied ones through the ACL too: one query
    assert statements.of(bob, "/reports/both", status=200) == (1, 0)
    # trial.sign is the ACL's of a trial: the root context has none
    assert bob.get("/reports/both").text == "reports.export reports.view"
    assert statements.of(bob, "/reports", status=200) == (1, 0)
    assert statements.of(bob, "/trials/17", status=200) == (1, 0)  # the ACL's principals
    assert statements.of(bob, "/trials/17/sign", status=200) == (1, 0)
    assert statements.of(bob, "/whoami", status=200) == (1, 0)
    # and every request asks again: nothing is kept from the one before
    assert statements.of(bob, "/reports", status=200) == (1, 0)
    # a denial reads them once too
    assert statements.of(browser("alice"), "/reports/both", status=200) == (1, 0)
    assert statements.of(browser("carol"), "/trials/17", status=403) == (1, 0)


def test_no_holdings_query_for_camauth_s_own_permissions(
    host_app: Router, browser: Browser, statements: Statements
) -> None:
    with changes(host_app) as ctx:
        reviewer = roles.create_role(ctx, "reviewer", ["reports.view"])
        roles.grant_role(ctx, reviewer, user=user(ctx, "alice"))
    alice = browser("alice")
    assert statements.of(alice, "/reports/plain", status=200) == (0, 0)
    # an administrator holds every permission without asking the database
    root = browser("root")
    assert statements.of(root, "/reports/both", status=200) == (0, 0)
    assert statements.of(root, "/whoami", status=200) == (1, 0)  # the view asked for them
    # a visitor and someone owing an action: none
    assert statements.of(webtest.TestApp(host_app), "/reports", status=303) == (0, 0)
    assert statements.of(browser("dave"), "/reports", status=303) == (0, 0)


# --- the README's example ------------------------------------------------------------------

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_roles_example() -> str:
    section = README.read_text().split("### Roles and groups", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "no Python example in the README's roles and groups section"
    return found.group(1)


def test_the_readme_roles_example_runs_as_pasted(
    ini_settings: dict[str, Any],
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # pasted into a module of its own (config.include reads the module's source file)
    source = tmp_path / "readme_roles_example.py"
    source.write_text(readme_roles_example())
    spec = importlib.util.spec_from_file_location("readme_roles_example", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "readme_roles_example", module)
    spec.loader.exec_module(module)
    namespace = vars(module)
    app = namespace["main"]({}, **ini_settings)
    app.registry["camauth.clock"] = clock
    try:
        with changes(app) as ctx:
            accounts.create_user(ctx, "alice", password=GOOD_PASSWORD)
            accounts.create_user(ctx, "bob", password=GOOD_PASSWORD)
        alice = webtest.TestApp(app)
        login(alice, "alice", GOOD_PASSWORD, status=303)
        forbidden(alice, "/reports")
        with changes(app) as ctx:
            namespace["open_reports_to_trial_17"](ctx)
        assert alice.get("/reports", status=200).text == "Reports for alice (export: False)"
        bob = webtest.TestApp(app)
        login(bob, "bob", GOOD_PASSWORD, status=303)
        forbidden(bob, "/reports")
        with changes(app) as ctx:
            reviewer = roles.find_role(ctx, "reviewer")
            assert reviewer is not None
            roles.grant_permission(ctx, reviewer, "reports.export")
        assert alice.get("/reports", status=200).text == "Reports for alice (export: True)"
    finally:
        app.registry["camauth.engine"].dispose()
