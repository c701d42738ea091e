"""The command line's roles and groups (PRODUCT §17): ``add-role``, ``add-group``,
``grant``, ``revoke``, ``add-member``, ``remove-member``, ``list-roles``,
``list-groups``. Same services, exit codes and output rules as ``cli.py``."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TextIO

from pyramid.paster import bootstrap

from .models.access import Group, Role
from .services import accounts, groups, roles
from .services.context import Context
from .terminal import printable

Command = Callable[[Context, argparse.Namespace, TextIO], None]
AddCommand = Callable[[str, Command, str], argparse.ArgumentParser]


class NotFound(LookupError):
    """A role, group or user named on the command line does not exist (exit 1)."""


def declared_permissions(config_uri: str) -> Mapping[str, str]:
    """Every permission the application declares, its code's included: the command
    line loads the application as ``pshell`` does (PRODUCT §17)."""
    env = bootstrap(config_uri)
    try:
        known: Mapping[str, str] = dict(env["registry"]["camauth.permissions"])
    finally:
        env["closer"]()
    return known


def _role(ctx: Context, name: str) -> Role:
    role = roles.find_role(ctx, name)
    if role is None:
        raise NotFound(f"no role named {printable(name)!r}")
    return role


def _group(ctx: Context, name: str) -> Group:
    group = groups.find_group(ctx, name)
    if group is None:
        raise NotFound(f"no group named {printable(name)!r}")
    return group


def _user(ctx: Context, username: str) -> accounts.User:
    user = accounts.find_user(ctx, username)
    if user is None:
        raise NotFound(f"no user named {printable(username)!r}")
    return user


def cmd_add_role(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    ctx = replace(ctx, permissions=declared_permissions(args.config_uri))
    role = roles.create_role(ctx, args.name, args.permissions, args.description or "")
    held = ", ".join(sorted(args.permissions)) or "no permissions yet"
    print(f"Created role {role.name!r} ({held}).")


def cmd_add_group(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    group = groups.create_group(ctx, args.name, args.description or "")
    print(f"Created group {group.name!r}.")


def _grantee(ctx: Context, args: argparse.Namespace) -> dict[str, object]:
    if args.user is not None:
        return {"user": _user(ctx, args.user)}
    return {"group": _group(ctx, args.group)}


def _grantee_words(args: argparse.Namespace) -> str:
    return f"user {args.user!r}" if args.user is not None else f"group {args.group!r}"


def cmd_grant(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    role = _role(ctx, args.role)
    if roles.grant_role(ctx, role, **_grantee(ctx, args)):  # type: ignore[arg-type]
        print(f"Granted role {role.name!r} to {printable(_grantee_words(args))}.")
    else:
        print(f"{printable(_grantee_words(args))} already has role {role.name!r}: nothing changed.")


def cmd_revoke(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    role = _role(ctx, args.role)
    if roles.revoke_role(ctx, role, **_grantee(ctx, args)):  # type: ignore[arg-type]
        print(f"Revoked role {role.name!r} from {printable(_grantee_words(args))}.")
    else:
        print(
            f"{printable(_grantee_words(args))} does not have role {role.name!r}: nothing changed."
        )


def cmd_add_member(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    group = _group(ctx, args.group)
    user = _user(ctx, args.username)
    was_member = groups.membership(ctx, group, user) is not None
    changed = groups.add_member(ctx, group, user, group_admin=args.group_admin)
    role = " as a group administrator" if args.group_admin else ""
    if not changed:
        print(f"{user.username!r} is already a member of {group.name!r}{role}: nothing changed.")
    elif was_member:
        print(f"{user.username!r} is now an administrator of group {group.name!r}.")
    else:
        print(f"Added {user.username!r} to group {group.name!r}{role}.")


def cmd_remove_member(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    group = _group(ctx, args.group)
    user = _user(ctx, args.username)
    if not groups.remove_member(ctx, group, user):
        raise NotFound(f"{user.username!r} is not a member of group {group.name!r}")
    print(f"Removed {user.username!r} from group {group.name!r}.")


def cmd_list_roles(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    print(f"{'role':<30} {'users':>5} {'groups':>6} permissions")
    for summary in roles.list_roles(ctx):
        held = " ".join(summary.permissions) or "-"
        print(f"{summary.role.name:<30} {summary.users:>5} {summary.groups:>6} {held}")


def cmd_list_groups(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    print(f"{'group':<30} {'members':>7} {'admins':>6} roles")
    for summary in groups.list_groups(ctx):
        granted = " ".join(role.name for role in roles.roles_of(ctx, group=summary.group))
        print(
            f"{summary.group.name:<30} {summary.members:>7} {summary.administrators:>6} "
            f"{granted or '-'}"
        )


def add_access_commands(add: AddCommand) -> None:
    role = add("add-role", cmd_add_role, "create a role holding the permissions named")
    role.add_argument("name")
    role.add_argument("permissions", nargs="*", metavar="PERMISSION")
    role.add_argument("--description")
    group = add("add-group", cmd_add_group, "create a group")
    group.add_argument("name")
    group.add_argument("--description")
    for name, handler, help_text in (
        ("grant", cmd_grant, "grant a role to a user or a group"),
        ("revoke", cmd_revoke, "revoke a role from a user or a group"),
    ):
        sub = add(name, handler, help_text)
        sub.add_argument("role")
        grantee = sub.add_mutually_exclusive_group(required=True)
        grantee.add_argument("--user")
        grantee.add_argument("--group")
    member = add("add-member", cmd_add_member, "add a user to a group (or make them its admin)")
    member.add_argument("group")
    member.add_argument("username")
    member.add_argument("--group-admin", action="store_true")
    remove = add("remove-member", cmd_remove_member, "remove a user from a group")
    remove.add_argument("group")
    remove.add_argument("username")
    add("list-roles", cmd_list_roles, "list roles, their permissions and grants")
    add("list-groups", cmd_list_groups, "list groups, their members and roles")
