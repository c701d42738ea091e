"""``/admin/groups``: groups of users, their members, their administrators, and the
roles granted to them.

Administrators do everything here. A group administrator (a member marked so,
who need not be an administrator) reaches only the pages of the groups they
administer, and there only adds and removes members: those three views need
``VIEW`` and check the group themselves (:func:`_managed_group`); every other
view needs ``ADMIN``. Every change is made and audited by ``services/groups.py``
or ``services/roles.py``.
"""

from __future__ import annotations

from typing import Any

import deform
from pyramid.httpexceptions import HTTPForbidden
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ....models.access import Group
from ....services import groups, roles
from ...navigation import see_other
from ...rendering import form_html
from ...security import ADMIN, VIEW
from .access_forms import button_form, choice_form, new_group_form, username_form
from .access_pages import (
    Kind,
    back_to_page,
    change_group_grant,
    create_submit,
    delete_page,
    delete_submit,
    list_page,
    rename_submit,
    renaming_form,
    role_named,
    submit,
    user_named,
    user_numbered,
)
from .common import admin_page

LIST = "camauth.admin.groups"
PAGE = "camauth.admin.group"
RENAME = "camauth.admin.group.rename"
ADD_MEMBER = "camauth.admin.group.add_member"
REMOVE_MEMBER = "camauth.admin.group.remove_member"
GRANT_GROUP_ADMIN = "camauth.admin.group.grant_group_admin"
REVOKE_GROUP_ADMIN = "camauth.admin.group.revoke_group_admin"
GRANT_ROLE = "camauth.admin.group.grant_role"
REVOKE_ROLE = "camauth.admin.group.revoke_role"
DELETE = "camauth.admin.group.delete"
# route name -> the last part of its URL, after /admin/groups/{name}/
ACTIONS = {
    RENAME: "rename",
    ADD_MEMBER: "add-member",
    REMOVE_MEMBER: "remove-member",
    GRANT_GROUP_ADMIN: "grant-group-admin",
    REVOKE_GROUP_ADMIN: "revoke-group-admin",
    GRANT_ROLE: "grant-role",
    REVOKE_ROLE: "revoke-role",
    DELETE: "delete",
}
# the views a group administrator may use, for their own groups
FOR_GROUP_ADMINISTRATORS = frozenset({PAGE, ADD_MEMBER, REMOVE_MEMBER})


def group_url(request: Request, name: str, route: str = PAGE) -> str:
    url: str = request.route_path(route, name=name)
    return url


def _managed_group(request: Request) -> Group:
    """The group the URL names, for an administrator or one of its group
    administrators; for anyone else a 403, whether the group exists or not."""
    administered = request.camauth_holdings.administered_groups
    if not request.user.is_admin and request.matchdict["name"] not in administered:
        raise HTTPForbidden()
    return KIND.record(request)


# --- the list, and a new group ------------------------------------------------------


def _new_form(request: Request) -> deform.Form:
    return new_group_form(request, request.route_path(LIST))


@view_config(route_name=LIST, request_method="GET", permission=ADMIN)
def groups_page(request: Request) -> Response:
    return list_page(request, KIND, _new_form(request).render())


@view_config(route_name=LIST, request_method="POST", permission=ADMIN)
def new_group_submit(request: Request) -> Response:
    def create(values: dict[str, Any]) -> Group:
        return groups.create_group(request.camauth, values["name"], values["description"])

    return create_submit(request, KIND, _new_form(request), create)


# --- one group ----------------------------------------------------------------------


def _forms(request: Request, group: Group, granted: set[str]) -> dict[str, str]:
    """The page's typed forms, empty: for a group administrator only adding a member."""
    forms = {"add_member": _add_member_form(request, group).render()}
    if not request.user.is_admin:
        return forms
    forms["rename"] = renaming_form(request, KIND, group).render({"name": group.name})
    choices = [summary.role.name for summary in roles.list_roles(request.camauth)]
    choices = [name for name in choices if name not in granted]
    if choices:
        forms["grant_role"] = _grant_role_form(request, group, choices).render()
    return forms


def _group_page(
    request: Request,
    group: Group,
    status: int = 200,
    error: str = "",
    rendered: dict[str, str] | None = None,
) -> Response:
    ctx = request.camauth
    is_admin = request.user.is_admin
    granted = roles.roles_of(ctx, group=group) if is_admin else []
    forms = _forms(request, group, {role.name for role in granted})
    forms.update(rendered or {})
    return admin_page(
        request,
        "group.html",
        "groups",
        status=status,
        group=group,
        members=groups.members(ctx, group),
        roles=granted,
        is_admin=is_admin,
        forms={key: form_html(html) for key, html in forms.items()},
        error=error,
    )


KIND = Kind(
    "group",
    groups.find_group,
    groups.list_groups,
    groups.rename_group,
    groups.delete_group,
    _group_page,
)


@view_config(route_name=PAGE, request_method="GET", permission=VIEW)
def group_page(request: Request) -> Response:
    return _group_page(request, _managed_group(request))


@view_config(route_name=ADD_MEMBER, request_method="GET", permission=VIEW)
@view_config(route_name=REMOVE_MEMBER, request_method="GET", permission=VIEW)
def back_to_managed_group(request: Request) -> Response:
    """A form's address opened as a page: the page the form is on."""
    return see_other(group_url(request, _managed_group(request).name))


@view_config(route_name=RENAME, request_method="GET", permission=ADMIN)
@view_config(route_name=GRANT_GROUP_ADMIN, request_method="GET", permission=ADMIN)
@view_config(route_name=REVOKE_GROUP_ADMIN, request_method="GET", permission=ADMIN)
@view_config(route_name=GRANT_ROLE, request_method="GET", permission=ADMIN)
@view_config(route_name=REVOKE_ROLE, request_method="GET", permission=ADMIN)
def back_to_group(request: Request) -> Response:
    return back_to_page(request, KIND)


@view_config(route_name=RENAME, request_method="POST", permission=ADMIN)
def rename_group_submit(request: Request) -> Response:
    return rename_submit(request, KIND)


# --- members ------------------------------------------------------------------------


def _add_member_form(request: Request, group: Group) -> deform.Form:
    action = group_url(request, group.name, ADD_MEMBER)
    # only administrators make group administrators
    box = bool(request.user.is_admin)
    return username_form(request, action, "add-member", "Add member", group_admin_box=box)


@view_config(route_name=ADD_MEMBER, request_method="POST", permission=VIEW)
def add_member_submit(request: Request) -> Response:
    group = _managed_group(request)

    def run(values: dict[str, Any]) -> tuple[str, str]:
        user = user_named(request, values["username"])
        as_admin = bool(values.get("group_admin")) and request.user.is_admin
        if groups.add_member(request.camauth, group, user, group_admin=as_admin):
            also = " and one of its administrators" if as_admin else ""
            message = f"{user.username} is a member of {group.name}{also}."
        else:
            message = f"{user.username} was a member of {group.name} already: nothing was changed."
        return message, group_url(request, group.name)

    return submit(request, KIND, group, _add_member_form(request, group), run, "add_member")


def _member_button(request: Request, group: Group, route: str) -> deform.Form:
    return button_form(request, group_url(request, group.name, route), "user_id")


@view_config(route_name=REMOVE_MEMBER, request_method="POST", permission=VIEW)
def remove_member_submit(request: Request) -> Response:
    group = _managed_group(request)
    me = request.user

    def run(values: dict[str, Any]) -> tuple[str, str]:
        user = user_numbered(request, values["user_id"])
        if not groups.remove_member(request.camauth, group, user):
            message = f"{user.username} was not a member of {group.name}: nothing was changed."
            return message, group_url(request, group.name)
        message = f"{user.username} is no longer a member of {group.name}."
        if user.id == me.id and not me.is_admin:
            # a group administrator who left the group no longer sees its page
            return message, request.route_path("camauth.account")
        return message, group_url(request, group.name)

    return submit(request, KIND, group, _member_button(request, group, REMOVE_MEMBER), run)


def _set_group_admin(request: Request, route: str, value: bool) -> Response:
    group = KIND.record(request)

    def run(values: dict[str, Any]) -> tuple[str, str]:
        user = user_numbered(request, values["user_id"])
        changed = groups.set_group_admin(request.camauth, group, user, value)
        state = "an administrator" if value else "no longer an administrator"
        if changed:
            message = f"{user.username} is {state} of {group.name}."
        else:
            message = f"{user.username} was {state} of {group.name} already: nothing was changed."
        return message, group_url(request, group.name)

    return submit(request, KIND, group, _member_button(request, group, route), run)


@view_config(route_name=GRANT_GROUP_ADMIN, request_method="POST", permission=ADMIN)
def grant_group_admin_submit(request: Request) -> Response:
    return _set_group_admin(request, GRANT_GROUP_ADMIN, True)


@view_config(route_name=REVOKE_GROUP_ADMIN, request_method="POST", permission=ADMIN)
def revoke_group_admin_submit(request: Request) -> Response:
    return _set_group_admin(request, REVOKE_GROUP_ADMIN, False)


# --- roles --------------------------------------------------------------------------


def _grant_role_form(request: Request, group: Group, choices: list[str]) -> deform.Form:
    action = group_url(request, group.name, GRANT_ROLE)
    return choice_form(request, action, "grant-role", "role", choices, "Grant role")


def _change_role(request: Request, grant: bool) -> Response:
    group = KIND.record(request)

    def run(values: dict[str, Any]) -> tuple[str, str]:
        role = role_named(request, values["role"])
        said = change_group_grant(request.camauth, role, group, grant)
        return said, group_url(request, group.name)

    if not grant:
        form = button_form(request, group_url(request, group.name, REVOKE_ROLE), "role")
        return submit(request, KIND, group, form, run)
    every = [summary.role.name for summary in roles.list_roles(request.camauth)]
    return submit(request, KIND, group, _grant_role_form(request, group, every), run, "grant_role")


@view_config(route_name=GRANT_ROLE, request_method="POST", permission=ADMIN)
def grant_role_submit(request: Request) -> Response:
    return _change_role(request, grant=True)


@view_config(route_name=REVOKE_ROLE, request_method="POST", permission=ADMIN)
def revoke_role_submit(request: Request) -> Response:
    return _change_role(request, grant=False)


# --- delete -------------------------------------------------------------------------


def _delete_consequence(request: Request, group: Group) -> str:
    count = len(groups.members(request.camauth, group))
    return (
        f"Its {count} member(s) leave it, and lose the roles granted to the group at their "
        "next request. Their accounts stay. This cannot be undone."
    )


@view_config(route_name=DELETE, request_method="GET", permission=ADMIN)
def delete_group_page(request: Request) -> Response:
    group = KIND.record(request)
    return delete_page(request, KIND, group, _delete_consequence(request, group))


@view_config(route_name=DELETE, request_method="POST", permission=ADMIN)
def delete_group_submit(request: Request) -> Response:
    return delete_submit(request, KIND, _delete_consequence)
