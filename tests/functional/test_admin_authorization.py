"""Who may use the administrator console (PRODUCT §9, §7, §17), checked on every route.

The routes are not listed here: they are read from the running application's route
table (Pyramid's introspector), with the request methods of the views registered
on each. Every route whose pattern starts with ``/admin`` is requested, with each
of its methods, by an anonymous visitor, by a logged-in user who is not an
administrator and by an administrator who still owes a required action; none of
them may see a console page or change anything. A group administrator may see the
page of a group they administer and add and remove its members, and nothing else.
So a page added to the console later is covered the day it is added, and one left
without its permission fails here.

Placeholders in a pattern (``{id:\\d{1,10}}``, ``{name:...}``) are filled with the
id or name of a real row: the user, session, role, group, linked provider login
(identity) or passkey the segment before it names, else a user. An administrator then
requests every page (a filled-in URL that named nothing would be a 404) and sends
every form, to show the probes would have found a change had the refused ones got
through.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import webtest
from pyramid.config import Configurator
from pyramid.response import Response
from sqlalchemy import inspect, text

from camauth.models import ExternalIdentity, User, UserStatus, WebSession
from camauth.models.passkey import Passkey
from camauth.services import accounts, groups, lockout, mfa, roles, sessions
from camauth.services.context import Origin
from camauth.web.security import ADMIN, VIEW
from camauth.web.views.admin import groups as group_views
from camauth.web.views.admin import roles as role_views

from ..conftest import GOOD_PASSWORD, app_context
from .conftest import browser, engine_of, location, logged_in, submit_login

ADMIN_PREFIX = "/admin"
# a whole placeholder, whatever regular expression it carries: {id}, {id:\d+}, {n:\d{2}}
PLACEHOLDER = re.compile(r"\{[A-Za-z_]\w*(?::(?:[^{}]|\{[^{}]*\})*)?\}")
TEMPORARY_PASSWORD = "seven quiet lanterns over the meadow"
TOKEN_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # a hardware token's sheet, base32
MUST_BE_THERE = {
    ("/admin", "GET"),
    ("/admin/users", "GET"),
    ("/admin/users/new", "GET"),
    ("/admin/users/new", "POST"),
    ("/admin/users/{id:\\d{1,10}}", "GET"),
    ("/admin/users/{id:\\d{1,10}}/delete", "POST"),
    ("/admin/users/{id:\\d{1,10}}/identities/{identity_id:\\d{1,10}}/unlink", "GET"),
    ("/admin/users/{id:\\d{1,10}}/identities/{identity_id:\\d{1,10}}/unlink", "POST"),
    ("/admin/users/{id:\\d{1,10}}/passkeys/{passkey_id:\\d{1,10}}/remove", "GET"),
    ("/admin/users/{id:\\d{1,10}}/passkeys/{passkey_id:\\d{1,10}}/remove", "POST"),
    ("/admin/lockouts", "GET"),
    ("/admin/lockouts/unlock", "POST"),
    ("/admin/sessions", "GET"),
    ("/admin/sessions/{id:\\d{1,10}}/end", "POST"),
    ("/admin/audit", "GET"),
    ("/admin/audit.csv", "GET"),
    ("/admin/roles", "GET"),
    ("/admin/roles", "POST"),
    ("/admin/roles/{name:[a-z0-9][a-z0-9._-]{0,63}}", "GET"),
    ("/admin/roles/{name:[a-z0-9][a-z0-9._-]{0,63}}/grant-permission", "POST"),
    ("/admin/groups", "GET"),
    ("/admin/groups/{name:[a-z0-9][a-z0-9._-]{0,63}}", "GET"),
    ("/admin/groups/{name:[a-z0-9][a-z0-9._-]{0,63}}/add-member", "POST"),
    ("/admin/groups/{name:[a-z0-9][a-z0-9._-]{0,63}}/remove-member", "POST"),
    ("/admin/groups/{name:[a-z0-9][a-z0-9._-]{0,63}}/delete", "POST"),
}
MINIMUM_PROBES = 20
# a host application's permissions, for roles to hold
HOST_PERMISSIONS = {"permissions": "reports.view = See reports\nreports.export = Export reports"}
# what a group administrator may use, for the groups they administer (and only those)
FOR_GROUP_ADMINISTRATORS = group_views.FOR_GROUP_ADMINISTRATORS
GROUP_ADMIN = "gadmin"


# --- the route table ----------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One request method of one console route."""

    route: str
    pattern: str
    method: str

    def __str__(self) -> str:
        return f"{self.method} {self.pattern}"


def _methods(view: Any) -> tuple[str, ...]:
    """The methods a view answers; one registered for any method is tried with both."""
    methods = view["request_methods"]
    if methods is None:
        return ("GET", "POST")
    if isinstance(methods, str):
        methods = (methods,)
    # Pyramid adds HEAD to every GET view; HEAD is GET without the body
    return tuple(method for method in methods if method != "HEAD")


def console_routes(app: Any) -> list[dict[str, Any]]:
    """The route table's entries under /admin (with their related introspectables)."""
    found = []
    for entry in app.registry.introspector.get_category("routes"):
        route = entry["introspectable"]
        if route["pattern"].lstrip("/").startswith(ADMIN_PREFIX.lstrip("/")):
            found.append(entry)
    return found


def console_probes(app: Any) -> list[Probe]:
    """Every (route, method) pair the console's views are registered for."""
    probes: set[Probe] = set()
    for entry in console_routes(app):
        route = entry["introspectable"]
        for view in entry["related"]:
            if view.category_name != "views":
                continue
            for method in _methods(view):
                probes.add(Probe(route["name"], route["pattern"], method))
    return sorted(probes, key=lambda probe: (probe.pattern, probe.method))


# --- the people and the things they might change --------------------------------------


@dataclass
class Victim:
    """An account an intruder would like to change: it has an email, two-factor, a
    live session, and it is locked out, so every console action would show. It has
    a role (granted to it and to its group) and is a member of a group, beside a
    spare role and another group, so every roles-and-groups action would show too.
    It has a login at another provider linked (besides its password), for Unlink,
    and a passkey, for Remove."""

    id: int
    username: str
    session_id: int
    role: str = ""  # holds reports.export; granted to the victim and to ``group``
    spare_role: str = ""  # no permission, granted to nobody
    group: str = ""  # members: the victim, and ``deputy_id`` as its group administrator
    other_group: str = ""  # no members, no roles
    deputy_id: int = 0
    identity_id: int = 0  # its linked provider login
    passkey_id: int = 0  # its passkey


def probe_network(number: int) -> str:
    """The network whose throttle probe ``number``'s Lift would end."""
    return f"2001:db8:{number:x}::/64"


def make_victim(
    app: Any, username: str, number: int | None = None, group_admin: str = "", **kw: Any
) -> Victim:
    """With ``number``: also the things probe ``number``'s body names by other names
    than the victim's: a locked unknown username and a throttled network. With
    ``group_admin``: that user, not a new deputy, administers the victim's group."""
    ctx = app_context(app)
    try:
        user = accounts.create_user(
            ctx,
            username,
            password=GOOD_PASSWORD,
            email=f"{username}@example.org",
            full_name="Vic Tim",
            **kw,
        )
        secret = pyotp.random_base32(32)
        mfa.enrol_app(ctx, user, secret, pyotp.TOTP(secret).at(ctx.clock()))
        _token, row = sessions.create_session(ctx, user=user)
        for _ in range(ctx.settings.lockout_threshold):
            lockout.record_failure(ctx, user.username_key, user=user)
        if number is not None:
            sprayer = replace(ctx, origin=Origin(ip=f"2001:db8:{number:x}::1"))
            for _ in range(ctx.settings.lockout_threshold):
                lockout.record_failure(sprayer, f"newcomer{number}")
            others = ctx.settings.lockout_ip_threshold + 1 - ctx.settings.lockout_threshold
            for other in range(others):
                lockout.record_failure(sprayer, f"sprayed{number}-{other}")
        victim = Victim(user.id, user.username, row.id)
        give_roles_and_groups(ctx, victim, user, group_admin)
        victim.identity_id = link_identity(ctx, user)
        victim.passkey_id = add_passkey(ctx, user)
        ctx.db.commit()
        return victim
    finally:
        ctx.db.close()


def give_roles_and_groups(ctx: Any, victim: Victim, user: User, group_admin: str) -> None:
    name = str(victim.id)  # not the username: URLs with it must not count as leaks
    victim.role, victim.spare_role = f"role-{name}", f"spare-{name}"
    victim.group, victim.other_group = f"team-{name}", f"other-{name}"
    role = roles.create_role(ctx, victim.role, ["reports.export"])
    roles.create_role(ctx, victim.spare_role)
    group = groups.create_group(ctx, victim.group)
    groups.create_group(ctx, victim.other_group)
    deputy = accounts.find_user(ctx, group_admin) if group_admin else None
    if deputy is None:
        deputy = accounts.create_user(ctx, f"deputy-{name}")  # no password: no login
    victim.deputy_id = deputy.id
    roles.grant_role(ctx, role, user=user)
    roles.grant_role(ctx, role, group=group)
    groups.add_member(ctx, group, user)
    groups.add_member(ctx, group, deputy, group_admin=True)


def link_identity(ctx: Any, user: User) -> int:
    """A login at another provider linked to ``user``, as a callback would store it."""
    identity = ExternalIdentity(
        user_id=user.id,
        provider="example",
        issuer="https://id.example.net",
        subject=f"subject-{user.id}",
        email="",
        created_at=ctx.clock(),
    )
    ctx.db.add(identity)
    ctx.db.flush()
    return identity.id


def add_passkey(ctx: Any, user: User) -> int:
    """A passkey of ``user``, as a registration would store it (dummy key material)."""
    passkey = Passkey(
        user_id=user.id,
        credential_id=f"credential-{user.id}",
        public_key=b"not a real COSE key",
        sign_count=0,
        transports="usb",
        user_handle=f"handle-{user.id}",
        name="Security key",
        created_at=ctx.clock(),
    )
    ctx.db.add(passkey)
    ctx.db.flush()
    return passkey.id


def add_user(app: Any, username: str, **kw: Any) -> int:
    ctx = app_context(app)
    try:
        user = accounts.create_user(ctx, username, password=GOOD_PASSWORD, **kw)
        ctx.db.commit()
        return user.id
    finally:
        ctx.db.close()


def fill(pattern: str, victim: Victim) -> str:
    """The pattern's path with each placeholder replaced by a real id or name: the
    victim's session after ``/sessions/``, role after ``/roles/``, group after
    ``/groups/``, linked provider login after ``/identities/``, passkey after
    ``/passkeys/``, otherwise the victim's user id."""
    ids = {
        "sessions": victim.session_id,
        "users": victim.id,
        "roles": victim.role,
        "groups": victim.group,
        "identities": victim.identity_id,
        "passkeys": victim.passkey_id,
    }

    def replace(match: re.Match[str]) -> str:
        segments = [part for part in pattern[: match.start()].split("/") if part]
        collection = segments[-1] if segments else ""
        return str(ids.get(collection, victim.id))

    path = PLACEHOLDER.sub(replace, pattern)
    assert "{" not in path and "}" not in path, (pattern, path)
    return path


def form_values(
    csrf_token: str, victim: Victim, number: int, clock_now: Any, probe: Probe | None = None
) -> dict[str, str]:
    """One body for every console form: each field any of them asks for, with values
    that would make the action work (a new username, a policy-proof password, the
    token's current code...). Forms ignore the fields they do not have. A few fields
    mean opposite things to two forms (a permission to grant, one to revoke): the
    probe's route picks the value that would work for it."""
    return {
        "csrf_token": csrf_token,
        "username": f"newcomer{number}",
        "email": "",
        "full_name": "Changed By A Probe",
        "is_admin": "true",
        "temporary_password": TEMPORARY_PASSWORD,
        "force_change": "true",
        "secret": TOKEN_SECRET,
        "code": pyotp.TOTP(TOKEN_SECRET).at(clock_now),
        "period": "30",
        "digits": "6",
        "algorithm": "sha1",
        "replace": "true",
        "user": victim.username,
        "network": probe_network(number),
        "event": "",
        "since": "",
        "until": "",
        # roles and groups
        "name": f"probe{number}",
        "description": "Made by a probe",
        "permission": "reports.view",
        "user_id": str(victim.id),
        "group_admin": "true",
        "role": victim.spare_role,
        "group": victim.other_group,
    } | (route_values(probe.route, victim) if probe is not None else {})


def route_values(route: str, victim: Victim) -> dict[str, str]:
    return {
        role_views.REVOKE_PERMISSION: {"permission": "reports.export"},
        role_views.GRANT_USER: {"username": "root"},
        role_views.REVOKE_GROUP: {"group": victim.group},
        group_views.ADD_MEMBER: {"username": "root"},
        group_views.REVOKE_GROUP_ADMIN: {"user_id": str(victim.deputy_id)},
        group_views.REVOKE_ROLE: {"role": victim.role},
    }.get(route, {})


# --- looking at the database -----------------------------------------------------------


def snapshot(app: Any, but_sessions_of: int | None = None) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table, in a stable order; without the session rows of
    ``but_sessions_of`` if given (the acting administrator's, which hold flashes)."""
    engine = engine_of(app)
    tables = sorted(inspect(engine).get_table_names())
    sessions_table = WebSession.__tablename__
    dump = {}
    with engine.connect() as connection:
        for name in tables:
            query = f'SELECT * FROM "{name}"'
            if name == sessions_table and but_sessions_of is not None:
                query += f" WHERE user_id IS NULL OR user_id <> {int(but_sessions_of)}"
            rows = connection.execute(text(query))
            dump[name] = sorted(tuple(repr(value) for value in row) for row in rows)
    return dump


def changes(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> list[str]:
    """The tables whose rows differ, with their row counts."""
    return [
        f"{name}: {len(before.get(name, []))} -> {len(after.get(name, []))} rows"
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]


# --- clients ---------------------------------------------------------------------------


def csrf_of(page: webtest.TestResponse) -> str:
    """The CSRF token of the first form on ``page`` that has one."""
    for form in page.forms.values():
        if "csrf_token" in form.fields:
            return str(form["csrf_token"].value)
    raise AssertionError(f"no form with a CSRF token on {page.request.path}")


def send(
    client: webtest.TestApp, probe: Probe, path: str, body: dict[str, str]
) -> webtest.TestResponse:
    if probe.method == "GET":
        return client.get(path, status="*")
    return client.request(path, method=probe.method, POST=body, status="*", expect_errors=True)


def redirect_target(response: webtest.TestResponse) -> tuple[str, dict[str, list[str]]]:
    """Path and query of a 303's Location."""
    parts = urlsplit(location(response))
    return parts.path, parse_qs(parts.query)


@dataclass
class Console:
    app: Any
    probes: list[Probe]
    victim: Victim
    admin_id: int

    def probe_all(
        self,
        client: webtest.TestApp,
        csrf_token: str,
        judge: Callable[[Probe, str, webtest.TestResponse], str | None],
    ) -> list[str]:
        """Send every probe; return what ``judge`` or the database found wrong."""
        problems: list[str] = []
        for number, probe in enumerate(self.probes):
            path = fill(probe.pattern, self.victim)
            body = form_values(
                csrf_token, self.victim, number, self.app.registry["camauth.clock"](), probe
            )
            before = snapshot(self.app)
            response = send(client, probe, path, body)
            after = snapshot(self.app)
            verdict = judge(probe, path, response)
            if verdict:
                problems.append(f"{probe.method} {path}: {verdict}")
            changed = changes(before, after)
            if changed:
                problems.append(f"{probe.method} {path} changed the database: {changed}")
        return problems


@pytest.fixture
def console(app_factory: Callable[..., Any]) -> Console:
    """An app with a prober (no administrator), an administrator, and a victim."""
    # a low IP threshold: the victims' networks are throttled with few failures
    app = app_factory(
        **{"mfa.required_for": "none", "lockout.ip_threshold": "12", **HOST_PERMISSIONS}
    )
    admin_id = add_user(app, "root", is_admin=True)
    add_user(app, "mallory")
    add_user(app, GROUP_ADMIN)
    victim = make_victim(app, "victor")
    return Console(app, console_probes(app), victim, admin_id)


def leaks(response: webtest.TestResponse, victim: Victim) -> bool:
    body = response.text
    return victim.username in body or f"{victim.username}@example.org" in body


# --- tests -------------------------------------------------------------------------------


def test_the_route_table_lists_the_whole_console(console: Console) -> None:
    """The enumeration found the console (so the tests below cannot pass on nothing)."""
    found = {(probe.pattern, probe.method) for probe in console.probes}
    assert len(found) >= MINIMUM_PROBES, sorted(found)
    assert found >= MUST_BE_THERE, sorted(MUST_BE_THERE - found)
    # and every placeholder in it is filled with something
    for probe in console.probes:
        path = fill(probe.pattern, console.victim)
        assert path.startswith(ADMIN_PREFIX) and "{" not in path, path


def test_every_console_view_needs_the_admin_permission(console: Console) -> None:
    """What the requests below show, read from the configuration itself. The views a
    group administrator uses need VIEW and check the group themselves (the
    requests below show they do)."""
    unprotected = []
    for entry in console_routes(console.app):
        pattern = entry["introspectable"]["pattern"]
        wanted = VIEW if entry["introspectable"]["name"] in FOR_GROUP_ADMINISTRATORS else ADMIN
        for view in entry["related"]:
            if view.category_name != "views":
                continue
            permissions = [
                related["value"]
                for related in console.app.registry.introspector.related(view)
                if related.category_name == "permissions"
            ]
            if permissions != [wanted]:
                unprotected.append(f"{_methods(view)} {pattern}: {permissions}")
    assert unprotected == []


def test_a_visitor_is_sent_to_log_in_and_changes_nothing(console: Console) -> None:
    client = browser(console.app)
    csrf_token = csrf_of(client.get("/login"))  # the anonymous token, with its cookie

    def judge(probe: Probe, path: str, response: webtest.TestResponse) -> str | None:
        if leaks(response, console.victim):
            return "the answer shows the victim's account"
        if probe.method == "GET":
            if response.status_int != 303:
                return f"{response.status}, not a redirect to log in"
            target, query = redirect_target(response)
            if (target, query.get("next")) != ("/login", [path]):
                return f"redirected to {location(response)}, not /login?next={path}"
            return None
        if response.status_int == 400:
            return None
        if response.status_int == 303 and redirect_target(response)[0] == "/login":
            return None
        return f"{response.status}, neither 400 nor a redirect to log in"

    assert console.probe_all(client, csrf_token, judge) == []


def test_a_visitor_without_a_token_changes_nothing(console: Console) -> None:
    client = browser(console.app)

    def judge(probe: Probe, path: str, response: webtest.TestResponse) -> str | None:
        if response.status_int == 400:
            return None
        if response.status_int == 303 and redirect_target(response)[0] == "/login":
            return None
        return f"{response.status}, neither 400 nor a redirect to log in"

    assert console.probe_all(client, "", judge) == []


def test_a_user_who_is_not_an_administrator_is_refused(console: Console) -> None:
    client = logged_in(console.app, "mallory")
    csrf_token = csrf_of(client.get("/"))

    def judge(probe: Probe, path: str, response: webtest.TestResponse) -> str | None:
        if response.status_int != 403:
            return f"{response.status}, not 403"
        if leaks(response, console.victim):
            return "the refusal shows the victim's account"
        return None

    assert console.probe_all(client, csrf_token, judge) == []
    # still logged in, still no administrator: the refusals ended nothing
    assert "Signed in as mallory" in client.get("/", status=200).text


def test_a_group_administrator_is_refused_everything_of_another_group(console: Console) -> None:
    """Administering one group opens nothing else: another group's page and forms
    are 403 like every other console page."""
    make_victim(console.app, "ownvictim", group_admin=GROUP_ADMIN)  # gadmin's own group
    client = logged_in(console.app, GROUP_ADMIN)
    csrf_token = csrf_of(client.get("/"))

    def judge(probe: Probe, path: str, response: webtest.TestResponse) -> str | None:
        if response.status_int != 403:
            return f"{response.status}, not 403"
        if leaks(response, console.victim):
            return "the refusal shows the victim's account"
        return None

    assert console.probe_all(client, csrf_token, judge) == []


def test_a_group_administrator_only_adds_and_removes_members_of_their_group(
    console: Console,
) -> None:
    """On their own group's routes: its page (200), adding and removing members
    (done); every other console route stays 403 and changes nothing."""
    own = make_victim(console.app, "ownvictim", group_admin=GROUP_ADMIN)
    theirs = replace(console, victim=own)
    client = logged_in(console.app, GROUP_ADMIN)
    csrf_token = csrf_of(client.get("/"))
    own_page = fill("/admin/groups/{name}", own)
    allowed_posts = set()

    def judge(probe: Probe, path: str, response: webtest.TestResponse) -> str | None:
        if probe.route not in FOR_GROUP_ADMINISTRATORS:
            return None if response.status_int == 403 else f"{response.status}, not 403"
        if probe.method == "GET" and probe.route == group_views.PAGE:
            return None if response.status_int == 200 else f"{response.status}, not 200"
        if response.status_int != 303 or redirect_target(response)[0] != own_page:
            return f"{response.status}, not back to {own_page}"
        if probe.method == "POST":
            allowed_posts.add(path)
        return None

    problems = theirs.probe_all(client, csrf_token, judge)
    changed = {problem.split(" changed")[0] for problem in problems if " changed " in problem}
    # adding and removing members changed the group (and nothing else was refused)
    assert changed == {f"POST {path}" for path in allowed_posts}
    assert len(allowed_posts) == 2
    assert [problem for problem in problems if " changed " not in problem] == []


def test_an_administrator_reaches_every_page(console: Console) -> None:
    """Sanity for the probes above: each filled-in URL names something real."""
    client = logged_in(console.app, "root")
    problems = []
    for probe in console.probes:
        if probe.method != "GET":
            continue
        path = fill(probe.pattern, console.victim)
        response = client.get(path, status="*")
        if response.status_int == 303:
            target, _query = redirect_target(response)
            if not target.startswith(ADMIN_PREFIX):
                problems.append(f"GET {path}: sent to {location(response)}")
        elif response.status_int != 200:
            problems.append(f"GET {path}: {response.status}")
    assert problems == []


# the kinds of account an action may need to apply at all (approve: a pending one,
# remove administrator rights: an administrator)
VICTIM_KINDS: dict[str, dict[str, Any]] = {
    "active": {},
    "pending": {"status": UserStatus.PENDING_APPROVAL},
    "administrator": {"is_admin": True},
    "disabled": {"status": UserStatus.DISABLED},
}


def one_time_token(client: webtest.TestApp, path: str) -> dict[str, str]:
    """The one-time action token of the form at ``path``, if it has one (issued to
    this administrator's session when the page is shown, as a browser would get
    it). Intruders cannot have one; they are refused before it is looked at."""
    page = client.get(path, status="*")
    if page.status_int != 200:
        return {}
    tokens = [form["once"].value for form in page.forms.values() if "once" in form.fields]
    return {"once": tokens[0]} if tokens else {}


def test_every_form_the_probes_send_would_change_something(console: Console) -> None:
    """The same bodies, sent by an administrator, are accepted and change the database
    (each on a victim of its own, of some kind): so "nothing changed" above means
    refused, not a body no form would take."""
    client = logged_in(console.app, "root")
    root_id = console.admin_id
    csrf_token = csrf_of(client.get("/admin"))
    clock = console.app.registry["camauth.clock"]
    posts = [probe for probe in console.probes if probe.method != "GET"]
    assert len(posts) >= MINIMUM_PROBES // 2, posts
    number = 0
    problems = []
    for probe in posts:
        outcomes = []
        for kind, account in VICTIM_KINDS.items():
            number += 1
            victim = make_victim(console.app, f"victim{number}", number, **account)
            path = fill(probe.pattern, victim)
            before = snapshot(console.app, but_sessions_of=root_id)
            body = form_values(csrf_token, victim, number, clock(), probe)
            body |= one_time_token(client, path)
            response = send(client, probe, path, body)
            if response.status_int != 303:
                outcomes.append(f"{kind}: {response.status}")
            elif not redirect_target(response)[0].startswith(ADMIN_PREFIX):
                outcomes.append(f"{kind}: sent to {location(response)}")
            elif not changes(before, snapshot(console.app, but_sessions_of=root_id)):
                outcomes.append(f"{kind}: changed nothing")
            else:
                break  # accepted, and it changed something
        else:
            problems.append(f"{probe}: {outcomes}")
    assert problems == []


OWED = {
    # what the administrator owes: (how to make an app and an admin who owes it, page)
    "password": ({"mfa.required_for": "none"}, {"must_change_password": True}, "/account/password"),
    "terms": (
        {"mfa.required_for": "none", "terms.revision": "2"},
        {},
        "/account/terms",
    ),
    "two-factor": ({"mfa.required_for": "admins"}, {}, "/account/two-factor"),
}


@pytest.mark.parametrize("owed", sorted(OWED))
def test_an_administrator_who_owes_an_action_is_sent_to_it(
    app_factory: Callable[..., Any], owed: str
) -> None:
    """PRODUCT §7: administrators are not exempt; the console waits until it is done."""
    settings, user_settings, page = OWED[owed]
    app = app_factory(**settings, **HOST_PERMISSIONS)
    admin_id = add_user(app, "root", is_admin=True, **user_settings)
    victim = make_victim(app, "victor")
    console = Console(app, console_probes(app), victim, admin_id)

    client = browser(app)
    response = submit_login(client, "root", GOOD_PASSWORD)
    while response.status_int == 303:  # home, then the page for the action
        response = response.follow()
    assert response.request.path == page, response.request.url
    csrf_token = csrf_of(response)

    def judge(probe: Probe, path: str, response: webtest.TestResponse) -> str | None:
        if response.status_int != 303:
            return f"{response.status}, not a redirect to {page}"
        target, query = redirect_target(response)
        wanted_next = [path] if probe.method == "GET" else None
        if (target, query.get("next")) != (page, wanted_next):
            return f"sent to {location(response)}"
        if leaks(response, victim):
            return "the redirect shows the victim's account"
        return None

    assert console.probe_all(client, csrf_token, judge) == []


def test_a_console_page_left_open_would_be_caught(app_factory: Callable[..., Any]) -> None:
    """The probes are not blind: a page added under /admin without the permission
    (here one that shows a user and one that renames them) is reported, for
    visitors and for users alike."""

    def show(request: Any) -> Response:
        user = request.camauth.db.get(User, int(request.matchdict["id"]))
        return Response(f"{user.username} <{user.email}>")

    def rename(request: Any) -> Response:
        user = request.camauth.db.get(User, int(request.matchdict["id"]))
        user.full_name += " (renamed through an open page)"
        return Response("done")

    def add_open_page(config: Configurator) -> None:
        config.add_route("forgotten", r"/admin/forgotten/{id:\d+}")
        config.add_view(show, route_name="forgotten", request_method="GET")
        config.add_view(rename, route_name="forgotten", request_method="POST")

    app = app_factory(configure=add_open_page, **{"mfa.required_for": "none", **HOST_PERMISSIONS})
    admin_id = add_user(app, "root", is_admin=True)
    add_user(app, "mallory")
    victim = make_victim(app, "victor")
    console = Console(app, console_probes(app), victim, admin_id)
    assert {str(probe) for probe in console.probes} >= {
        r"GET /admin/forgotten/{id:\d+}",
        r"POST /admin/forgotten/{id:\d+}",
    }

    visitor = browser(app)
    found = console.probe_all(visitor, csrf_of(visitor.get("/login")), lambda *args: None)
    assert [problem.split(" changed")[0] for problem in found] == [
        f"POST /admin/forgotten/{victim.id}"
    ]
    user = logged_in(app, "mallory")

    def judge(probe: Probe, path: str, response: webtest.TestResponse) -> str | None:
        return None if response.status_int == 403 else response.status

    found = console.probe_all(user, csrf_of(user.get("/")), judge)
    assert sorted(found) == sorted(
        [
            f"GET /admin/forgotten/{victim.id}: 200 OK",
            f"POST /admin/forgotten/{victim.id}: 200 OK",
            # root, mallory, the victim and its group's deputy
            f"POST /admin/forgotten/{victim.id} changed the database: ['users: 4 -> 4 rows']",
        ]
    ), found
