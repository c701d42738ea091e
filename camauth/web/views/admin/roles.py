"""``/admin/roles``: roles (named sets of permissions) and whom they are granted to.

The list creates one; a role's page renames it, grants and revokes its
permissions one at a time (a button each, so two administrators granting two
permissions at once both keep theirs), and grants it to users and groups or
takes it back. Deleting it is asked on a page of its own. Every change is made
and audited by ``services/roles.py``.
"""

from __future__ import annotations

from typing import Any

import deform
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ....models.access import Role
from ....services import groups, roles
from ...rendering import form_html
from ...security import ADMIN
from .access_forms import (
    button_form,
    choice_form,
    new_role_form,
    offered_permissions,
    username_form,
)
from .access_pages import (
    Kind,
    back_to_page,
    change_group_grant,
    create_submit,
    delete_page,
    delete_submit,
    group_named,
    list_page,
    rename_submit,
    renaming_form,
    submit,
    user_named,
    user_numbered,
)
from .common import admin_page

LIST = "camauth.admin.roles"
PAGE = "camauth.admin.role"
RENAME = "camauth.admin.role.rename"
GRANT_PERMISSION = "camauth.admin.role.grant_permission"
REVOKE_PERMISSION = "camauth.admin.role.revoke_permission"
GRANT_USER = "camauth.admin.role.grant_user"
REVOKE_USER = "camauth.admin.role.revoke_user"
GRANT_GROUP = "camauth.admin.role.grant_group"
REVOKE_GROUP = "camauth.admin.role.revoke_group"
DELETE = "camauth.admin.role.delete"
# route name -> the last part of its URL, after /admin/roles/{name}/
ACTIONS = {
    RENAME: "rename",
    GRANT_PERMISSION: "grant-permission",
    REVOKE_PERMISSION: "revoke-permission",
    GRANT_USER: "grant-user",
    REVOKE_USER: "revoke-user",
    GRANT_GROUP: "grant-group",
    REVOKE_GROUP: "revoke-group",
    DELETE: "delete",
}


def role_url(request: Request, name: str, route: str = PAGE) -> str:
    url: str = request.route_path(route, name=name)
    return url


# --- the list, and a new role -------------------------------------------------------


def _new_form(request: Request) -> deform.Form:
    known = roles.known_permissions(request.camauth)
    return new_role_form(request, request.route_path(LIST), known)


@view_config(route_name=LIST, request_method="GET", permission=ADMIN)
def roles_page(request: Request) -> Response:
    return list_page(request, KIND, _new_form(request).render())


@view_config(route_name=LIST, request_method="POST", permission=ADMIN)
def new_role_submit(request: Request) -> Response:
    def create(values: dict[str, Any]) -> Role:
        permissions = sorted(values.get("permissions", ()))
        return roles.create_role(
            request.camauth, values["name"], permissions, values["description"]
        )

    return create_submit(request, KIND, _new_form(request), create)


# --- one role -----------------------------------------------------------------------


def _forms(request: Request, role: Role, granted_groups: set[str]) -> dict[str, str]:
    """The page's typed forms, empty (those that have nothing to offer left out)."""
    forms = {
        "rename": renaming_form(request, KIND, role).render({"name": role.name}),
        "grant_user": _grant_user_form(request, role).render(),
    }
    choices = _group_choices(request, granted_groups)
    if choices:
        forms["grant_group"] = _grant_group_form(request, role, choices).render()
    return forms


def _group_choices(request: Request, granted: set[str]) -> list[str]:
    every = groups.list_groups(request.camauth)
    return [summary.group.name for summary in every if summary.group.name not in granted]


def _role_page(
    request: Request,
    role: Role,
    status: int = 200,
    error: str = "",
    rendered: dict[str, str] | None = None,
) -> Response:
    ctx = request.camauth
    held = roles.permissions_of(ctx, role)
    known = roles.known_permissions(ctx)
    offered = offered_permissions(known)
    # the catalogue's, then any it holds that are not offered (undeclared since)
    permissions = [(name, text, name in held) for name, text in offered.items()]
    permissions += [
        (name, known.get(name, "not declared"), True) for name in held if name not in offered
    ]
    users, granted_groups = roles.grantees(ctx, role)
    forms = _forms(request, role, {group.name for group in granted_groups})
    forms.update(rendered or {})
    return admin_page(
        request,
        "role.html",
        "roles",
        status=status,
        role=role,
        permissions=permissions,
        users=users,
        groups=granted_groups,
        forms={key: form_html(html) for key, html in forms.items()},
        error=error,
    )


KIND = Kind(
    "role", roles.find_role, roles.list_roles, roles.rename_role, roles.delete_role, _role_page
)


@view_config(route_name=PAGE, request_method="GET", permission=ADMIN)
def role_page(request: Request) -> Response:
    return _role_page(request, KIND.record(request))


@view_config(route_name=RENAME, request_method="GET", permission=ADMIN)
@view_config(route_name=GRANT_PERMISSION, request_method="GET", permission=ADMIN)
@view_config(route_name=REVOKE_PERMISSION, request_method="GET", permission=ADMIN)
@view_config(route_name=GRANT_USER, request_method="GET", permission=ADMIN)
@view_config(route_name=REVOKE_USER, request_method="GET", permission=ADMIN)
@view_config(route_name=GRANT_GROUP, request_method="GET", permission=ADMIN)
@view_config(route_name=REVOKE_GROUP, request_method="GET", permission=ADMIN)
def back_to_role(request: Request) -> Response:
    return back_to_page(request, KIND)


@view_config(route_name=RENAME, request_method="POST", permission=ADMIN)
def rename_role_submit(request: Request) -> Response:
    return rename_submit(request, KIND)


def _button(
    request: Request, role: Role, route: str, field: str, choices: list[str] | None = None
) -> deform.Form:
    return button_form(request, role_url(request, role.name, route), field, choices)


def _change_permission(request: Request, grant: bool) -> Response:
    role = KIND.record(request)
    ctx = request.camauth

    def run(values: dict[str, Any]) -> tuple[str, str]:
        permission = values["permission"]
        if grant and roles.grant_permission(ctx, role, permission):
            message = f"The role {role.name} now holds {permission}."
        elif grant:
            message = f"The role {role.name} held {permission} already."
        elif roles.revoke_permission(ctx, role, permission):
            message = f"The role {role.name} no longer holds {permission}."
        else:
            message = f"The role {role.name} did not hold {permission}: nothing was changed."
        return message, role_url(request, role.name)

    if grant:  # the permissions the page offers (any held one may be revoked)
        offered = list(offered_permissions(roles.known_permissions(ctx)))
        form = _button(request, role, GRANT_PERMISSION, "permission", offered)
    else:
        form = _button(request, role, REVOKE_PERMISSION, "permission")
    return submit(request, KIND, role, form, run)


@view_config(route_name=GRANT_PERMISSION, request_method="POST", permission=ADMIN)
def grant_permission_submit(request: Request) -> Response:
    return _change_permission(request, grant=True)


@view_config(route_name=REVOKE_PERMISSION, request_method="POST", permission=ADMIN)
def revoke_permission_submit(request: Request) -> Response:
    return _change_permission(request, grant=False)


def _grant_user_form(request: Request, role: Role) -> deform.Form:
    action = role_url(request, role.name, GRANT_USER)
    return username_form(request, action, "grant-user", "Grant to user")


@view_config(route_name=GRANT_USER, request_method="POST", permission=ADMIN)
def grant_user_submit(request: Request) -> Response:
    role = KIND.record(request)

    def run(values: dict[str, Any]) -> tuple[str, str]:
        user = user_named(request, values["username"])
        if roles.grant_role(request.camauth, role, user=user):
            message = f"{user.username} now has the role {role.name}."
        else:
            message = f"{user.username} had the role {role.name} already."
        return message, role_url(request, role.name)

    return submit(request, KIND, role, _grant_user_form(request, role), run, "grant_user")


@view_config(route_name=REVOKE_USER, request_method="POST", permission=ADMIN)
def revoke_user_submit(request: Request) -> Response:
    role = KIND.record(request)

    def run(values: dict[str, Any]) -> tuple[str, str]:
        user = user_numbered(request, values["user_id"])
        if roles.revoke_role(request.camauth, role, user=user):
            message = f"{user.username} no longer has the role {role.name}."
        else:
            message = f"{user.username} did not have the role {role.name}: nothing was changed."
        return message, role_url(request, role.name)

    return submit(request, KIND, role, _button(request, role, REVOKE_USER, "user_id"), run)


def _grant_group_form(request: Request, role: Role, choices: list[str]) -> deform.Form:
    action = role_url(request, role.name, GRANT_GROUP)
    return choice_form(request, action, "grant-group", "group", choices, "Grant to group")


def _change_group(request: Request, grant: bool) -> Response:
    role = KIND.record(request)

    def run(values: dict[str, Any]) -> tuple[str, str]:
        group = group_named(request, values["group"])
        said = change_group_grant(request.camauth, role, group, grant)
        return said, role_url(request, role.name)

    if not grant:
        return submit(request, KIND, role, _button(request, role, REVOKE_GROUP, "group"), run)
    every = [summary.group.name for summary in groups.list_groups(request.camauth)]
    return submit(request, KIND, role, _grant_group_form(request, role, every), run, "grant_group")


@view_config(route_name=GRANT_GROUP, request_method="POST", permission=ADMIN)
def grant_group_submit(request: Request) -> Response:
    return _change_group(request, grant=True)


@view_config(route_name=REVOKE_GROUP, request_method="POST", permission=ADMIN)
def revoke_group_submit(request: Request) -> Response:
    return _change_group(request, grant=False)


# --- delete -------------------------------------------------------------------------


def _delete_consequence(request: Request, role: Role) -> str:
    users, granted_groups = roles.grantees(request.camauth, role)
    return (
        f"It is taken from the {len(users)} user(s) and {len(granted_groups)} group(s) it is "
        "granted to: they lose its permissions at their next request. This cannot be undone."
    )


@view_config(route_name=DELETE, request_method="GET", permission=ADMIN)
def delete_role_page(request: Request) -> Response:
    role = KIND.record(request)
    return delete_page(request, KIND, role, _delete_consequence(request, role))


@view_config(route_name=DELETE, request_method="POST", permission=ADMIN)
def delete_role_submit(request: Request) -> Response:
    return delete_submit(request, KIND, _delete_consequence)
