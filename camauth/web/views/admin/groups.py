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

from functools import partial
from typing import Any

import deform
from pyramid.httpexceptions import HTTPForbidden
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ....models.access import Group, Role
from ....services import groups, roles
from ....services.permissions import AccessError
from ....services.roles import Gone
from ...forms import DESTRUCTIVE, confirm_schema, form_controls, make_form
from ...navigation import RecordNotFound, see_other
from ...rendering import form_html
from ...security import ADMIN, VIEW
from .access_forms import button_form, choice_form, new_group_form, rename_form, username_form
from .access_pages import PageAgain, submit, user_named, user_numbered
from .common import admin_page, confirm_page

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


def _group(request: Request) -> Group:
    """The group the URL names, or a 404."""
    group = groups.find_group(request.camauth, request.matchdict["name"])
    if group is None:
        raise RecordNotFound("There is no such group: it may have been deleted or renamed.")
    return group


def _managed_group(request: Request) -> Group:
    """The group the URL names, for an administrator or one of its group
    administrators; for anyone else a 403, whether the group exists or not."""
    administered = request.camauth_holdings.administered_groups
    if not request.user.is_admin and request.matchdict["name"] not in administered:
        raise HTTPForbidden()
    return _group(request)


def _still_there(request: Request) -> bool:
    return groups.find_group(request.camauth, request.matchdict["name"]) is not None


# --- the list, and a new group ------------------------------------------------------


def _new_form(request: Request) -> deform.Form:
    return new_group_form(request, request.route_path(LIST))


def _list_page(request: Request, rendered: str, status: int = 200, error: str = "") -> Response:
    return admin_page(
        request,
        "groups.html",
        "groups",
        status=status,
        groups=groups.list_groups(request.camauth),
        form=form_html(rendered),
        error=error,
    )


@view_config(route_name=LIST, request_method="GET", permission=ADMIN)
def groups_page(request: Request) -> Response:
    return _list_page(request, _new_form(request).render())


@view_config(route_name=LIST, request_method="POST", permission=ADMIN)
def new_group_submit(request: Request) -> Response:
    form = _new_form(request)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return _list_page(request, failure.render(), 400)
    try:
        group = groups.create_group(request.camauth, values["name"], values["description"])
    except AccessError as refused:
        return _list_page(request, form.render(values), 400, str(refused))
    request.session.flash(f"The group {group.name} was created.")
    return see_other(group_url(request, group.name))


# --- one group ----------------------------------------------------------------------


def _forms(request: Request, group: Group, granted: set[str]) -> dict[str, str]:
    """The page's typed forms, empty: for a group administrator only adding a member."""
    forms = {"add_member": _add_member_form(request, group).render()}
    if not request.user.is_admin:
        return forms
    forms["rename"] = _rename_form(request, group).render({"name": group.name})
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


def _page_again(request: Request, group: Group) -> PageAgain:
    return partial(_group_page, request, group)


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
    return see_other(group_url(request, _group(request).name))


def _rename_form(request: Request, group: Group) -> deform.Form:
    return rename_form(request, "group", group_url(request, group.name, RENAME))


@view_config(route_name=RENAME, request_method="POST", permission=ADMIN)
def rename_submit(request: Request) -> Response:
    group = _group(request)
    old = group.name

    def run(values: dict[str, Any]) -> tuple[str, str]:
        groups.rename_group(request.camauth, group, values["name"])
        if group.name == old:
            return f"The group is still called {old}: nothing was changed.", group_url(request, old)
        return f"The group {old} is now called {group.name}.", group_url(request, group.name)

    form = _rename_form(request, group)
    again = _page_again(request, group)
    return submit(request, form, again, run, lambda: _still_there(request), "rename")


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

    form = _add_member_form(request, group)
    again = _page_again(request, group)
    return submit(request, form, again, run, lambda: _still_there(request), "add_member")


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

    form = _member_button(request, group, REMOVE_MEMBER)
    return submit(request, form, _page_again(request, group), run, lambda: _still_there(request))


def _set_group_admin(request: Request, route: str, value: bool) -> Response:
    group = _group(request)

    def run(values: dict[str, Any]) -> tuple[str, str]:
        user = user_numbered(request, values["user_id"])
        changed = groups.set_group_admin(request.camauth, group, user, value)
        state = "an administrator" if value else "no longer an administrator"
        if changed:
            message = f"{user.username} is {state} of {group.name}."
        else:
            message = f"{user.username} was {state} of {group.name} already: nothing was changed."
        return message, group_url(request, group.name)

    form = _member_button(request, group, route)
    return submit(request, form, _page_again(request, group), run, lambda: _still_there(request))


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


def _role_named(request: Request, name: str) -> Role:
    role = roles.find_role(request.camauth, name)
    if role is None:
        raise Gone("That role was deleted meanwhile.")
    return role


@view_config(route_name=GRANT_ROLE, request_method="POST", permission=ADMIN)
def grant_role_submit(request: Request) -> Response:
    group = _group(request)
    every = [summary.role.name for summary in roles.list_roles(request.camauth)]

    def run(values: dict[str, Any]) -> tuple[str, str]:
        role = _role_named(request, values["role"])
        if roles.grant_role(request.camauth, role, group=group):
            message = f"The members of {group.name} now have the role {role.name}."
        else:
            message = f"The group {group.name} had the role {role.name} already."
        return message, group_url(request, group.name)

    form = _grant_role_form(request, group, every)
    again = _page_again(request, group)
    return submit(request, form, again, run, lambda: _still_there(request), "grant_role")


@view_config(route_name=REVOKE_ROLE, request_method="POST", permission=ADMIN)
def revoke_role_submit(request: Request) -> Response:
    group = _group(request)

    def run(values: dict[str, Any]) -> tuple[str, str]:
        role = _role_named(request, values["role"])
        if roles.revoke_role(request.camauth, role, group=group):
            message = f"The members of {group.name} no longer have the role {role.name}."
        else:
            message = (
                f"The group {group.name} did not have the role {role.name}: nothing was changed."
            )
        return message, group_url(request, group.name)

    form = button_form(request, group_url(request, group.name, REVOKE_ROLE), "role")
    return submit(request, form, _page_again(request, group), run, lambda: _still_there(request))


# --- delete -------------------------------------------------------------------------


def _delete_form(request: Request, group: Group) -> deform.Form:
    action = group_url(request, group.name, DELETE)
    schema = confirm_schema(request)
    return make_form(
        schema, "Delete group", "confirm-delete-group", action, button_class=DESTRUCTIVE
    )


def _delete_page(request: Request, group: Group, status: int = 200, error: str = "") -> Response:
    count = len(groups.members(request.camauth, group))
    consequence = (
        f"Its {count} member(s) leave it, and lose the roles granted to the group at their "
        "next request. Their accounts stay. This cannot be undone."
    )
    return confirm_page(
        request,
        "groups",
        f"Delete the group {group.name}?",
        consequence,
        form_html(_delete_form(request, group).render()),
        group_url(request, group.name),
        f"Back to {group.name}",
        status,
        error,
    )


@view_config(route_name=DELETE, request_method="GET", permission=ADMIN)
def delete_page(request: Request) -> Response:
    return _delete_page(request, _group(request))


@view_config(route_name=DELETE, request_method="POST", permission=ADMIN)
def delete_submit(request: Request) -> Response:
    group = _group(request)
    try:
        _delete_form(request, group).validate(form_controls(request))
    except deform.ValidationFailure:
        return _delete_page(request, group, 400, "The form was not complete.")
    name = group.name
    try:
        groups.delete_group(request.camauth, group)
    except Gone as gone:
        raise RecordNotFound(str(gone)) from None
    request.session.flash(f"The group {name} was deleted.")
    return see_other(request.route_path(LIST))
