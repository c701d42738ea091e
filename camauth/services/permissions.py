"""Permissions a host application declares, and what a user holds (PRODUCT §17).

A permission is a dotted lower-case name (``reports.view``) with a description
for the console. camauth declares its own two; a host application adds its own
with ``config.add_camauth_permission`` or the ``camauth.permissions`` setting.
A user holds the permissions of the roles granted to them and to their groups;
an administrator holds every permission.

What a user holds is read with one query (:data:`HOLDINGS`), on every request
that asks, never cached across requests: a grant or a revocation counts from
the next request on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnClause,
    Integer,
    Select,
    bindparam,
    false,
    literal_column,
    null,
    select,
    union_all,
)

from ..models.access import Group, GroupMember, Role, RoleGrant, RolePermission
from ..permission_names import parse_declarations, permission_problem
from ..settings import Settings

__all__ = ["parse_declarations", "permission_problem"]

CAMAUTH_PERMISSIONS: Mapping[str, str] = {
    "camauth.view": "Use the site's pages as a logged-in user",
    "camauth.admin": "Use the administrator console",
}


class AccessError(ValueError):
    """A roles-and-groups change refused; the message says why, for the person."""


def catalogue(settings: Settings, declared: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
    """Every permission there is: camauth's, the setting's, then ``declared`` (the
    host application's code), each name with its description."""
    known = dict(CAMAUTH_PERMISSIONS)
    known.update(parse_declarations(settings.permissions))
    known.update(declared)
    return known


@dataclass(frozen=True)
class Holdings:
    """What one user holds through roles and groups (not counting ``is_admin``)."""

    permissions: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    administered_groups: frozenset[str] = frozenset()

    def principals(self) -> list[str]:
        """For ACLs: ``role:NAME`` and ``group:NAME``."""
        return [f"role:{name}" for name in sorted(self.roles)] + [
            f"group:{name}" for name in sorted(self.groups)
        ]


NOTHING = Holdings()


# constants written into the statement (bound ones would need a value per call)
_ROLE: ColumnClause[str] = literal_column("'role'")
_GROUP: ColumnClause[str] = literal_column("'group'")


def _holdings_statement() -> Select[Any]:
    user_id = bindparam("user_id", type_=Integer())
    direct = (
        select(_ROLE.label("kind"), Role.name, RolePermission.permission)
        .add_columns(false().label("group_admin"))
        .select_from(RoleGrant)
        .join(Role, Role.id == RoleGrant.role_id)
        .outerjoin(RolePermission, RolePermission.role_id == Role.id)
        .where(RoleGrant.user_id == user_id)
    )
    through_groups = (
        select(_ROLE, Role.name, RolePermission.permission, false())
        .select_from(GroupMember)
        .join(RoleGrant, RoleGrant.group_id == GroupMember.group_id)
        .join(Role, Role.id == RoleGrant.role_id)
        .outerjoin(RolePermission, RolePermission.role_id == Role.id)
        .where(GroupMember.user_id == user_id)
    )
    groups = (
        select(_GROUP, Group.name, null(), GroupMember.is_group_admin)
        .select_from(GroupMember)
        .join(Group, Group.id == GroupMember.group_id)
        .where(GroupMember.user_id == user_id)
    )
    return union_all(direct, through_groups, groups)  # type: ignore[return-value]


# kind, name, permission, group administrator: one row per role-permission and per group
HOLDINGS = _holdings_statement()


def holdings_from_rows(rows: Iterable[tuple[Any, ...]]) -> Holdings:
    permissions: set[str] = set()
    roles: set[str] = set()
    groups: set[str] = set()
    administered: set[str] = set()
    for kind, name, permission, group_admin in rows:
        if kind == "group":
            groups.add(name)
            if group_admin:
                administered.add(name)
            continue
        roles.add(name)
        if permission is not None:
            permissions.add(permission)
    return Holdings(
        frozenset(permissions), frozenset(roles), frozenset(groups), frozenset(administered)
    )
