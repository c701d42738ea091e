"""The command line's roles and groups (PRODUCT §17): ``add-role``, ``add-group``,
``grant``, ``revoke``, ``add-member``, ``remove-member``, ``list-roles``,
``list-groups``. Same services, exit codes and output rules as ``cli.py``.

``add-role`` loads the application the ini names (as ``pshell`` does) to learn
the permissions its code declares; an application that cannot be loaded is a
configuration error (exit 2). Names typed on the command line are looked up only
when they could be names at all (an undecodable or over-long one is simply
unknown), and are echoed escaped and cut short, so every refusal is one line.
Doing what is already done (granting a granted role, removing a non-member)
changes nothing, says so and succeeds, so a script may run twice.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TextIO

from pyramid.paster import bootstrap

from .models.access import Group, Role
from .services import accounts, groups, roles
from .services.context import Context
from .services.permissions import AccessError
from .terminal import printable
from .web.access import PERMISSIONS

Command = Callable[[Context, argparse.Namespace, TextIO], None]
AddCommand = Callable[[str, Command, str], argparse.ArgumentParser]


class NotFound(LookupError):
    """A role, group or user named on the command line does not exist (exit 1)."""


class LoadError(Exception):
    """The application named by the ini could not be loaded (exit 2: configuration)."""


def declared_permissions(config_uri: str) -> Mapping[str, str]:
    """Every permission the application declares, its code's included: the command
    line loads the application as ``pshell`` does (PRODUCT §17)."""
    try:
        env = bootstrap(config_uri)
    # the host application's own code runs here: whatever stops it (an import, its
    # settings, camauth's start-up check calling sys.exit) is one line, not a traceback
    except (Exception, SystemExit) as error:
        reason = " ".join(str(error).split()).removeprefix("camauth: ")[:500]
        reason = reason or type(error).__name__
        raise LoadError(f"the application in {config_uri} could not be loaded: {reason}") from None
    registry = env["registry"]
    try:
        known = registry.get(PERMISSIONS) if registry is not None else None
        if known is None:
            raise LoadError(f"the application in {config_uri} does not include camauth")
        return dict(known)
    finally:
        env["closer"]()
        engine = registry.get("camauth.engine") if registry is not None else None
        if engine is not None:
            engine.dispose()  # the command uses its own; leave no connection behind


SHOWN_LENGTH = 64  # a longer name is cut short in messages: one line stays a line


def shown(text: str) -> str:
    """Text from the command line in a message: escaped, quoted and at most one line."""
    if len(text) > SHOWN_LENGTH:
        text = text[:SHOWN_LENGTH] + "…"
    return repr(printable(text))


def _usable(text: str) -> bool:
    # argv may hold undecodable bytes (as surrogates) that no driver can send, and
    # PostgreSQL refuses NUL in text: no role, group or user has either
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def checked_text(text: str) -> str:
    """A name or description for a new role or group, refused if no database takes it."""
    if not _usable(text):
        raise AccessError(f"{shown(text)} is not valid text.")
    return text


def _named(
    ctx: Context, kind: str, name: str, find: Callable[[Context, str], roles.Named | None]
) -> roles.Named:
    """The role or group (``kind``) named on the command line."""
    normal = roles.normalized_name(name)
    known = _usable(name) and roles.name_problem(kind, normal) is None
    record = find(ctx, normal) if known else None
    if record is None:
        raise NotFound(f"no {kind} named {shown(name)}")
    return record


def _role(ctx: Context, name: str) -> Role:
    return _named(ctx, "role", name, roles.find_role)


def _group(ctx: Context, name: str) -> Group:
    return _named(ctx, "group", name, groups.find_group)


def _user(ctx: Context, username: str) -> accounts.User:
    user = accounts.find_user(ctx, username) if _usable(username) else None
    if user is None:
        raise NotFound(f"no user named {shown(username)}")
    return user


def cmd_add_role(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    ctx = replace(ctx, permissions=declared_permissions(args.config_uri))
    name = checked_text(args.name)
    description = checked_text(args.description or "")
    wanted = [checked_text(permission) for permission in args.permissions]
    role = roles.create_role(ctx, name, wanted, description)
    held = ", ".join(roles.permissions_of(ctx, role)) or "no permissions yet"
    print(f"Created role {role.name!r} ({held}).")


def cmd_add_group(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    name = checked_text(args.name)
    group = groups.create_group(ctx, name, checked_text(args.description or ""))
    print(f"Created group {group.name!r}.")


def _grantee(ctx: Context, args: argparse.Namespace) -> tuple[str, accounts.User | Group]:
    """The user or the group of ``--user``/``--group``, with words naming them."""
    if args.user is not None:
        user = _user(ctx, args.user)
        return f"user {user.username!r}", user
    group = _group(ctx, args.group)
    return f"group {group.name!r}", group


def _change_grant(ctx: Context, args: argparse.Namespace, grant: bool) -> None:
    """``grant`` (or, with ``grant`` False, ``revoke``) a role to a user or a group."""
    role = _role(ctx, args.role)
    words, grantee = _grantee(ctx, args)
    change = roles.grant_role if grant else roles.revoke_role
    if isinstance(grantee, Group):
        changed = change(ctx, role, group=grantee)
    else:
        changed = change(ctx, role, user=grantee)
    if changed and grant:
        line = f"Granted role {role.name!r} to {words}."
    elif grant:
        line = f"The {words} already has role {role.name!r}: nothing changed."
    elif changed:
        line = f"Revoked role {role.name!r} from {words}."
    else:
        line = f"The {words} does not have role {role.name!r}: nothing changed."
    print(printable(line))


def cmd_grant(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    _change_grant(ctx, args, grant=True)


def cmd_revoke(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    _change_grant(ctx, args, grant=False)


def cmd_add_member(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    group = _group(ctx, args.group)
    user = _user(ctx, args.username)
    was_member = groups.membership(ctx, group, user) is not None
    changed = groups.add_member(ctx, group, user, group_admin=args.group_admin)
    role = " as a group administrator" if args.group_admin else ""
    if not changed:
        line = f"{user.username!r} is already a member of {group.name!r}{role}: nothing changed."
    elif was_member:
        line = f"{user.username!r} is now an administrator of group {group.name!r}."
    else:
        line = f"Added {user.username!r} to group {group.name!r}{role}."
    print(printable(line))


def cmd_remove_member(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    group = _group(ctx, args.group)
    user = _user(ctx, args.username)
    # like revoke: nothing to do is no failure, so a script may run it twice
    if groups.remove_member(ctx, group, user):
        line = f"Removed {user.username!r} from group {group.name!r}."
    else:
        line = f"{user.username!r} is not a member of group {group.name!r}: nothing changed."
    print(printable(line))


def cmd_list_roles(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    print(f"{'role':<30} {'users':>5} {'groups':>6} permissions")
    for summary in roles.list_roles(ctx):
        held = " ".join(summary.permissions) or "-"
        line = f"{summary.role.name:<30} {summary.users:>5} {summary.groups:>6} {held}"
        print(printable(line))


def cmd_list_groups(ctx: Context, args: argparse.Namespace, stdin: TextIO) -> None:
    print(f"{'group':<30} {'members':>7} {'admins':>6} roles")
    for summary in groups.list_groups(ctx):
        granted = " ".join(role.name for role in roles.roles_of(ctx, group=summary.group))
        counts = f"{summary.members:>7} {summary.administrators:>6}"
        print(printable(f"{summary.group.name:<30} {counts} {granted or '-'}"))


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
