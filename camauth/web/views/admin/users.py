"""``/admin/users``: the list (search, status filter, paging), a new user, one user."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import deform
from pyramid.httpexceptions import HTTPBadRequest
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ....models import User, UserStatus
from ....services import (
    accounts,
    device_login,
    directory,
    external_login,
    groups,
    invitations,
    passkeys,
    roles,
)
from ....services.accounts import AccountError
from ....services.directory import SearchError, UserFilter
from ....services.password_policy import PasswordPolicyError
from ....services.passwords import generate_password
from ... import sealed
from ...admin_forms import new_user_schema
from ...context import app_settings
from ...forms import form_controls, make_form
from ...navigation import see_other
from ...reauth import ask_again_unless_recent
from ...rendering import form_html
from ...security import ADMIN
from ..invitation import send_invitation, send_welcome
from .common import admin_page, cursor_from, paging_links, target_user, user_url
from .user_actions import ACTIONS, NOT_ON_YOURSELF

STATUSES = [status.value for status in UserStatus]


def _filter(request: Request) -> UserFilter:
    status = request.GET.get("status", "")
    if status and status not in STATUSES:
        raise HTTPBadRequest("Choose a status from the list.")
    return UserFilter(request.GET.get("q", ""), UserStatus(status) if status else None)


@view_config(route_name="camauth.admin.users", request_method="GET", permission=ADMIN)
def users_page(request: Request) -> Response:
    criteria = _filter(request)
    ctx = request.camauth
    try:
        page = directory.search_users(ctx, criteria, cursor_from(request, (str,)))
        total = directory.count_users(ctx, criteria)
    except SearchError as error:
        raise HTTPBadRequest(str(error)) from None
    query = {"q": criteria.text, "status": criteria.status.value if criteria.status else ""}
    return admin_page(
        request,
        "users.html",
        "users",
        page=page,
        total=total,
        from_the_start=directory.matches_start_only(criteria),
        query=query,
        statuses=STATUSES,
        pages=paging_links(request, "camauth.admin.users", page, query),
        now=request.registry["camauth.clock"](),
    )


def _new_user_form(request: Request) -> deform.Form:
    action = request.route_path("camauth.admin.users.new")
    return make_form(new_user_schema(request), "Create user", "new-user", action)


def _new_user_page(request: Request, rendered: str, status: int = 200, error: str = "") -> Response:
    return admin_page(
        request, "user_new.html", "users", status=status, form=form_html(rendered), error=error
    )


@view_config(route_name="camauth.admin.users.new", request_method="GET", permission=ADMIN)
def new_user_page(request: Request) -> Response:
    # it sets a password (and perhaps administrator rights): the administrator
    # proves who they are first, rather than after typing the form
    ask_again = ask_again_unless_recent(request)
    if ask_again is not None:
        return ask_again
    return _new_user_page(request, _new_user_form(request).render())


@view_config(route_name="camauth.admin.users.new", request_method="POST", permission=ADMIN)
def new_user_submit(request: Request) -> Response:
    form = _new_user_form(request)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return _new_user_page(request, failure.render(), 400)
    ask_again = ask_again_unless_recent(request, request.route_path("camauth.admin.users.new"))
    if ask_again is not None:
        return ask_again
    if values["send_link"]:
        return _create_and_invite(request, form, values)
    typed = values["temporary_password"] or None
    password = typed or generate_password()
    try:
        user = accounts.create_user(
            request.camauth,
            values["username"],
            password=password,
            email=values["email"] or None,
            full_name=values["full_name"],
            is_admin=values["is_admin"],
            must_change_password=values["force_change"],
        )
    except (AccountError, PasswordPolicyError) as refused:
        kept = {key: value for key, value in values.items() if key != "temporary_password"}
        return _new_user_page(request, form.render(kept), 400, str(refused))
    request.session.flash(f"{user.username} was created.")
    send_welcome(request, user)
    if typed is None:
        show_generated_password(request, user, password)
    return see_other(user_url(request, user))


def _create_and_invite(request: Request, form: deform.Form, values: dict[str, Any]) -> Response:
    """A new account without a password, and a welcome mail with the link to
    choose one."""
    kept = {key: value for key, value in values.items() if key != "temporary_password"}
    if not values["email"]:
        error = "Enter the email address the link goes to, or give a temporary password."
        return _new_user_page(request, form.render(kept), 400, error)
    try:
        user = accounts.create_user(
            request.camauth,
            values["username"],
            email=values["email"],
            full_name=values["full_name"],
            is_admin=values["is_admin"],
        )
        invitation = invitations.invite(request.camauth, user)
    except AccountError as refused:
        request.tm.doom()  # no account without its invitation
        return _new_user_page(request, form.render(kept), 400, str(refused))
    send_invitation(request, invitation, welcome=True)
    request.session.flash(
        f"{user.username} was created; a link to choose a password was mailed to {user.email}."
    )
    return see_other(user_url(request, user))


@view_config(route_name="camauth.admin.user", request_method="GET", permission=ADMIN)
def user_page(request: Request) -> Response:
    user = target_user(request)
    return _user_page(request, user, sealed.unseal(request, _password_key(user)))


def _password_key(user: User) -> str:
    return f"_generated_password.{user.id}"


def show_generated_password(request: Request, user: User, password: str) -> None:
    """Have the user's page (where the POST redirects) show a generated password.

    Sealed in the administrator's session, never stored in plain text; a reload
    of the page shows it again until ``reauth_minutes`` have passed, and the
    action that made it is not repeated by that reload.
    """
    minutes = app_settings(request.registry).reauth_minutes
    until = request.registry["camauth.clock"]() + timedelta(minutes=minutes)
    sealed.seal(request, _password_key(user), password, until)


def _access(request: Request, user: User) -> dict[str, Any]:
    """The user's groups, roles (direct, and through which group) and the permissions
    they hold by them (an administrator holds every one)."""
    ctx = request.camauth
    return {
        "groups": groups.groups_of(ctx, user),
        "direct_roles": roles.roles_of(ctx, user=user),
        "group_roles": roles.roles_through_groups(ctx, user),
        "permissions": [] if user.is_admin else roles.permissions_held(ctx, user),
        "descriptions": roles.known_permissions(ctx),
    }


def _user_page(request: Request, user: User, temporary_password: str | None = None) -> Response:
    ctx = request.camauth
    overview = directory.overview(ctx, user)
    is_self = user.id == request.user.id
    offered = [
        action
        for action in ACTIONS
        if action.applies(ctx, user) and not (is_self and action.slug in NOT_ON_YOURSELF)
    ]
    return admin_page(
        request,
        "user.html",
        "users",
        overview=overview,
        actions=[action for action in offered if not action.confirm],
        confirm_actions=[action for action in offered if action.confirm],
        temporary_password=temporary_password,
        device_requests=device_login.requests_of(request.camauth, user),
        is_self=is_self,
        access=_access(request, user),
        identities=external_login.identities_of(request.camauth, user),
        passkeys=passkeys.passkeys_of(ctx, user),
        now=request.registry["camauth.clock"](),
    )
