"""Groups: named sets of users, with group administrators (PRODUCT §17).

A group's members hold the roles granted to the group. A group administrator
may add and remove the group's members, and nothing else. Every change locks
the group's row first, like the roles' (``services/roles.py``): a group deleted
meanwhile is reported as gone, and adding a member to it cannot leave a
membership behind (the foreign key refuses it; the lock makes that a clear
message rather than an error).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, delete, func, select

from ..models import User
from ..models.access import Group, GroupMember
from . import audit, serial
from .audit import Event
from .context import Context
from .permissions import AccessError
from .roles import (
    Gone,
    checked_name,
    create_named,
    delete_named,
    hold_named,
    normalized_name,
    rename_named,
)

# "admin" stays reserved: "group:admin" was the principal of camauth's administrators
# in host ACLs, and a group of that name must not open such an ACL to its members
RESERVED_GROUP_NAMES = frozenset({"admin"})


def find_group(ctx: Context, name: str) -> Group | None:
    return ctx.db.scalar(select(Group).where(Group.name == normalized_name(name)))


def _hold(ctx: Context, group: Group) -> None:
    hold_named(ctx, "group", group)


def _group_name(name: str) -> str:
    name = checked_name("group", name)
    if name in RESERVED_GROUP_NAMES:
        raise AccessError(f"{name!r} is reserved: choose another group name.")
    return name


@dataclass(frozen=True)
class GroupSummary:
    group: Group
    members: int
    administrators: int


def list_groups(ctx: Context, *, administered_by: User | None = None) -> list[GroupSummary]:
    """Every group by name, or only those ``administered_by`` administers."""
    counts = {
        group_id: (members, admins or 0)
        for group_id, members, admins in ctx.db.execute(
            select(
                GroupMember.group_id,
                func.count(),
                func.sum(case((GroupMember.is_group_admin.is_(True), 1), else_=0)),
            ).group_by(GroupMember.group_id)
        )
    }
    query = select(Group).order_by(Group.name)
    if administered_by is not None:
        query = query.join(GroupMember, GroupMember.group_id == Group.id).where(
            GroupMember.user_id == administered_by.id, GroupMember.is_group_admin.is_(True)
        )
    return [
        GroupSummary(group, *counts.get(group.id, (0, 0))) for group in ctx.db.scalars(query).all()
    ]


def create_group(ctx: Context, name: str, description: str = "") -> Group:
    name = _group_name(name)
    group = create_named(ctx, "group", Group, name, description, find_group)
    audit.record(ctx, Event.GROUP_CREATED, details={"group": name})
    return group


def rename_group(ctx: Context, group: Group, new_name: str) -> None:
    new_name = _group_name(new_name)
    rename_named(ctx, "group", group, new_name, find_group, Event.GROUP_RENAMED)


def delete_group(ctx: Context, group: Group) -> None:
    """Delete the group; its memberships and grants go with it, in this transaction."""
    delete_named(ctx, "group", group, Event.GROUP_DELETED)


def membership(ctx: Context, group: Group, user: User) -> GroupMember | None:
    # read from the database every time, not from the session's identity map: a
    # membership this request saw before taking the group's lock may have been
    # removed meanwhile (the changes below decide on it once they hold the lock)
    key = (group.id, user.id)
    member = ctx.db.get(GroupMember, key, populate_existing=True)
    if member is None:  # and forget the one seen, so that adding it again is no conflict
        seen = ctx.db.identity_map.get(ctx.db.identity_key(GroupMember, key))
        if seen is not None:
            ctx.db.expunge(seen)
    return member


def add_member(ctx: Context, group: Group, user: User, *, group_admin: bool = False) -> bool:
    """Make ``user`` a member of ``group`` (and with ``group_admin`` one of its
    administrators, an existing member too). False if nothing changed."""
    _hold(ctx, group)
    if not serial.hold_row(ctx, user, key_share=True):
        raise Gone("That user was deleted meanwhile.")
    member = membership(ctx, group, user)
    if member is None:
        ctx.db.add(
            GroupMember(
                group_id=group.id, user_id=user.id, is_group_admin=False, added_at=ctx.clock()
            )
        )
        ctx.db.flush()
        audit.record(ctx, Event.MEMBER_ADDED, target=user, details={"group": group.name})
        if group_admin:
            set_group_admin(ctx, group, user, True)
        return True
    return group_admin and set_group_admin(ctx, group, user, True)


def remove_member(ctx: Context, group: Group, user: User) -> bool:
    """Take ``user`` out of ``group``; False if they were not a member."""
    _hold(ctx, group)
    removed = ctx.db.execute(
        delete(GroupMember).where(GroupMember.group_id == group.id, GroupMember.user_id == user.id)
    )
    if not removed.rowcount:  # type: ignore[attr-defined]
        return False
    audit.record(ctx, Event.MEMBER_REMOVED, target=user, details={"group": group.name})
    return True


def set_group_admin(ctx: Context, group: Group, user: User, is_admin: bool) -> bool:
    """Make a member an administrator of the group, or no longer one."""
    _hold(ctx, group)
    # the user's row too (as add_member does): deleting the user deletes the
    # membership without the group's lock
    if not serial.hold_row(ctx, user, key_share=True):
        raise Gone("That user was deleted meanwhile.")
    member = membership(ctx, group, user)
    if member is None:
        raise Gone(f"{user.username} is not a member of {group.name}.")
    if member.is_group_admin == is_admin:
        return False
    member.is_group_admin = is_admin
    event = Event.GROUP_ADMIN_GRANTED if is_admin else Event.GROUP_ADMIN_REVOKED
    audit.record(ctx, event, target=user, details={"group": group.name})
    return True


@dataclass(frozen=True)
class Member:
    user: User
    is_group_admin: bool


def members(ctx: Context, group: Group) -> list[Member]:
    rows = ctx.db.execute(
        select(User, GroupMember.is_group_admin)
        .join(GroupMember, GroupMember.user_id == User.id)
        .where(GroupMember.group_id == group.id)
        .order_by(User.username_key)
    )
    return [Member(user, bool(admin)) for user, admin in rows]


def groups_of(ctx: Context, user: User) -> Sequence[tuple[Group, bool]]:
    """The groups ``user`` belongs to, each with whether they administer it."""
    rows = ctx.db.execute(
        select(Group, GroupMember.is_group_admin)
        .join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.user_id == user.id)
        .order_by(Group.name)
    )
    return [(group, bool(admin)) for group, admin in rows]


def administers(ctx: Context, user: User, group: Group) -> bool:
    member = membership(ctx, group, user)
    return member is not None and member.is_group_admin
