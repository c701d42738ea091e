"""The administrator console at ``/admin`` (PRODUCT §9).

Every view here needs the ``ADMIN`` permission; every change is a POST with the
CSRF token and is audited by the service it calls. Destructive changes ask on a
page of their own first; changes to someone's credentials (password, two-factor,
administrator rights) also need the acting administrator's recent
authentication (``camauth.reauth_minutes``).

The pages of roles and groups are the exception: a group administrator (not an
administrator) sees the pages of the groups they administer and adds and removes
their members there (``groups.py``); those views need ``VIEW`` and check the group
themselves.

``tests/functional/test_admin_authorization.py`` requests every route under
``/admin`` as a visitor, as a non-administrator and as a group administrator, so a
new page cannot be left open by mistake.
"""

from __future__ import annotations

from pyramid.config import Configurator

from . import groups, identities, passkeys, roles
from .access_pages import NAME
from .user_actions import add_user_action_routes

ADMIN_ROUTES = {
    "camauth.admin": "/admin",
    "camauth.admin.users": "/admin/users",
    "camauth.admin.users.new": "/admin/users/new",
    "camauth.admin.user": r"/admin/users/{id:\d{1,10}}",
    "camauth.admin.user.edit": r"/admin/users/{id:\d{1,10}}/edit",
    "camauth.admin.user.reset_password": r"/admin/users/{id:\d{1,10}}/reset-password",
    "camauth.admin.user.hardware_token": r"/admin/users/{id:\d{1,10}}/hardware-token",
    identities.UNLINK: identities.UNLINK_PATTERN,
    passkeys.REMOVE: passkeys.REMOVE_PATTERN,
    "camauth.admin.lockouts": "/admin/lockouts",
    "camauth.admin.lockouts.unlock": "/admin/lockouts/unlock",
    "camauth.admin.lockouts.lift": "/admin/lockouts/lift",
    "camauth.admin.sessions": "/admin/sessions",
    "camauth.admin.sessions.end_all": "/admin/sessions/end-all",
    "camauth.admin.session.end": r"/admin/sessions/{id:\d{1,10}}/end",
    "camauth.admin.audit": "/admin/audit",
    "camauth.admin.audit.csv": "/admin/audit.csv",
    roles.LIST: "/admin/roles",
    roles.PAGE: "/admin/roles/" + NAME,
    **{route: f"/admin/roles/{NAME}/{slug}" for route, slug in roles.ACTIONS.items()},
    groups.LIST: "/admin/groups",
    groups.PAGE: "/admin/groups/" + NAME,
    **{route: f"/admin/groups/{NAME}/{slug}" for route, slug in groups.ACTIONS.items()},
}


def includeme(config: Configurator) -> None:
    for name, pattern in ADMIN_ROUTES.items():
        config.add_route(name, pattern)
    add_user_action_routes(config)
    config.scan(".")
