"""``/admin/roles``: roles (named sets of permissions) and whom they are granted to.

The list creates one; a role's page renames it, grants and revokes its
permissions one at a time (a button each, so two administrators granting two
permissions at once both keep theirs), and grants it to users and groups or
takes it back. Deleting it is asked on a page of its own. Every change is made
and audited by ``services/roles.py``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import deform
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ....models.access import Role
from ....services import groups, roles
from ....services.permissions import AccessError
from ....services.roles import Gone
from ...forms import DESTRUCTIVE, confirm_schema, form_controls, make_form
from ...navigation import RecordNotFound, see_other
from ...rendering import form_html
from ...security import ADMIN
from .access_forms import (
    button_form,
    choice_form,
    new_role_form,
    offered_permissions,
    rename_form,
    username_form,
)
from .access_pages import PageAgain, submit, user_named, user_numbered
from .common import admin_page, confirm_page

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


def _role(request: Request) -> Role:
    """The role the URL names, or a 404."""
    role = roles.find_role(request.camauth, request.matchdict["name"])
    if role is None:
        raise RecordNotFound("There is no such role: it may have been deleted or renamed.")
    return role


def _still_there(request: Request) -> bool:
    return roles.find_role(request.camauth, request.matchdict["name"]) is not None


# --- the list, and a new role -------------------------------------------------------


def _new_form(request: Request) -> deform.Form:
    known = roles.known_permissions(request.camauth)
    return new_role_form(request, request.route_path(LIST), known)


def _list_page(request: Request, rendered: str, status: int = 200, error: str = "") -> Response:
    return admin_page(
        request,
        "roles.html",
        "roles",
        status=status,
        roles=roles.list_roles(request.camauth),
        form=form_html(rendered),
        error=error,
    )


@view_config(route_name=LIST, request_method="GET", permission=ADMIN)
def roles_page(request: Request) -> Response:
    return _list_page(request, _new_form(request).render())


@view_config(route_name=LIST, request_method="POST", permission=ADMIN)
def new_role_submit(request: Request) -> Response:
    form = _new_form(request)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return _list_page(request, failure.render(), 400)
    try:
        permissions = sorted(values.get("permissions", ()))
        role = roles.create_role(
            request.camauth, values["name"], permissions, values["description"]
        )
    except AccessError as refused:
        return _list_page(request, form.render(values), 400, str(refused))
    request.session.flash(f"The role {role.name} was created.")
    return see_other(role_url(request, role.name))


# --- one role -----------------------------------------------------------------------


def _forms(request: Request, role: Role, granted_groups: set[str]) -> dict[str, str]:
    """The page's typed forms, empty (those that have nothing to offer left out)."""
    forms = {
        "rename": _rename_form(request, role).render({"name": role.name}),
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


def _page_again(request: Request, role: Role) -> PageAgain:
    return partial(_role_page, request, role)


@view_config(route_name=PAGE, request_method="GET", permission=ADMIN)
def role_page(request: Request) -> Response:
    return _role_page(request, _role(request))


@view_config(route_name=RENAME, request_method="GET", permission=ADMIN)
@view_config(route_name=GRANT_PERMISSION, request_method="GET", permission=ADMIN)
@view_config(route_name=REVOKE_PERMISSION, request_method="GET", permission=ADMIN)
@view_config(route_name=GRANT_USER, request_method="GET", permission=ADMIN)
@view_config(route_name=REVOKE_USER, request_method="GET", permission=ADMIN)
@view_config(route_name=GRANT_GROUP, request_method="GET", permission=ADMIN)
@view_config(route_name=REVOKE_GROUP, request_method="GET", permission=ADMIN)
def back_to_role(request: Request) -> Response:
    """A form's address opened as a page: the page the form is on."""
    return see_other(role_url(request, _role(request).name))


def _rename_form(request: Request, role: Role) -> deform.Form:
    return rename_form(request, "role", role_url(request, role.name, RENAME))


@view_config(route_name=RENAME, request_method="POST", permission=ADMIN)
def rename_submit(request: Request) -> Response:
    role = _role(request)
    old = role.name

    def run(values: dict[str, Any]) -> tuple[str, str]:
        roles.rename_role(request.camauth, role, values["name"])
        if role.name == old:
            return f"The role is still called {old}: nothing was changed.", role_url(request, old)
        return f"The role {old} is now called {role.name}.", role_url(request, role.name)

    form = _rename_form(request, role)
    return submit(
        request, form, _page_again(request, role), run, lambda: _still_there(request), "rename"
    )


def _button(
    request: Request, role: Role, route: str, field: str, choices: list[str] | None = None
) -> deform.Form:
    return button_form(request, role_url(request, role.name, route), field, choices)


@view_config(route_name=GRANT_PERMISSION, request_method="POST", permission=ADMIN)
def grant_permission_submit(request: Request) -> Response:
    role = _role(request)

    def run(values: dict[str, Any]) -> tuple[str, str]:
        permission = values["permission"]
        if roles.grant_permission(request.camauth, role, permission):
            message = f"The role {role.name} now holds {permission}."
        else:
            message = f"The role {role.name} held {permission} already."
        return message, role_url(request, role.name)

    # the permissions the page offers (any held one may be revoked)
    offered = list(offered_permissions(roles.known_permissions(request.camauth)))
    form = _button(request, role, GRANT_PERMISSION, "permission", offered)
    return submit(request, form, _page_again(request, role), run, lambda: _still_there(request))


@view_config(route_name=REVOKE_PERMISSION, request_method="POST", permission=ADMIN)
def revoke_permission_submit(request: Request) -> Response:
    role = _role(request)

    def run(values: dict[str, Any]) -> tuple[str, str]:
        permission = values["permission"]
        if roles.revoke_permission(request.camauth, role, permission):
            message = f"The role {role.name} no longer holds {permission}."
        else:
            message = f"The role {role.name} did not hold {permission}: nothing was changed."
        return message, role_url(request, role.name)

    form = _button(request, role, REVOKE_PERMISSION, "permission")
    return submit(request, form, _page_again(request, role), run, lambda: _still_there(request))


def _grant_user_form(request: Request, role: Role) -> deform.Form:
    action = role_url(request, role.name, GRANT_USER)
    return username_form(request, action, "grant-user", "Grant to user")


@view_config(route_name=GRANT_USER, request_method="POST", permission=ADMIN)
def grant_user_submit(request: Request) -> Response:
    role = _role(request)

    def run(values: dict[str, Any]) -> tuple[str, str]:
        user = user_named(request, values["username"])
        if roles.grant_role(request.camauth, role, user=user):
            message = f"{user.username} now has the role {role.name}."
        else:
            message = f"{user.username} had the role {role.name} already."
        return message, role_url(request, role.name)

    form = _grant_user_form(request, role)
    again = _page_again(request, role)
    return submit(request, form, again, run, lambda: _still_there(request), "grant_user")


@view_config(route_name=REVOKE_USER, request_method="POST", permission=ADMIN)
def revoke_user_submit(request: Request) -> Response:
    role = _role(request)

    def run(values: dict[str, Any]) -> tuple[str, str]:
        user = user_numbered(request, values["user_id"])
        if roles.revoke_role(request.camauth, role, user=user):
            message = f"{user.username} no longer has the role {role.name}."
        else:
            message = f"{user.username} did not have the role {role.name}: nothing was changed."
        return message, role_url(request, role.name)

    form = _button(request, role, REVOKE_USER, "user_id")
    return submit(request, form, _page_again(request, role), run, lambda: _still_there(request))


def _grant_group_form(request: Request, role: Role, choices: list[str]) -> deform.Form:
    action = role_url(request, role.name, GRANT_GROUP)
    return choice_form(request, action, "grant-group", "group", choices, "Grant to group")


@view_config(route_name=GRANT_GROUP, request_method="POST", permission=ADMIN)
def grant_group_submit(request: Request) -> Response:
    role = _role(request)
    every = [summary.group.name for summary in groups.list_groups(request.camauth)]

    def run(values: dict[str, Any]) -> tuple[str, str]:
        group = groups.find_group(request.camauth, values["group"])
        if group is None:
            raise Gone("That group was deleted meanwhile.")
        if roles.grant_role(request.camauth, role, group=group):
            message = f"The members of {group.name} now have the role {role.name}."
        else:
            message = f"The group {group.name} had the role {role.name} already."
        return message, role_url(request, role.name)

    form = _grant_group_form(request, role, every)
    again = _page_again(request, role)
    return submit(request, form, again, run, lambda: _still_there(request), "grant_group")


@view_config(route_name=REVOKE_GROUP, request_method="POST", permission=ADMIN)
def revoke_group_submit(request: Request) -> Response:
    role = _role(request)

    def run(values: dict[str, Any]) -> tuple[str, str]:
        group = groups.find_group(request.camauth, values["group"])
        if group is None:
            raise Gone("That group was deleted meanwhile.")
        if roles.revoke_role(request.camauth, role, group=group):
            message = f"The members of {group.name} no longer have the role {role.name}."
        else:
            message = (
                f"The group {group.name} did not have the role {role.name}: nothing was changed."
            )
        return message, role_url(request, role.name)

    form = _button(request, role, REVOKE_GROUP, "group")
    return submit(request, form, _page_again(request, role), run, lambda: _still_there(request))


# --- delete -------------------------------------------------------------------------


def _delete_form(request: Request, role: Role) -> deform.Form:
    action = role_url(request, role.name, DELETE)
    schema = confirm_schema(request)
    return make_form(schema, "Delete role", "confirm-delete-role", action, button_class=DESTRUCTIVE)


def _delete_page(request: Request, role: Role, status: int = 200, error: str = "") -> Response:
    users, granted_groups = roles.grantees(request.camauth, role)
    consequence = (
        f"It is taken from the {len(users)} user(s) and {len(granted_groups)} group(s) it is "
        "granted to: they lose its permissions at their next request. This cannot be undone."
    )
    rendered = form_html(_delete_form(request, role).render())
    return confirm_page(
        request,
        "roles",
        f"Delete the role {role.name}?",
        consequence,
        rendered,
        role_url(request, role.name),
        f"Back to {role.name}",
        status,
        error,
    )


@view_config(route_name=DELETE, request_method="GET", permission=ADMIN)
def delete_page(request: Request) -> Response:
    return _delete_page(request, _role(request))


@view_config(route_name=DELETE, request_method="POST", permission=ADMIN)
def delete_submit(request: Request) -> Response:
    role = _role(request)
    try:
        _delete_form(request, role).validate(form_controls(request))
    except deform.ValidationFailure:
        return _delete_page(request, role, 400, "The form was not complete.")
    name = role.name
    try:
        roles.delete_role(request.camauth, role)
    except Gone as gone:
        raise RecordNotFound(str(gone)) from None
    request.session.flash(f"The role {name} was deleted.")
    return see_other(request.route_path(LIST))
