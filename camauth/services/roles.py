"""Roles: named sets of permissions, granted to users and to groups (PRODUCT §17).

Every change locks the role's row first (``serial.hold_row``): of two
administrators changing one role at once, the second waits, then works on what
the first committed, and a role deleted meanwhile is reported as gone. A
permission is granted to or revoked from a role one at a time, so two
administrators granting two permissions at once both keep theirs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import delete, func, select

from ..models import User
from ..models.access import (
    DESCRIPTION_LENGTH,
    NAME_LENGTH,
    Group,
    GroupMember,
    Role,
    RoleGrant,
    RolePermission,
)
from . import audit, serial
from .audit import Event
from .context import Context
from .permissions import HOLDINGS, AccessError, catalogue, holdings_from_rows, permission_problem

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")

# a role or a group: what the helpers both share work on
Named = TypeVar("Named", Role, Group)


class Gone(AccessError):
    """The role, group or membership was deleted meanwhile (a 404 or 409 on a page)."""


def normalized_name(name: str) -> str:
    """Names are compared and stored in lower case: 'Trial-17' is 'trial-17'. Only
    ASCII is lowered (the Kelvin sign's lower case is an ASCII 'k'): anything else
    stays as it is, for name_problem to refuse."""
    name = name.strip()
    return name.lower() if name.isascii() else name


def name_problem(kind: str, name: str) -> str | None:
    """Why ``name`` (already normalized) cannot name a role or group, or None."""
    if not name:
        return f"A {kind} needs a name."
    if len(name) > NAME_LENGTH:
        return f"A {kind} name has at most {NAME_LENGTH} characters."
    if not _NAME.fullmatch(name):
        return (
            f"A {kind} name uses lower-case letters, digits, '.', '-' and '_', and starts "
            "with a letter or digit."
        )
    return None


def checked_name(kind: str, name: str) -> str:
    normal = normalized_name(name)
    problem = name_problem(kind, normal)
    if problem is not None:
        raise AccessError(problem)
    return normal


def known_permissions(ctx: Context) -> Mapping[str, str]:
    """Every declared permission with its description (camauth's, the setting's, and
    the host application's code when the context carries them)."""
    return ctx.permissions if ctx.permissions is not None else catalogue(ctx.settings)


def checked_permission(ctx: Context, permission: str) -> str:
    name = permission.strip()
    problem = permission_problem(name)
    if problem is not None:
        raise AccessError(problem)
    if name not in known_permissions(ctx):
        raise AccessError(f"{name!r} is not a declared permission.")
    return name


def find_role(ctx: Context, name: str) -> Role | None:
    return ctx.db.scalar(select(Role).where(Role.name == normalized_name(name)))


def hold_named(ctx: Context, kind: str, record: Role | Group) -> None:
    """Lock a role's or a group's row (``kind`` says which), or report it gone."""
    if not serial.hold_row(ctx, record):
        raise Gone(f"That {kind} was deleted meanwhile.")


def _hold(ctx: Context, role: Role) -> None:
    hold_named(ctx, "role", role)


def _claim_name(ctx: Context, kind: str, name: str, find: Callable[[Context, str], object]) -> None:
    """Lock ``name`` (checked) for this transaction, and refuse it if a ``kind`` has
    it: of two administrators taking one name at once, the second is refused."""
    serial.hold(ctx, f"{kind}-name:{name}")
    if find(ctx, name) is not None:
        raise AccessError(f"A {kind} named {name} already exists.")


def create_named(
    ctx: Context,
    kind: str,
    model: type[Named],
    name: str,
    description: str,
    find: Callable[[Context, str], Named | None],
) -> Named:
    """A new role or group named ``name`` (checked), its row written (not audited)."""
    _claim_name(ctx, kind, name, find)
    record = model(
        name=name, description=description.strip()[:DESCRIPTION_LENGTH], created_at=ctx.clock()
    )
    ctx.db.add(record)
    ctx.db.flush()
    return record


def rename_named(
    ctx: Context,
    kind: str,
    record: Named,
    new_name: str,
    find: Callable[[Context, str], Named | None],
    event: Event,
) -> None:
    """Rename a role or a group to ``new_name`` (checked), and audit it as ``event``."""
    hold_named(ctx, kind, record)
    if new_name == record.name:
        return
    _claim_name(ctx, kind, new_name, find)
    old = record.name
    record.name = new_name
    audit.record(ctx, event, details={kind: new_name, "from": old})


def delete_named(ctx: Context, kind: str, record: Role | Group, event: Event) -> None:
    """Delete a role or a group (what refers to it goes with it), audited as ``event``."""
    hold_named(ctx, kind, record)
    name = record.name
    ctx.db.delete(record)
    ctx.db.flush()
    audit.record(ctx, event, details={kind: name})


@dataclass(frozen=True)
class RoleSummary:
    role: Role
    permissions: tuple[str, ...]
    users: int  # granted directly
    groups: int


def permissions_of(ctx: Context, role: Role) -> list[str]:
    return list(
        ctx.db.scalars(
            select(RolePermission.permission)
            .where(RolePermission.role_id == role.id)
            .order_by(RolePermission.permission)
        )
    )


def list_roles(ctx: Context) -> list[RoleSummary]:
    roles = ctx.db.scalars(select(Role).order_by(Role.name)).all()
    granted = {
        (role_id, to_user): count
        for role_id, to_user, count in ctx.db.execute(
            select(RoleGrant.role_id, RoleGrant.user_id.is_not(None), func.count()).group_by(
                RoleGrant.role_id, RoleGrant.user_id.is_not(None)
            )
        )
    }
    held: dict[int, list[str]] = {}
    for role_id, permission in ctx.db.execute(
        select(RolePermission.role_id, RolePermission.permission).order_by(
            RolePermission.permission
        )
    ):
        held.setdefault(role_id, []).append(permission)
    return [
        RoleSummary(
            role,
            tuple(held.get(role.id, ())),
            granted.get((role.id, True), 0),
            granted.get((role.id, False), 0),
        )
        for role in roles
    ]


def create_role(
    ctx: Context, name: str, permissions: Iterable[str] = (), description: str = ""
) -> Role:
    name = checked_name("role", name)
    wanted = sorted({checked_permission(ctx, permission) for permission in permissions})
    role = create_named(ctx, "role", Role, name, description, find_role)
    ctx.db.add_all(RolePermission(role_id=role.id, permission=p) for p in wanted)
    audit.record(ctx, Event.ROLE_CREATED, details={"role": name, "permissions": wanted})
    return role


def rename_role(ctx: Context, role: Role, new_name: str) -> None:
    new_name = checked_name("role", new_name)
    rename_named(ctx, "role", role, new_name, find_role, Event.ROLE_RENAMED)


def delete_role(ctx: Context, role: Role) -> None:
    """Delete the role; its grants go with it, in this transaction."""
    delete_named(ctx, "role", role, Event.ROLE_DELETED)


def grant_permission(ctx: Context, role: Role, permission: str) -> bool:
    """Add ``permission`` to ``role``; False if it was there already."""
    permission = checked_permission(ctx, permission)
    _hold(ctx, role)
    if permission in permissions_of(ctx, role):
        return False
    ctx.db.add(RolePermission(role_id=role.id, permission=permission))
    ctx.db.flush()
    details = {"role": role.name, "permission": permission}
    audit.record(ctx, Event.ROLE_PERMISSION_GRANTED, details=details)
    return True


def revoke_permission(ctx: Context, role: Role, permission: str) -> bool:
    """Take ``permission`` from ``role`` (an undeclared one too); False if not held."""
    _hold(ctx, role)
    removed = ctx.db.execute(
        delete(RolePermission).where(
            RolePermission.role_id == role.id, RolePermission.permission == permission.strip()
        )
    )
    if not removed.rowcount:  # type: ignore[attr-defined]
        return False
    details = {"role": role.name, "permission": permission.strip()}
    audit.record(ctx, Event.ROLE_PERMISSION_REVOKED, details=details)
    return True


def _grantee(user: User | None, group: Group | None) -> dict[str, object]:
    if (user is None) == (group is None):
        raise AccessError("Grant a role to a user or to a group.")
    return {"user_id": user.id} if user is not None else {"group_id": group.id}  # type: ignore[union-attr]


def grant_role(
    ctx: Context, role: Role, *, user: User | None = None, group: Group | None = None
) -> bool:
    """Grant ``role`` to a user or a group; False if it already was."""
    grantee = _grantee(user, group)
    _hold(ctx, role)
    if group is not None and not serial.hold_row(ctx, group):
        raise Gone("That group was deleted meanwhile.")
    if user is not None and not serial.hold_row(ctx, user, key_share=True):
        raise Gone("That user was deleted meanwhile.")
    exists = select(RoleGrant.id).filter_by(role_id=role.id, **grantee)
    if ctx.db.scalar(exists) is not None:
        return False
    ctx.db.add(RoleGrant(role_id=role.id, granted_at=ctx.clock(), **grantee))
    ctx.db.flush()
    details = {"role": role.name} | ({"group": group.name} if group is not None else {})
    audit.record(ctx, Event.ROLE_GRANTED, target=user, details=details)
    return True


def revoke_role(
    ctx: Context, role: Role, *, user: User | None = None, group: Group | None = None
) -> bool:
    """Revoke ``role`` from a user or a group; False if it was not granted."""
    grantee = _grantee(user, group)
    _hold(ctx, role)
    removed = ctx.db.execute(delete(RoleGrant).filter_by(role_id=role.id, **grantee))
    if not removed.rowcount:  # type: ignore[attr-defined]
        return False
    details = {"role": role.name} | ({"group": group.name} if group is not None else {})
    audit.record(ctx, Event.ROLE_REVOKED, target=user, details=details)
    return True


def grantees(ctx: Context, role: Role) -> tuple[Sequence[User], Sequence[Group]]:
    """The users and the groups ``role`` is granted to, by name."""
    users = ctx.db.scalars(
        select(User)
        .join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.role_id == role.id)
        .order_by(User.username_key)
    ).all()
    groups = ctx.db.scalars(
        select(Group)
        .join(RoleGrant, RoleGrant.group_id == Group.id)
        .where(RoleGrant.role_id == role.id)
        .order_by(Group.name)
    ).all()
    return users, groups


def roles_of(ctx: Context, *, user: User | None = None, group: Group | None = None) -> list[Role]:
    """The roles granted to this user (directly) or this group."""
    grantee = _grantee(user, group)
    return list(
        ctx.db.scalars(
            select(Role)
            .join(RoleGrant, RoleGrant.role_id == Role.id)
            .filter_by(**grantee)
            .order_by(Role.name)
        )
    )


def roles_through_groups(ctx: Context, user: User) -> list[tuple[str, str]]:
    """(role, group) pairs: the roles ``user`` holds as a member of a group."""
    rows = ctx.db.execute(
        select(Role.name, Group.name)
        .select_from(GroupMember)
        .join(Group, Group.id == GroupMember.group_id)
        .join(RoleGrant, RoleGrant.group_id == GroupMember.group_id)
        .join(Role, Role.id == RoleGrant.role_id)
        .where(GroupMember.user_id == user.id)
        .order_by(Role.name, Group.name)
    )
    return [(role, group) for role, group in rows]


def permissions_held(ctx: Context, user: User) -> list[str]:
    """The permissions ``user`` holds through roles, theirs and their groups' (not
    counting ``is_admin``), as this transaction reads them."""
    rows = ctx.db.execute(HOLDINGS, {"user_id": user.id}).all()
    return sorted(holdings_from_rows(rows).permissions)
