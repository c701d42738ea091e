"""The command line's roles and groups (PRODUCT §17): ``add-role``, ``add-group``,
``grant``, ``revoke``, ``add-member``, ``remove-member``, ``list-roles``,
``list-groups``, in-process on both databases.

``add-role`` loads the application the ini names, as ``pshell`` does, so the
permissions a host application declares in its code are known to it: the ini of
these tests names either camauth or ``tests/hostapp/reports_app.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from camauth.services import accounts, audit, groups, roles

from ..conftest import GOOD_PASSWORD
from ..hostapp.reports_app import SETTING
from .conftest import one_line, write_ini

# add-role starts the application, which needs an address for links in mails
SERVABLE = {"camauth.public_url": "https://auth.example.org"}
HOST_APP = "call:tests.hostapp.reports_app:main"


def continued(value: str) -> str:
    """A value of several lines, as an ini holds it (each further line indented)."""
    return value.replace("\n", "\n    ")


def host_ini(tmp_path: Path, db_url: str) -> str:
    """An ini whose application is the host's, with trial.read in its setting."""
    declared = {"camauth.permissions": continued(SETTING)}
    path = write_ini(tmp_path / "host.ini", db_url, **SERVABLE, **declared)
    text = Path(path).read_text().replace("use = egg:camauth", f"use = {HOST_APP}")
    Path(path).write_text(text)
    return path


@pytest.fixture
def ini(db_url: str, tmp_path: Path) -> str:
    """camauth on its own, declaring two permissions in the ``camauth.permissions`` setting."""
    declared = continued("\nreports.view = See reports\n# a comment\nreports.export")
    return write_ini(tmp_path / "test.ini", db_url, **SERVABLE, **{"camauth.permissions": declared})


@pytest.fixture
def people(service):
    with service() as ctx:
        for name in ("alice", "bob"):
            accounts.create_user(ctx, name, password=GOOD_PASSWORD)


def role_state(service, name):
    """(permissions, users granted directly, groups granted) of a role, or None."""
    with service() as ctx:
        role = roles.find_role(ctx, name)
        if role is None:
            return None
        users, granted_groups = roles.grantees(ctx, role)
        return (
            roles.permissions_of(ctx, role),
            [user.username for user in users],
            [group.name for group in granted_groups],
        )


def member_state(service, group_name):
    """{username: is group administrator} of a group, or None."""
    with service() as ctx:
        group = groups.find_group(ctx, group_name)
        if group is None:
            return None
        return {m.user.username: m.is_group_admin for m in groups.members(ctx, group)}


def audited(service, event):
    with service() as ctx:
        return [
            (row.actor_name, row.target_name, row.details) for row in audit.events(ctx, event=event)
        ]


def refused(result, code=1):
    """The command failed with ``code``, printed nothing on stdout and one line on stderr
    (never a traceback); the line, without its 'camauth: ' prefix."""
    exit_code, out, err = result
    assert (exit_code, out) == (code, ""), err
    line = one_line(err)
    assert line.startswith("camauth: ")
    assert "Traceback" not in line
    return line.removeprefix("camauth: ").rstrip("\n")


# --- add-role: the permissions the application declares ----------------------------------


def test_add_role_with_permissions_of_the_setting(ini, camauth, service):
    code, out, err = camauth(
        ini, "add-role", "Reviewer", "reports.view", "reports.export", "reports.view"
    )
    assert (code, err) == (0, "")
    assert out == "Created role 'reviewer' (reports.export, reports.view).\n"
    assert role_state(service, "reviewer") == (["reports.export", "reports.view"], [], [])
    [(actor, _target, details)] = audited(service, "role_created")
    assert actor == "system"
    assert details == {"role": "reviewer", "permissions": ["reports.export", "reports.view"]}


def test_add_role_without_permissions_and_with_a_description(ini, camauth, service):
    code, out, err = camauth(ini, "add-role", "empty", "--description", "  Nothing yet  ")
    assert (code, err, out) == (0, "", "Created role 'empty' (no permissions yet).\n")
    with service() as ctx:
        role = roles.find_role(ctx, "empty")
        assert role is not None and role.description == "Nothing yet"
    assert role_state(service, "empty") == ([], [], [])


def test_camauths_own_permissions_are_declared(ini, camauth, service):
    assert camauth(ini, "add-role", "viewers", "camauth.view")[0] == 0
    assert role_state(service, "viewers") == (["camauth.view"], [], [])


@pytest.mark.parametrize(
    ("permission", "message"),
    [
        ("reports.delete", "'reports.delete' is not a declared permission."),
        ("trial.read", "'trial.read' is not a declared permission."),  # the host's, not here
        ("reports.export.all", "'reports.export.all' is not a declared permission."),
        ("Reports.View", "'Reports.View' is not a permission name"),
        ("reports", "'reports' is not a permission name"),
        ("x." + "y" * 200, "A permission name has at most 100 characters."),
    ],
)
def test_an_undeclared_permission_is_refused(ini, camauth, service, permission, message):
    line = refused(camauth(ini, "add-role", "reviewer", "reports.view", permission))
    assert line.startswith(message)
    assert role_state(service, "reviewer") is None
    assert audited(service, "role_created") == []


def test_add_role_knows_the_permissions_a_host_declares_in_its_code(
    tmp_path, db_url, camauth, service
):
    ini = host_ini(tmp_path, db_url)
    code, out, err = camauth(ini, "add-role", "signer", "trial.sign", "reports.export")
    assert (code, err) == (0, "")
    assert out == "Created role 'signer' (reports.export, trial.sign).\n"
    # and the ini's setting still counts alongside the code
    assert camauth(ini, "add-role", "reader", "trial.read")[0] == 0
    assert role_state(service, "signer") == (["reports.export", "trial.sign"], [], [])
    assert role_state(service, "reader") == (["trial.read"], [], [])
    # camauth on its own does not know what only the host's code declares
    plain = write_ini(tmp_path / "plain.ini", db_url, **SERVABLE)
    line = refused(camauth(plain, "add-role", "other", "trial.sign"))
    assert line == "'trial.sign' is not a declared permission."


def test_the_other_commands_work_on_the_host_s_ini(tmp_path, db_url, camauth, people, service):
    ini = host_ini(tmp_path, db_url)
    assert camauth(ini, "add-role", "signer", "trial.sign")[0] == 0
    assert camauth(ini, "add-group", "trial-17")[0] == 0
    assert camauth(ini, "grant", "signer", "--group", "trial-17")[0] == 0
    assert camauth(ini, "add-member", "trial-17", "alice")[0] == 0
    assert role_state(service, "signer") == (["trial.sign"], [], ["trial-17"])
    assert member_state(service, "trial-17") == {"alice": False}


def test_an_application_that_cannot_start_is_a_configuration_error(
    tmp_path, db_url, camauth, service
):
    # the SMTP transport without a public address: camauth refuses to start
    ini = write_ini(tmp_path / "no-url.ini", db_url)
    line = refused(camauth(ini, "add-role", "reviewer"), code=2)
    assert line.startswith("the application in ")
    assert "could not be loaded" in line and "camauth.public_url" in line
    assert role_state(service, "reviewer") is None
    # the other commands do not start the application
    assert camauth(ini, "add-group", "trial-17")[0] == 0


def app_ini(tmp_path: Path, db_url: str, use: str) -> str:
    ini = write_ini(tmp_path / "app.ini", db_url, **SERVABLE)
    Path(ini).write_text(Path(ini).read_text().replace("egg:camauth", use))
    return ini


def failing(global_config, **settings):
    """A host application factory whose own code fails."""
    raise RuntimeError("the host's database is down\nsecond line")


def test_an_application_whose_code_fails_is_a_configuration_error(tmp_path, db_url, camauth):
    ini = app_ini(tmp_path, db_url, "call:tests.unit.test_cli_access:failing")
    line = refused(camauth(ini, "add-role", "reviewer"), code=2)
    assert line == (
        f"the application in {ini} could not be loaded: the host's database is down second line"
    )


@pytest.mark.parametrize("command", [("add-role", "reviewer"), ("list-roles",)])
def test_an_ini_naming_a_missing_module_is_a_configuration_error(
    tmp_path, db_url, camauth, command
):
    ini = app_ini(tmp_path, db_url, "call:tests.no_such_module:main")
    line = refused(camauth(ini, *command), code=2)
    assert line.startswith("bad configuration: ") and "no_such_module" in line


def test_an_application_without_camauth_is_a_configuration_error(tmp_path, db_url, camauth):
    ini = app_ini(tmp_path, db_url, "call:tests.unit.test_cli_access:bare")
    line = refused(camauth(ini, "add-role", "reviewer"), code=2)
    assert line == f"the application in {ini} does not include camauth"


def bare(global_config, **settings):
    """A Pyramid application that does not include camauth."""
    from pyramid.config import Configurator

    return Configurator(settings=settings).make_wsgi_app()


def test_a_taken_role_name_is_refused_whatever_its_case(ini, camauth, service):
    assert camauth(ini, "add-role", "reviewer", "reports.view")[0] == 0
    for name in ("reviewer", "Reviewer", "REVIEWER", " reviewer "):
        assert refused(camauth(ini, "add-role", name)) == "A role named reviewer already exists."
    assert role_state(service, "reviewer") == (["reports.view"], [], [])
    assert len(audited(service, "role_created")) == 1


# --- add-group -------------------------------------------------------------------------


def test_add_group(ini, camauth, service):
    code, out, err = camauth(ini, "add-group", "Trial-17", "--description", "The trial")
    assert (code, err, out) == (0, "", "Created group 'trial-17'.\n")
    assert member_state(service, "trial-17") == {}
    with service() as ctx:
        group = groups.find_group(ctx, "TRIAL-17")
        assert group is not None and group.description == "The trial"
    assert audited(service, "group_created") == [("system", "", {"group": "trial-17"})]
    line = refused(camauth(ini, "add-group", "TRIAL-17"))
    assert line == "A group named trial-17 already exists."


def test_the_administrators_group_name_is_reserved(ini, camauth, service):
    line = refused(camauth(ini, "add-group", "Admin"))
    assert line == "'admin' is reserved: choose another group name."
    assert member_state(service, "admin") is None


# --- grant and revoke ----------------------------------------------------------------


@pytest.fixture
def reviewer(ini, camauth, people):
    assert camauth(ini, "add-role", "reviewer", "reports.view")[0] == 0
    assert camauth(ini, "add-group", "trial-17")[0] == 0


def test_grant_and_revoke_a_role_to_a_user(ini, camauth, service, reviewer):
    code, out, err = camauth(ini, "grant", "Reviewer", "--user", "ALICE")
    assert (code, err, out) == (0, "", "Granted role 'reviewer' to user 'alice'.\n")
    assert role_state(service, "reviewer") == (["reports.view"], ["alice"], [])
    assert audited(service, "role_granted") == [("system", "alice", {"role": "reviewer"})]

    code, out, err = camauth(ini, "grant", "reviewer", "--user", "alice")
    assert (code, err) == (0, "")
    assert out == "The user 'alice' already has role 'reviewer': nothing changed.\n"
    assert len(audited(service, "role_granted")) == 1

    code, out, err = camauth(ini, "revoke", "reviewer", "--user", "alice")
    assert (code, err, out) == (0, "", "Revoked role 'reviewer' from user 'alice'.\n")
    assert role_state(service, "reviewer") == (["reports.view"], [], [])
    assert audited(service, "role_revoked") == [("system", "alice", {"role": "reviewer"})]

    code, out, err = camauth(ini, "revoke", "reviewer", "--user", "alice")
    assert (code, err) == (0, "")
    assert out == "The user 'alice' does not have role 'reviewer': nothing changed.\n"
    assert len(audited(service, "role_revoked")) == 1


def test_grant_and_revoke_a_role_to_a_group(ini, camauth, service, reviewer):
    code, out, err = camauth(ini, "grant", "reviewer", "--group", "Trial-17")
    assert (code, err, out) == (0, "", "Granted role 'reviewer' to group 'trial-17'.\n")
    assert role_state(service, "reviewer") == (["reports.view"], [], ["trial-17"])
    assert audited(service, "role_granted") == [
        ("system", "", {"role": "reviewer", "group": "trial-17"})
    ]
    code, out, _err = camauth(ini, "grant", "reviewer", "--group", "trial-17")
    assert (code, out) == (
        0,
        "The group 'trial-17' already has role 'reviewer': nothing changed.\n",
    )

    code, out, err = camauth(ini, "revoke", "reviewer", "--group", "trial-17")
    assert (code, err, out) == (0, "", "Revoked role 'reviewer' from group 'trial-17'.\n")
    assert role_state(service, "reviewer") == (["reports.view"], [], [])
    code, out, _err = camauth(ini, "revoke", "reviewer", "--group", "trial-17")
    assert (code, out) == (
        0,
        "The group 'trial-17' does not have role 'reviewer': nothing changed.\n",
    )


@pytest.mark.parametrize("command", ["grant", "revoke"])
@pytest.mark.parametrize(
    ("grantee", "message"),
    [
        (("--user", "nobody"), "no user named 'nobody'"),
        (("--group", "nobody"), "no group named 'nobody'"),
    ],
)
def test_grant_or_revoke_to_someone_unknown(
    ini, camauth, service, reviewer, command, grantee, message
):
    assert refused(camauth(ini, command, "reviewer", *grantee)) == message
    assert role_state(service, "reviewer") == (["reports.view"], [], [])


@pytest.mark.parametrize("command", ["grant", "revoke"])
@pytest.mark.parametrize("grantee", [("--user", "alice"), ("--group", "trial-17")])
def test_grant_or_revoke_an_unknown_role(ini, camauth, reviewer, command, grantee):
    assert refused(camauth(ini, command, "nothing", *grantee)) == "no role named 'nothing'"


@pytest.mark.parametrize("command", ["grant", "revoke"])
@pytest.mark.parametrize(
    "arguments",
    [
        ("reviewer",),  # neither
        ("reviewer", "--user", "alice", "--group", "trial-17"),  # both
        ("--user", "alice"),  # no role
    ],
)
def test_grant_or_revoke_needs_one_grantee(ini, camauth, service, reviewer, command, arguments):
    with pytest.raises(SystemExit) as exited:
        camauth(ini, command, *arguments)
    assert exited.value.code == 2
    assert role_state(service, "reviewer") == (["reports.view"], [], [])


# --- members ---------------------------------------------------------------------------


def test_add_and_remove_members(ini, camauth, service, reviewer):
    code, out, err = camauth(ini, "add-member", "Trial-17", "Alice")
    assert (code, err, out) == (0, "", "Added 'alice' to group 'trial-17'.\n")
    code, out, err = camauth(ini, "add-member", "trial-17", "bob", "--group-admin")
    assert (code, err) == (0, "")
    assert out == "Added 'bob' to group 'trial-17' as a group administrator.\n"
    assert member_state(service, "trial-17") == {"alice": False, "bob": True}

    code, out, _err = camauth(ini, "add-member", "trial-17", "alice")
    assert (code, out) == (0, "'alice' is already a member of 'trial-17': nothing changed.\n")
    # an existing member made a group administrator
    code, out, _err = camauth(ini, "add-member", "trial-17", "alice", "--group-admin")
    assert (code, out) == (0, "'alice' is now an administrator of group 'trial-17'.\n")
    code, out, _err = camauth(ini, "add-member", "trial-17", "alice", "--group-admin")
    assert out == (
        "'alice' is already a member of 'trial-17' as a group administrator: nothing changed.\n"
    )
    assert member_state(service, "trial-17") == {"alice": True, "bob": True}
    assert [target for _actor, target, _details in audited(service, "member_added")] == [
        "bob",
        "alice",
    ]
    assert len(audited(service, "group_admin_granted")) == 2

    code, out, err = camauth(ini, "remove-member", "TRIAL-17", "ALICE")
    assert (code, err, out) == (0, "", "Removed 'alice' from group 'trial-17'.\n")
    assert member_state(service, "trial-17") == {"bob": True}
    assert audited(service, "member_removed") == [("system", "alice", {"group": "trial-17"})]
    # like revoke: nothing to remove is no failure
    code, out, err = camauth(ini, "remove-member", "trial-17", "alice")
    assert (code, err) == (0, "")
    assert out == "'alice' is not a member of group 'trial-17': nothing changed.\n"
    assert len(audited(service, "member_removed")) == 1


@pytest.mark.parametrize("command", ["add-member", "remove-member"])
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("nothing", "alice"), "no group named 'nothing'"),
        (("trial-17", "nobody"), "no user named 'nobody'"),
    ],
)
def test_members_of_unknown_groups_or_users(
    ini, camauth, service, reviewer, command, arguments, message
):
    assert refused(camauth(ini, command, *arguments)) == message
    assert member_state(service, "trial-17") == {}


# --- listing ---------------------------------------------------------------------------


def test_list_roles_and_groups(ini, camauth, reviewer):
    code, out, err = camauth(ini, "list-roles")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "role                           users groups permissions",
        "reviewer                           0      0 reports.view",
    ]
    assert camauth(ini, "add-role", "empty")[0] == 0
    assert camauth(ini, "add-group", "auditors")[0] == 0
    for command in (
        ("grant", "reviewer", "--user", "alice"),
        ("grant", "reviewer", "--user", "bob"),
        ("grant", "reviewer", "--group", "trial-17"),
        ("grant", "empty", "--group", "trial-17"),
        ("add-member", "trial-17", "alice", "--group-admin"),
        ("add-member", "trial-17", "bob"),
    ):
        assert camauth(ini, *command)[0] == 0, command
    code, out, err = camauth(ini, "list-roles")
    assert (code, err) == (0, "")
    assert out.splitlines()[1:] == [
        "empty                              0      1 -",
        "reviewer                           2      1 reports.view",
    ]
    code, out, err = camauth(ini, "list-groups")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "group                          members admins roles",
        "auditors                             0      0 -",
        "trial-17                             2      1 empty reviewer",
    ]


def test_list_with_nothing_yet(ini, camauth):
    assert camauth(ini, "list-roles")[1:] == (
        "role                           users groups permissions\n",
        "",
    )
    assert camauth(ini, "list-groups")[1:] == (
        "group                          members admins roles\n",
        "",
    )


# --- hostile names ---------------------------------------------------------------------

HOSTILE = [
    "Ärzte",  # not ASCII
    "réviewer",
    "李",
    "a" * 65,  # one too long
    "a" * 100_000,  # huge
    "two words",
    "-dash-first",
    "",
    "   ",
    "evil\x1b[2J\x1b]0;owned\x07",
    "\u202egnp.exe",
    "zero\u200bwidth",
    "nul\x00byte",
    "undecodable\udcff",  # what argv holds for bytes that are not UTF-8
    "line\nbreak",
    "role:admin",
    "../etc",
]


def no_raw_controls(line: str) -> None:
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f\u200b\u202e]", line), line
    assert len(line) < 300, len(line)


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("command", ["add-role", "add-group"])
def test_hostile_names_are_refused_in_one_line(ini, camauth, service, command, name):
    line = refused(camauth(ini, command, "--", name))  # "--": a name may start with "-"
    no_raw_controls(line)
    with service() as ctx:
        assert roles.list_roles(ctx) == [] and groups.list_groups(ctx) == []
        assert audit.events(ctx) == []


@pytest.mark.parametrize("text", ["undecodable\udcff", "nul\x00byte"])
def test_a_description_no_database_can_store_is_refused(ini, camauth, service, text):
    for command in ("add-role", "add-group"):
        line = refused(camauth(ini, command, "fine", "--description", text))
        assert line.endswith("is not valid text.")
        no_raw_controls(line)
    assert role_state(service, "fine") is None and member_state(service, "fine") is None


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_unknown_to_every_lookup(ini, camauth, service, reviewer, name):
    for command, arguments, kind in (
        ("grant", ("--user", "alice", "--", name), "role"),
        ("revoke", ("--group", "trial-17", "--", name), "role"),
        ("grant", ("reviewer", f"--group={name}"), "group"),
        ("revoke", ("reviewer", f"--user={name}"), "user"),
        ("add-member", ("--", name, "alice"), "group"),
        ("add-member", ("--", "trial-17", name), "user"),
        ("remove-member", ("--", "trial-17", name), "user"),
    ):
        line = refused(camauth(ini, command, *arguments))
        assert line.startswith(f"no {kind} named "), (command, line)
        no_raw_controls(line)
    assert role_state(service, "reviewer") == (["reports.view"], [], [])
    assert member_state(service, "trial-17") == {}


def test_names_differing_only_in_case_are_one_name(ini, camauth, service, reviewer):
    assert camauth(ini, "grant", "REVIEWER", "--group", "TRIAL-17")[0] == 0
    assert camauth(ini, "grant", "Reviewer", "--group", "Trial-17")[1].endswith(
        "nothing changed.\n"
    )
    assert (
        refused(camauth(ini, "add-group", "Trial-17")) == "A group named trial-17 already exists."
    )
    assert role_state(service, "reviewer") == (["reports.view"], [], ["trial-17"])
