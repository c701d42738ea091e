"""Roles, groups and what a user holds through them (services/roles.py, groups.py,
permissions.py), on both databases."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from camauth.models import AuditEvent, GroupMember, RoleGrant, RolePermission
from camauth.services import accounts, groups, roles
from camauth.services.context import Context
from camauth.services.permissions import AccessError, catalogue
from camauth.services.roles import Gone
from camauth.services.session_lookup import SessionLookup

from ..conftest import GOOD_PASSWORD

DECLARED = {"reports.view": "See reports", "reports.export": "Export reports"}


@pytest.fixture
def host(ctx: Context) -> Context:
    """A context that knows the host application's permissions."""
    return replace(ctx, permissions=catalogue(ctx.settings, DECLARED.items()))


def user(ctx: Context, name: str) -> accounts.User:
    return accounts.create_user(ctx, name, password=GOOD_PASSWORD)


def held(ctx: Context, someone: accounts.User) -> frozenset[str]:
    ctx.db.commit()  # the lookup reads what is committed, as a request's would
    lookup = SessionLookup(ctx.db.get_bind())  # type: ignore[arg-type]
    try:
        return lookup.holdings(someone.id).permissions
    finally:
        lookup.close_kept()


def events(ctx: Context) -> list[str]:
    return list(ctx.db.scalars(select(AuditEvent.event).order_by(AuditEvent.id)))


def test_a_role_held_directly_and_through_a_group(host):
    ann, ben, cat = user(host, "ann"), user(host, "ben"), user(host, "cat")
    viewer = roles.create_role(host, "Viewer", ["reports.view"])
    exporter = roles.create_role(host, "exporter", ["reports.export", "reports.view"])
    team = groups.create_group(host, "Trial-17")
    assert (viewer.name, team.name) == ("viewer", "trial-17")  # names are lower case
    roles.grant_role(host, viewer, user=ann)
    roles.grant_role(host, exporter, group=team)
    groups.add_member(host, team, ben)
    assert held(host, ann) == {"reports.view"}
    assert held(host, ben) == {"reports.view", "reports.export"}
    assert held(host, cat) == frozenset()
    lookup = SessionLookup(host.db.get_bind())  # type: ignore[arg-type]
    holdings = lookup.holdings(ben.id)
    lookup.close_kept()
    assert holdings.roles == {"exporter"} and holdings.groups == {"trial-17"}
    assert holdings.principals() == ["role:exporter", "group:trial-17"]


def test_revoking_and_removing_take_effect_at_once(host):
    ann = user(host, "ann")
    viewer = roles.create_role(host, "viewer", ["reports.view"])
    team = groups.create_group(host, "team")
    roles.grant_role(host, viewer, group=team)
    groups.add_member(host, team, ann)
    assert held(host, ann) == {"reports.view"}
    assert groups.remove_member(host, team, ann)
    assert held(host, ann) == frozenset()
    groups.add_member(host, team, ann)
    assert roles.revoke_permission(host, viewer, "reports.view")
    assert held(host, ann) == frozenset()


def test_deleting_a_role_or_group_deletes_its_grants_and_memberships(host):
    ann = user(host, "ann")
    viewer = roles.create_role(host, "viewer", ["reports.view"])
    team = groups.create_group(host, "team")
    roles.grant_role(host, viewer, user=ann)
    roles.grant_role(host, viewer, group=team)
    groups.add_member(host, team, ann)
    roles.delete_role(host, viewer)
    groups.delete_group(host, team)
    for table in (RoleGrant, RolePermission, GroupMember):
        assert host.db.scalar(select(func.count()).select_from(table)) == 0
    assert held(host, ann) == frozenset()
    assert events(host)[-2:] == ["role_deleted", "group_deleted"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "needs a name"),
        ("   ", "needs a name"),
        ("a" * 65, "at most 64"),
        ("two words", "lower-case letters"),
        ("-leading", "lower-case letters"),
        ("émigré", "lower-case letters"),
        ("nul\x00", "lower-case letters"),
        ("\u212aeeper", "lower-case letters"),  # the Kelvin sign lowers to an ASCII k
    ],
)
def test_bad_names_are_refused_with_a_reason(host, name, message):
    with pytest.raises(AccessError, match=message):
        roles.create_role(host, name)
    with pytest.raises(AccessError, match=message):
        groups.create_group(host, name)


def test_names_differing_only_in_case_are_one_name(host):
    roles.create_role(host, "Reviewer")
    with pytest.raises(AccessError, match="already exists"):
        roles.create_role(host, "REVIEWER")
    groups.create_group(host, "team")
    with pytest.raises(AccessError, match="already exists"):
        groups.create_group(host, " Team ")
    assert roles.find_role(host, "reviewer") is not None


def test_the_administrators_group_name_is_reserved(host):
    with pytest.raises(AccessError, match="reserved"):
        groups.create_group(host, "Admin")


@pytest.mark.parametrize("permission", ["reports.delete", "Reports.View", "reports", ""])
def test_only_declared_permissions_can_be_granted(host, permission):
    with pytest.raises(AccessError):
        roles.create_role(host, "viewer", [permission])
    role = roles.create_role(host, "viewer")
    with pytest.raises(AccessError):
        roles.grant_permission(host, role, permission)


def test_without_the_hosts_catalogue_only_camauths_and_the_settings_are_known(ctx):
    with pytest.raises(AccessError, match="not a declared permission"):
        roles.create_role(ctx, "viewer", ["reports.view"])
    assert roles.create_role(ctx, "admins", ["camauth.admin"]).name == "admins"


def test_granting_twice_changes_nothing_the_second_time(host):
    ann = user(host, "ann")
    viewer = roles.create_role(host, "viewer")
    assert roles.grant_role(host, viewer, user=ann)
    assert not roles.grant_role(host, viewer, user=ann)
    assert roles.grant_permission(host, viewer, "reports.view")
    assert not roles.grant_permission(host, viewer, "reports.view")
    assert not roles.revoke_role(host, viewer, group=groups.create_group(host, "team"))
    assert events(host).count("role_granted") == 1


def test_group_administrators(host):
    ann, ben = user(host, "ann"), user(host, "ben")
    team = groups.create_group(host, "team")
    assert groups.add_member(host, team, ann, group_admin=True)
    assert groups.administers(host, ann, team)
    groups.add_member(host, team, ben)
    assert not groups.administers(host, ben, team)
    assert groups.add_member(host, team, ben, group_admin=True)  # an existing member too
    assert groups.set_group_admin(host, team, ann, False)
    assert [s.group.name for s in groups.list_groups(host, administered_by=ben)] == ["team"]
    assert groups.list_groups(host, administered_by=ann) == []
    assert events(host)[-4:] == [
        "group_admin_granted",
        "member_added",
        "group_admin_granted",
        "group_admin_revoked",
    ]


def test_a_role_deleted_meanwhile_is_gone(host):
    viewer = roles.create_role(host, "viewer")
    host.db.commit()
    other = replace(host, db=type(host.db)(bind=host.db.get_bind()))
    roles.delete_role(other, other.db.merge(viewer))
    other.db.commit()
    other.db.close()
    with pytest.raises(Gone):
        roles.grant_permission(host, viewer, "reports.view")


def test_rename_keeps_grants_and_refuses_a_taken_name(host):
    ann = user(host, "ann")
    viewer = roles.create_role(host, "viewer", ["reports.view"])
    roles.create_role(host, "taken")
    roles.grant_role(host, viewer, user=ann)
    with pytest.raises(AccessError, match="already exists"):
        roles.rename_role(host, viewer, "Taken")
    roles.rename_role(host, viewer, "reader")
    assert held(host, ann) == {"reports.view"}
    assert [role.name for role in roles.roles_of(host, user=ann)] == ["reader"]
