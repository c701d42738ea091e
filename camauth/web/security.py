"""Pyramid security policy: who the user is, and what they may see right now.

Permissions camauth's views (and a host application's) use:

- ``SIGNED_IN``: logged in, whatever actions are owed (re-authentication, which
  any page may send someone to);
- ``VIEW``: logged in and owing no required action (PRODUCT §7);
- ``ADMIN``: the same, and an administrator;
- ``API``: the same, with an API session's bearer token (the JSON API is for tools);
- ``action_permission(action)``: logged in, and either owing nothing or owing
  exactly this action first, for the page where it is done.

A host application's own permissions are held through roles (``web/access.py``),
by administrators, or by the context's ACL.

When a permission is denied the forbidden view sends anonymous visitors to
/login, and users who owe an action to the page for it.
"""

from __future__ import annotations

from typing import Any

from pyramid.authorization import ACLHelper
from pyramid.request import Request
from pyramid.security import Allowed, Denied, PermitsResult

from ..models import User
from ..services.permissions import Holdings
from ..services.required_actions import Action, next_action

SIGNED_IN = "camauth.signed_in"
VIEW = "camauth.view"
ADMIN = "camauth.admin"
API = "camauth.api"
_ACTION_PREFIX = "camauth.action:"


def action_permission(action: Action) -> str:
    return _ACTION_PREFIX + action.value


def request_user(request: Request) -> User | None:
    """``request.user``: the logged-in user, loaded with the session in one query."""
    user: User | None = request.session.user
    return user


def owed_action(request: Request) -> Action | None:
    user = request.user
    if user is None:
        return None
    registry = request.registry
    return next_action(registry["camauth.settings"], registry["camauth.clock"], user)


class SecurityPolicy:
    def identity(self, request: Request) -> User | None:
        return request.user

    def authenticated_userid(self, request: Request) -> int | None:
        user = request.user
        return user.id if user is not None else None

    def permits(self, request: Request, context: Any, permission: str) -> PermitsResult:
        user = request.user
        if user is None:
            if permission.startswith("camauth."):
                return Denied("not logged in")
            # a host application's own permission may be granted to everyone
            return ACLHelper().permits(context, ["system.Everyone"], permission)
        if permission == SIGNED_IN:
            return Allowed("logged in")
        owed = owed_action(request)
        if permission.startswith(_ACTION_PREFIX):
            wanted = permission[len(_ACTION_PREFIX) :]
            if owed is None or owed.value == wanted:
                return Allowed("may do this action")
            return Denied(f"owes {owed.value} first")
        if owed is not None:
            return Denied(f"owes {owed.value} first")
        if permission == VIEW:
            return Allowed("logged in")
        if permission == ADMIN:
            return Allowed("administrator") if user.is_admin else Denied("not an administrator")
        if permission == API:
            bearer = request.session.bearer
            return Allowed("API session") if bearer else Denied("not an API session")
        # a host application's own permissions: an administrator holds them all; others
        # through roles (granted to them or to their groups), or by the ACL of the
        # context, with camauth's principals (role:NAME and group:NAME among them)
        if user.is_admin:
            return Allowed("administrator")
        holdings: Holdings = request.camauth_holdings
        if permission in holdings.permissions:
            return Allowed("held through a role")
        principals = ["system.Everyone", "system.Authenticated", f"user:{user.id}"]
        principals += holdings.principals()
        if request.session.bearer and request.session.record is not None:
            # an API token carries the scopes the person approved
            principals += [f"scope:{name}" for name in request.session.record.scope.split()]
        return ACLHelper().permits(context, principals, permission)

    def remember(self, request: Request, userid: Any, **kw: Any) -> list[tuple[str, str]]:
        # logging in happens through request.session.login(); no headers needed
        return []

    def forget(self, request: Request, **kw: Any) -> list[tuple[str, str]]:
        request.session.invalidate()
        return []
