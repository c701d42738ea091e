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
    select,
    union,
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
_PERMISSION: ColumnClause[str] = literal_column("'permission'")
_GROUP: ColumnClause[str] = literal_column("'group'")


def _holdings_statement() -> Select[Any]:
    """Rows of (kind, name, group administrator): each role held once, each of their
    permissions once, each group. The roles are found first (granted to the user or
    to one of their groups, without duplicates), so a user in many groups gets one
    row per permission, not one per path to it."""
    user_id = bindparam("user_id", type_=Integer())
    held_roles = union(
        select(RoleGrant.role_id).where(RoleGrant.user_id == user_id),
        select(RoleGrant.role_id)
        .join(GroupMember, GroupMember.group_id == RoleGrant.group_id)
        .where(GroupMember.user_id == user_id),
    ).cte("held_roles")
    roles = select(_ROLE.label("kind"), Role.name, false().label("group_admin")).join(
        held_roles, held_roles.c.role_id == Role.id
    )
    permissions = (
        select(_PERMISSION, RolePermission.permission, false())
        .join(held_roles, held_roles.c.role_id == RolePermission.role_id)
        .distinct()
    )
    groups = (
        select(_GROUP, Group.name, GroupMember.is_group_admin)
        .join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.user_id == user_id)
    )
    return union_all(roles, permissions, groups)  # type: ignore[return-value]


HOLDINGS = _holdings_statement()


def holdings_from_rows(rows: Iterable[tuple[Any, ...]]) -> Holdings:
    permissions: set[str] = set()
    roles: set[str] = set()
    groups: set[str] = set()
    administered: set[str] = set()
    for kind, name, group_admin in rows:
        if kind == "permission":
            permissions.add(name)
        elif kind == "role":
            roles.add(name)
        else:
            groups.add(name)
            if group_admin:
                administered.add(name)
    return Holdings(
        frozenset(permissions), frozenset(roles), frozenset(groups), frozenset(administered)
    )
