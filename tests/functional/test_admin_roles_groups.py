"""The console's roles and groups (PRODUCT §17) through the real forms: create,
rename, delete (after a confirmation page), grant and revoke permissions one at a
time, grant roles to users and groups, add and remove members, make and unmake
group administrators; each change audited with the administrator as actor. The
user page lists groups, roles and effective permissions. A group administrator
adds and removes the members of their own groups and does nothing else. Hostile
input on every form gets a clear 4xx page (never a 500) and changes nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import webtest
from sqlalchemy import select

from camauth.models import AuditEvent, Group, GroupMember, Role, RoleGrant, RolePermission
from camauth.services import accounts, groups, roles

from ..conftest import app_context
from .admin_helpers import (
    ADMIN,
    admin_browser,
    alert,
    console_app,
    events_by,
    make_admin,
    table_rows,
    user_path,
)
from .conftest import (
    all_rows,
    assert_no_traceback,
    audit_events,
    create_user,
    field_errors,
    flashes,
    location,
    logged_in,
)

HOST_PERMISSIONS = {"permissions": "reports.view = See reports\nreports.export = Export reports"}
ROLES = "/admin/roles"
GROUPS = "/admin/groups"
HUGE = "x" * 10_000
FORM_EXPIRED = "This form was not accepted because its security token is missing or out of date"


@pytest.fixture
def app(app_factory: Any) -> Any:
    return console_app(app_factory, **HOST_PERMISSIONS)


@pytest.fixture
def root(app: Any) -> int:
    return make_admin(app)


@pytest.fixture
def admin(app: Any, root: int) -> webtest.TestApp:
    return admin_browser(app)


# --- helpers ------------------------------------------------------------------------------


def role_path(name: str, action: str = "") -> str:
    return f"{ROLES}/{name}" + (f"/{action}" if action else "")


def group_path(name: str, action: str = "") -> str:
    return f"{GROUPS}/{name}" + (f"/{action}" if action else "")


def button(page: webtest.TestResponse, action: str, **hidden: Any) -> webtest.Form:
    """The one button on ``page`` that posts to ``action`` with these hidden values."""

    def matches(form: webtest.Form) -> bool:
        return form.action == action and all(
            name in form.fields and form.fields[name][0].value == str(value)
            for name, value in hidden.items()
        )

    unique = {id(form): form for form in page.forms.values() if matches(form)}
    assert len(unique) == 1, f"{len(unique)} buttons post to {action} {hidden}"
    return next(iter(unique.values()))


def check(form: webtest.Form, *values: str) -> None:
    """Tick deform's checkboxes (all named "checkbox") whose value is in ``values``."""
    for field in form.fields.get("checkbox", []):
        if field._value in values:
            field.checked = True


def setup(app: Any, action: Any) -> Any:
    """Run ``action(ctx)`` through the services as the command line would, committed."""
    ctx = replace(app_context(app), permissions=app.registry["camauth.permissions"])
    try:
        result = action(ctx)
        ctx.db.commit()
        return result
    finally:
        ctx.db.close()


def make_role(app: Any, name: str, *permissions: str) -> None:
    setup(app, lambda ctx: roles.create_role(ctx, name, permissions))


def make_group(app: Any, name: str, *members: str, admins: tuple[str, ...] = ()) -> None:
    def run(ctx: Any) -> None:
        group = groups.create_group(ctx, name)
        for username in members:
            user = accounts.find_user(ctx, username)
            groups.add_member(ctx, group, user, group_admin=username in admins)

    setup(app, run)


def grant(app: Any, role: str, *, user: str | None = None, group: str | None = None) -> None:
    def run(ctx: Any) -> None:
        found = roles.find_role(ctx, role)
        if user is not None:
            roles.grant_role(ctx, found, user=accounts.find_user(ctx, user))
        else:
            roles.grant_role(ctx, found, group=groups.find_group(ctx, group))

    setup(app, run)


def access_state(app: Any) -> tuple[Any, ...]:
    """Every row a roles-and-groups change could write, and the audit log."""
    return (
        [(r.id, r.name, r.description) for r in all_rows(app, select(Role).order_by(Role.id))],
        sorted((r.role_id, r.permission) for r in all_rows(app, select(RolePermission))),
        [(g.id, g.name, g.description) for g in all_rows(app, select(Group).order_by(Group.id))],
        sorted(
            (m.group_id, m.user_id, m.is_group_admin) for m in all_rows(app, select(GroupMember))
        ),
        sorted(
            (g.role_id, g.user_id or 0, g.group_id or 0) for g in all_rows(app, select(RoleGrant))
        ),
        [e.event for e in all_rows(app, select(AuditEvent).order_by(AuditEvent.id))],
    )


def role_names(app: Any) -> list[str]:
    return [role.name for role in all_rows(app, select(Role).order_by(Role.name))]


def group_names(app: Any) -> list[str]:
    return [group.name for group in all_rows(app, select(Group).order_by(Group.name))]


def permissions_of(app: Any, role: str) -> list[str]:
    return setup(app, lambda ctx: roles.permissions_of(ctx, roles.find_role(ctx, role)))


def members_of(app: Any, group: str) -> list[tuple[str, bool]]:
    return setup(
        app,
        lambda ctx: [
            (m.user.username, m.is_group_admin)
            for m in groups.members(ctx, groups.find_group(ctx, group))
        ],
    )


def details_of(app: Any, event: str) -> list[dict[str, Any]]:
    return [row.details for row in audit_events(app, event)]


def refused(response: webtest.TestResponse, status: int, what: Any = "") -> webtest.TestResponse:
    assert response.status_int == status, (response.status, what)
    assert_no_traceback(response)
    return response


# --- roles ---------------------------------------------------------------------------------


def test_create_rename_and_delete_a_role(app, admin):
    page = admin.get(ROLES, status=200)
    labels = [label.get_text(" ", strip=True) for label in page.html.select("#new-role label")]
    assert "reports.view — See reports" in labels
    assert not any(label.startswith("camauth.") for label in labels)  # not held through roles
    form = page.forms["new-role"]
    form["name"] = "Reviewer"
    form["description"] = "Reads the reports"
    check(form, "reports.view", "reports.export")
    response = form.submit("submit", status=303)
    assert location(response) == role_path("reviewer")  # names are lower case
    assert permissions_of(app, "reviewer") == ["reports.export", "reports.view"]
    assert [row.actor_name for row in audit_events(app, "role_created")] == [ADMIN]
    assert details_of(app, "role_created") == [
        {"role": "reviewer", "permissions": ["reports.export", "reports.view"]}
    ]
    page = response.follow()
    assert "The role reviewer was created." in flashes(page)
    listing = admin.get(ROLES, status=200)
    assert table_rows(listing, "roles") == [
        ["reviewer Reads the reports", "reports.export, reports.view", "0", "0"]
    ]

    form = page.forms["rename-role"]
    assert form["name"].value == "reviewer"
    form["name"] = "checker"
    response = form.submit("submit", status=303)
    assert location(response) == role_path("checker")
    assert role_names(app) == ["checker"]
    assert details_of(app, "role_renamed") == [{"role": "checker", "from": "reviewer"}]
    admin.get(role_path("reviewer"), status=404)

    confirmation = response.follow().click(href=f"^{role_path('checker', 'delete')}$")
    assert confirmation.status_int == 200
    assert "Delete the role checker?" in confirmation.text
    assert role_names(app) == ["checker"]  # asking deleted nothing
    response = confirmation.forms["confirm-delete-role"].submit("submit", status=303)
    assert location(response) == ROLES
    assert role_names(app) == []
    assert details_of(app, "role_deleted") == [{"role": "checker"}]
    assert "The role checker was deleted." in flashes(response.follow())
    admin.get(role_path("checker"), status=404)


def test_permissions_are_granted_and_revoked_one_at_a_time(app, admin, root):
    make_role(app, "reviewer")
    other = make_admin(app, "other")
    mine = admin.get(role_path("reviewer"), status=200)
    theirs = admin_browser(app, "other").get(role_path("reviewer"), status=200)
    grant_url = role_path("reviewer", "grant-permission")
    # two administrators, each on the page as it was, grant two permissions: both stay
    button(mine, grant_url, permission="reports.view").submit(status=303)
    button(theirs, grant_url, permission="reports.export").submit(status=303)
    assert permissions_of(app, "reviewer") == ["reports.export", "reports.view"]
    # pressing a stale Grant again changes nothing and says so
    response = button(mine, grant_url, permission="reports.view").submit(status=303)
    assert "The role reviewer held reports.view already." in flashes(response.follow())

    page = admin.get(role_path("reviewer"), status=200)
    assert [row[1] for row in table_rows(page, "role-permissions")] == ["yes", "yes"]
    button(page, role_path("reviewer", "revoke-permission"), permission="reports.view").submit(
        status=303
    )
    assert permissions_of(app, "reviewer") == ["reports.export"]
    granted = audit_events(app, "role_permission_granted")
    assert [(row.actor_id, row.details["permission"]) for row in granted] == [
        (root, "reports.view"),
        (other, "reports.export"),
    ]
    assert details_of(app, "role_permission_revoked") == [
        {"role": "reviewer", "permission": "reports.view"}
    ]


def test_a_role_is_granted_to_users_and_groups_and_revoked(app, admin):
    create_user(app, "alice")
    make_role(app, "reviewer", "reports.view")
    make_group(app, "trial-17")
    page = admin.get(role_path("reviewer"), status=200)
    form = page.forms["grant-user"]
    form["username"] = " ALICE "
    form.submit("submit", status=303)
    page = admin.get(role_path("reviewer"), status=200)
    form = page.forms["grant-group"]
    form["group"] = "trial-17"
    form.submit("submit", status=303)

    page = admin.get(role_path("reviewer"), status=200)
    assert table_rows(page, "role-users")[0][0] == "alice"
    assert table_rows(page, "role-groups")[0][0] == "trial-17"
    assert "grant-group" not in page.forms  # every group has it now
    assert events_by(app, "role_granted", ADMIN, "alice")[0].details == {"role": "reviewer"}
    assert details_of(app, "role_granted")[1] == {"role": "reviewer", "group": "trial-17"}
    listing = admin.get(ROLES, status=200)
    assert table_rows(listing, "roles")[0][2:] == ["1", "1"]

    alice = setup(app, lambda ctx: accounts.find_user(ctx, "alice").id)
    button(page, role_path("reviewer", "revoke-user"), user_id=alice).submit(status=303)
    button(page, role_path("reviewer", "revoke-group"), group="trial-17").submit(status=303)
    page = admin.get(role_path("reviewer"), status=200)
    assert table_rows(page, "role-users") == table_rows(page, "role-groups") == []
    assert len(events_by(app, "role_revoked", ADMIN, "alice")) == 1
    assert details_of(app, "role_revoked")[1] == {"role": "reviewer", "group": "trial-17"}


def test_a_form_address_opened_as_a_page_goes_to_the_page(app, admin):
    make_role(app, "reviewer")
    make_group(app, "team")
    response = admin.get(role_path("reviewer", "grant-user"), status=303)
    assert location(response) == role_path("reviewer")
    response = admin.get(group_path("team", "add-member"), status=303)
    assert location(response) == group_path("team")


# --- groups ----------------------------------------------------------------------------------


def test_create_rename_and_delete_a_group(app, admin):
    form = admin.get(GROUPS, status=200).forms["new-group"]
    form["name"] = "Trial-17"
    form["description"] = "Ärzte der Studie ✓"
    response = form.submit("submit", status=303)
    assert location(response) == group_path("trial-17")
    assert details_of(app, "group_created") == [{"group": "trial-17"}]
    listing = admin.get(GROUPS, status=200)
    assert table_rows(listing, "groups") == [["trial-17 Ärzte der Studie ✓", "0", "0"]]

    form = response.follow().forms["rename-group"]
    form["name"] = "trial-18"
    response = form.submit("submit", status=303)
    assert location(response) == group_path("trial-18")
    assert details_of(app, "group_renamed") == [{"group": "trial-18", "from": "trial-17"}]

    confirmation = response.follow().click(href=f"^{group_path('trial-18', 'delete')}$")
    assert "Delete the group trial-18?" in confirmation.text
    assert group_names(app) == ["trial-18"]
    response = confirmation.forms["confirm-delete-group"].submit("submit", status=303)
    assert location(response) == GROUPS
    assert group_names(app) == []
    assert details_of(app, "group_deleted") == [{"group": "trial-18"}]


def test_members_group_administrators_and_roles_of_a_group(app, admin):
    for name in ("alice", "bob"):
        create_user(app, name)
    make_group(app, "team")
    make_role(app, "reviewer", "reports.view")
    form = admin.get(group_path("team"), status=200).forms["add-member"]
    form["username"] = "alice"
    form.submit("submit", status=303)
    form = admin.get(group_path("team"), status=200).forms["add-member"]
    form["username"] = "bob"
    form["group_admin"] = True
    response = form.submit("submit", status=303)
    assert "bob is a member of team and one of its administrators." in flashes(response.follow())
    assert members_of(app, "team") == [("alice", False), ("bob", True)]

    page = admin.get(group_path("team"), status=200)
    assert table_rows(page, "group-members")[1][1] == "group administrator"
    alice, bob = (
        setup(app, lambda ctx, n=n: accounts.find_user(ctx, n).id) for n in ("alice", "bob")
    )
    button(page, group_path("team", "grant-group-admin"), user_id=alice).submit(status=303)
    button(page, group_path("team", "revoke-group-admin"), user_id=bob).submit(status=303)
    assert members_of(app, "team") == [("alice", True), ("bob", False)]
    button(page, group_path("team", "remove-member"), user_id=bob).submit(status=303)
    assert members_of(app, "team") == [("alice", True)]

    form = admin.get(group_path("team"), status=200).forms["grant-role"]
    form["role"] = "reviewer"
    form.submit("submit", status=303)
    page = admin.get(group_path("team"), status=200)
    assert table_rows(page, "group-roles")[0][0] == "reviewer"
    button(page, group_path("team", "revoke-role"), role="reviewer").submit(status=303)
    assert table_rows(admin.get(group_path("team")), "group-roles") == []

    assert len(events_by(app, "member_added", ADMIN, "alice")) == 1
    assert len(events_by(app, "member_added", ADMIN, "bob")) == 1
    assert len(events_by(app, "group_admin_granted", ADMIN, "bob")) == 1
    assert len(events_by(app, "group_admin_granted", ADMIN, "alice")) == 1
    assert len(events_by(app, "group_admin_revoked", ADMIN, "bob")) == 1
    assert len(events_by(app, "member_removed", ADMIN, "bob")) == 1
    assert details_of(app, "role_granted") == [{"role": "reviewer", "group": "team"}]
    assert details_of(app, "role_revoked") == [{"role": "reviewer", "group": "team"}]


# --- the user page ----------------------------------------------------------------------------


def test_the_user_page_lists_groups_roles_and_effective_permissions(app, admin, root):
    alice = create_user(app, "alice")
    make_role(app, "viewer", "reports.view")
    make_role(app, "exporter", "reports.export")
    make_role(app, "empty")
    make_group(app, "team", "alice", admins=("alice",))
    make_group(app, "club", "alice")
    grant(app, "viewer", user="alice")
    grant(app, "exporter", group="club")
    grant(app, "empty", group="team")
    page = admin.get(user_path(alice), status=200)

    def items(list_id: str) -> list[str]:
        return [li.get_text(" ", strip=True) for li in page.html.select(f"#{list_id} li")]

    assert items("user-groups") == ["club", "team group administrator"]
    assert items("user-roles") == [
        "viewer (granted directly)",
        "empty (through the group team)",
        "exporter (through the group club)",
    ]
    assert items("user-permissions") == [
        "reports.export Export reports",
        "reports.view See reports",
    ]
    page = admin.get(user_path(root), status=200)
    assert items("user-groups") == items("user-roles") == ["None."]
    assert items("user-permissions") == ["All permissions (an administrator holds every one)."]


# --- group administrators -------------------------------------------------------------------


def test_a_group_administrator_adds_and_removes_members_and_nothing_else(app, root):
    for name in ("gina", "alice", "bob"):
        create_user(app, name)
    make_group(app, "team", "gina", "bob", admins=("gina",))
    make_group(app, "other", "alice")
    make_role(app, "reviewer")
    gina = logged_in(app, "gina")
    account = gina.get("/account", status=200)
    assert account.html.select_one("#administered-groups a")["href"] == group_path("team")
    page = account.click(href=f"^{group_path('team')}$")
    assert page.html.select_one('nav[aria-label="Administration"]') is None
    assert "rename-group" not in page.forms and "grant-role" not in page.forms
    assert "group_admin" not in page.forms["add-member"].fields
    actions = {form.action for form in page.forms.values()}
    assert actions == {
        group_path("team", "add-member"),
        group_path("team", "remove-member"),
        "/logout",
    }
    assert "Delete group" not in page.text

    form = page.forms["add-member"]
    form["username"] = "alice"
    form.submit("submit", status=303)
    bob = setup(app, lambda ctx: accounts.find_user(ctx, "bob").id)
    button(page, group_path("team", "remove-member"), user_id=bob).submit(status=303)
    assert members_of(app, "team") == [("alice", False), ("gina", True)]
    assert len(events_by(app, "member_added", "gina", "alice")) == 1
    assert len(events_by(app, "member_removed", "gina", "bob")) == 1

    # a group administrator's posted "group administrator" box is not theirs to tick
    token = page.forms["add-member"]["csrf_token"].value
    body = {"csrf_token": token, "username": "bob", "group_admin": "true"}
    gina.post(group_path("team", "add-member"), body, status=303)
    assert ("bob", False) in members_of(app, "team")

    before = access_state(app)
    for path in (
        group_path("team", "rename"),
        group_path("team", "delete"),
        group_path("team", "grant-group-admin"),
        group_path("team", "revoke-group-admin"),
        group_path("team", "grant-role"),
        group_path("team", "revoke-role"),
        group_path("other", "add-member"),
        group_path("other", "remove-member"),
        GROUPS,
        ROLES,
    ):
        fields = {"name": "stolen", "user_id": bob, "role": "reviewer", "username": "gina"}
        refused(gina.post(path, {"csrf_token": token, **fields}, expect_errors=True), 403)
    for path in (
        group_path("other"),
        group_path("nothing"),
        GROUPS,
        ROLES,
        "/admin",
        "/admin/users",
    ):
        refused(gina.get(path, expect_errors=True), 403)
    assert access_state(app) == before

    # no longer a group administrator: the page closes at the next request
    def demote(ctx: Any) -> None:
        team = groups.find_group(ctx, "team")
        groups.set_group_admin(ctx, team, accounts.find_user(ctx, "gina"), False)

    setup(app, demote)
    refused(gina.get(group_path("team"), expect_errors=True), 403)
    assert gina.get("/account").html.select_one("#administered-groups") is None


def test_a_group_administrator_who_leaves_the_group_goes_to_their_account(app, root):
    gina = create_user(app, "gina")
    make_group(app, "team", "gina", admins=("gina",))
    client = logged_in(app, "gina")
    page = client.get(group_path("team"), status=200)
    response = button(page, group_path("team", "remove-member"), user_id=gina).submit(status=303)
    assert location(response) == "/account"
    refused(client.get(group_path("team"), expect_errors=True), 403)


# --- hostile input ------------------------------------------------------------------------------


def submit_typed(
    admin: webtest.TestApp, path: str, formid: str, status: int, **values: Any
) -> webtest.TestResponse:
    form = admin.get(path, status=200).forms[formid]
    for name, value in values.items():
        form[name] = value
    return refused(form.submit("submit", expect_errors=True), status)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("", "A {kind} needs a name."),
        ("   ", "A {kind} needs a name."),
        (HUGE, "A {kind} name has at most 64 characters."),
        ("Ärzte", "A {kind} name uses lower-case letters"),
        ("グループ", "A {kind} name uses lower-case letters"),
        ("two words", "A {kind} name uses lower-case letters"),
        ("-dash", "A {kind} name uses lower-case letters"),
        ("nul\x00", "A {kind} name uses lower-case letters"),
    ],
)
def test_bad_names_are_errors_at_the_field(app, admin, value, error):
    make_role(app, "reviewer")
    make_group(app, "team")
    before = access_state(app)
    for kind, path, formid in [
        ("role", ROLES, "new-role"),
        ("group", GROUPS, "new-group"),
        ("role", role_path("reviewer"), "rename-role"),
        ("group", group_path("team"), "rename-group"),
    ]:
        page = submit_typed(admin, path, formid, 400, name=value)
        [message] = field_errors(page)
        assert message.startswith(error.format(kind=kind)), (formid, message)
        assert HUGE not in page.text.replace(f'value="{HUGE}"', "")
    assert access_state(app) == before


@pytest.mark.parametrize(
    ("existing", "typed"), [("reviewer", "Reviewer"), ("reviewer", "REVIEWER "), ("a.b", "A.B")]
)
def test_names_differing_only_in_case_are_taken(app, admin, existing, typed):
    make_role(app, existing)
    make_role(app, "other")
    make_group(app, existing)
    make_group(app, "other")
    before = access_state(app)
    for path, formid in [
        (ROLES, "new-role"),
        (GROUPS, "new-group"),
        (role_path("other"), "rename-role"),
        (group_path("other"), "rename-group"),
    ]:
        page = submit_typed(admin, path, formid, 400, name=typed)
        assert f"named {existing} already exists" in alert(page), formid
    assert access_state(app) == before


def test_reserved_and_oversized_values_are_refused(app, admin):
    make_role(app, "reviewer")
    make_group(app, "team")
    before = access_state(app)
    page = submit_typed(admin, GROUPS, "new-group", 400, name="Admin")
    assert "'admin' is reserved" in alert(page)
    for path, formid in [(ROLES, "new-role"), (GROUPS, "new-group")]:
        page = submit_typed(admin, path, formid, 400, name="fine", description=HUGE)
        assert field_errors(page) == ["Use at most 200 characters."]
        page = submit_typed(admin, path, formid, 400, name="fine", description="a\x00b")
        assert field_errors(page) == ["Use no control characters."]
    for path, formid in [
        (role_path("reviewer"), "grant-user"),
        (group_path("team"), "add-member"),
    ]:
        for typed in ("nobody", HUGE, "ünïcödé", "nul\x00", "<b>x</b>"):
            page = submit_typed(admin, path, formid, 400, username=typed)
            assert field_errors(page) == ["There is no user with this username."], typed
        page = submit_typed(admin, path, formid, 400, username="")
        assert field_errors(page) == ["Enter a username."]
    assert access_state(app) == before


def test_forged_buttons_and_choices_change_nothing(app, admin):
    create_user(app, "alice")
    make_role(app, "reviewer")
    make_group(app, "team", "alice")
    token = admin.get(ROLES).forms["new-role"]["csrf_token"].value
    before = access_state(app)
    role, group = role_path("reviewer"), group_path("team")
    forged = [
        # a permission nobody declared, camauth's own (not held through roles), junk
        (f"{role}/grant-permission", {"permission": "reports.delete"}, 400),
        (f"{role}/grant-permission", {"permission": "camauth.admin"}, 400),
        (f"{role}/grant-permission", {"permission": HUGE}, 400),
        (f"{role}/grant-permission", {"permission": "ärzte.x"}, 400),
        (f"{role}/revoke-permission", {"permission": "a\x00.b"}, 400),
        (f"{role}/grant-permission", {}, 400),
        (f"{role}/revoke-user", {"user_id": "x"}, 400),
        (f"{role}/revoke-user", {"user_id": "9" * 10_000}, 400),
        (f"{role}/revoke-user", {"user_id": "-1"}, 400),
        (f"{role}/revoke-group", {"group": HUGE}, 400),
        (f"{role}/grant-group", {"group": "nothing"}, 400),
        (f"{group}/grant-role", {"role": "nothing"}, 400),
        (f"{group}/remove-member", {"user_id": ""}, 400),
        # a user id nobody has (any more)
        (f"{group}/grant-group-admin", {"user_id": "99999"}, 409),
        (f"{role}/revoke-user", {"user_id": "99999"}, 409),
        # a checkbox the form did not offer
        (
            ROLES,
            {
                "name": "stolen",
                "__start__": "permissions:sequence",
                "checkbox": "camauth.admin",
                "__end__": "permissions:sequence",
            },
            400,
        ),
    ]
    for path, fields, status in forged:
        response = admin.post(path, {"csrf_token": token, **fields}, expect_errors=True)
        refused(response, status, (path, fields))
        assert alert(response) or field_errors(response), (path, fields)
    assert access_state(app) == before
    # checkboxes without deform's sequence marks are no permissions at all
    fields = {"csrf_token": token, "name": "plain", "checkbox": "reports.view"}
    admin.post(ROLES, fields, status=303)
    assert permissions_of(app, "plain") == []


def test_junk_and_unknown_names_in_the_address_are_404(app, admin):
    make_role(app, "reviewer")
    for path in (
        "/admin/roles/Reviewer",
        "/admin/roles/nothing",
        f"/admin/roles/{'a' * 65}",
        "/admin/roles/%00",
        "/admin/roles/caf%C3%A9",
        "/admin/roles/-x",
        "/admin/groups/nothing",
        "/admin/groups/nothing/delete",
        "/admin/roles/nothing/delete",
        "/admin/groups/..",
    ):
        refused(admin.get(path, expect_errors=True), 404)


def test_without_the_csrf_token_nothing_changes(app, admin):
    alice = create_user(app, "alice")
    make_role(app, "reviewer", "reports.view")
    make_group(app, "team", "alice")
    grant(app, "reviewer", user="alice")
    grant(app, "reviewer", group="team")
    before = access_state(app)
    posts = [
        (ROLES, {"name": "new"}),
        (GROUPS, {"name": "new"}),
        (role_path("reviewer", "rename"), {"name": "new"}),
        (role_path("reviewer", "grant-permission"), {"permission": "reports.export"}),
        (role_path("reviewer", "revoke-permission"), {"permission": "reports.view"}),
        (role_path("reviewer", "grant-user"), {"username": "root"}),
        (role_path("reviewer", "revoke-user"), {"user_id": alice}),
        (role_path("reviewer", "revoke-group"), {"group": "team"}),
        (role_path("reviewer", "delete"), {}),
        (group_path("team", "rename"), {"name": "new"}),
        (group_path("team", "add-member"), {"username": "root"}),
        (group_path("team", "remove-member"), {"user_id": alice}),
        (group_path("team", "grant-group-admin"), {"user_id": alice}),
        (group_path("team", "revoke-role"), {"role": "reviewer"}),
        (group_path("team", "delete"), {}),
    ]
    for path, fields in posts:
        for token in ({}, {"csrf_token": "forged"}):
            response = refused(admin.post(path, {**fields, **token}, expect_errors=True), 400)
            assert FORM_EXPIRED in response.text, path
    assert access_state(app) == before


def test_a_role_or_group_deleted_meanwhile_is_not_found(app, admin):
    alice = create_user(app, "alice")
    make_role(app, "reviewer")
    make_group(app, "team", "alice")
    role_page = admin.get(role_path("reviewer"), status=200)
    group_page = admin.get(group_path("team"), status=200)
    confirm_role = admin.get(role_path("reviewer", "delete"), status=200)
    setup(app, lambda ctx: roles.delete_role(ctx, roles.find_role(ctx, "reviewer")))
    setup(app, lambda ctx: groups.delete_group(ctx, groups.find_group(ctx, "team")))
    before = access_state(app)
    stale = [
        button(role_page, role_path("reviewer", "grant-permission"), permission="reports.view"),
        role_page.forms["rename-role"],
        group_page.forms["rename-group"],
        button(group_page, group_path("team", "remove-member"), user_id=alice),
        confirm_role.forms["confirm-delete-role"],
    ]
    for form in stale:
        response = refused(form.submit(expect_errors=True), 404)
        assert "deleted" in alert(response) or "no such" in response.text.lower()
    form = group_page.forms["add-member"]
    form["username"] = "alice"
    refused(form.submit(expect_errors=True), 404)
    assert access_state(app) == before


def test_a_member_removed_meanwhile_is_a_conflict(app, admin):
    alice = create_user(app, "alice")
    make_group(app, "team", "alice")
    page = admin.get(group_path("team"), status=200)

    def remove(ctx: Any) -> None:
        groups.remove_member(ctx, groups.find_group(ctx, "team"), accounts.find_user(ctx, "alice"))

    setup(app, remove)
    before = access_state(app)
    response = button(page, group_path("team", "grant-group-admin"), user_id=alice).submit(
        expect_errors=True
    )
    refused(response, 409)
    assert "alice is not a member of team." in alert(response)
    response = button(page, group_path("team", "remove-member"), user_id=alice).submit(status=303)
    assert "alice was not a member of team: nothing was changed." in flashes(response.follow())
    assert access_state(app) == before


def test_markup_in_descriptions_shows_as_text(app, admin):
    script = "<script>alert(1)</script>"
    for path, formid in [(ROLES, "new-role"), (GROUPS, "new-group")]:
        form = admin.get(path).forms[formid]
        form["name"] = "safe"
        form["description"] = script
        form.submit("submit", status=303)
    for path in (ROLES, GROUPS, role_path("safe"), group_path("safe")):
        page = admin.get(path, status=200)
        assert script not in page.text
        assert "&lt;script&gt;" in page.text
