"""Changes to a user that need a form: edit, reset password, enrol a hardware token."""

from __future__ import annotations

from typing import Any

import deform
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ....models import User
from ....services import accounts, invitations, mfa
from ....services.accounts import AccountError
from ....services.mfa import TwoFactorError
from ....services.password_policy import PasswordPolicyError
from ... import once
from ...admin_forms import edit_user_schema, hardware_token_schema, reset_password_schema
from ...forms import DESTRUCTIVE, form_controls, make_form
from ...mail import send_changed_by_administrator
from ...navigation import see_other
from ...reauth import ask_again_unless_recent
from ...rendering import form_html
from ...security import ADMIN
from ..invitation import send_invitation
from .common import admin_page, target_user, user_url
from .users import show_generated_password

EDIT = "camauth.admin.user.edit"
RESET = "camauth.admin.user.reset_password"
TOKEN = "camauth.admin.user.hardware_token"


def _page(
    request: Request,
    user: User,
    heading: str,
    rendered: str,
    status: int = 200,
    error: str = "",
    explanation: str = "",
) -> Response:
    return admin_page(
        request,
        "user_form.html",
        "users",
        status=status,
        target=user,
        heading=heading,
        explanation=explanation,
        form=form_html(rendered),
        error=error,
        back=user_url(request, user),
    )


# --- edit -----------------------------------------------------------------------


def _edit_form(request: Request, user: User) -> deform.Form:
    action = request.route_path(EDIT, id=user.id)
    return make_form(edit_user_schema(request), "Save", "edit-user", action)


@view_config(route_name=EDIT, request_method="GET", permission=ADMIN)
def edit_page(request: Request) -> Response:
    user = target_user(request)
    # the address decides where password reset links go: changing it is changing
    # a credential, so the administrator proves who they are before typing
    ask_again = ask_again_unless_recent(request)
    if ask_again is not None:
        return ask_again
    current = {"email": user.email or "", "full_name": user.full_name}
    rendered = _edit_form(request, user).render(current)
    return _page(request, user, f"Edit {user.username}", rendered)


@view_config(route_name=EDIT, request_method="POST", permission=ADMIN)
def edit_submit(request: Request) -> Response:
    user = target_user(request)
    form = _edit_form(request, user)
    heading = f"Edit {user.username}"
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return _page(request, user, heading, failure.render(), 400)
    old_email = user.email
    new_email = values["email"] or None
    if new_email != old_email:
        ask_again = ask_again_unless_recent(request, request.route_path(EDIT, id=user.id))
        if ask_again is not None:
            return ask_again
    try:
        accounts.edit_user(request.camauth, user, email=new_email, full_name=values["full_name"])
    except AccountError as refused:
        return _page(request, user, heading, form.render(values), 400, str(refused))
    if old_email and new_email != old_email:
        change = "changed your account's email address"
        send_changed_by_administrator(request, user, change, to=old_email, sessions_ended=False)
    request.session.flash(f"{user.username} was saved.")
    return see_other(user_url(request, user))


# --- reset password ---------------------------------------------------------------

RESET_EXPLANATION = (
    "The user's sessions end, their lockout is cleared, and they log in with the "
    "temporary password. Give it to them in person or by another channel than mail, "
    "or have a link mailed to them with which they choose one."
)


def _reset_form(request: Request, user: User) -> deform.Form:
    action = request.route_path(RESET, id=user.id)
    schema = reset_password_schema(request)
    # the user's sessions end and their password stops working
    return make_form(schema, "Reset password", "reset-password", action, button_class=DESTRUCTIVE)


def _reset_page(
    request: Request, user: User, rendered: str, status: int = 200, error: str = ""
) -> Response:
    heading = f"Reset the password of {user.username}"
    return _page(request, user, heading, rendered, status, error, RESET_EXPLANATION)


@view_config(route_name=RESET, request_method="GET", permission=ADMIN)
def reset_page(request: Request) -> Response:
    user = target_user(request)
    ask_again = ask_again_unless_recent(request)
    if ask_again is not None:
        return ask_again
    token = once.issue(request, _reset_purpose(user))
    return _reset_page(request, user, _reset_form(request, user).render({"once": token}))


def _reset_purpose(user: User) -> str:
    return f"reset-password.{user.id}"


@view_config(route_name=RESET, request_method="POST", permission=ADMIN)
def reset_submit(request: Request) -> Response:
    user = target_user(request)
    form = _reset_form(request, user)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return _reset_page(request, user, failure.render(), 400)
    ask_again = ask_again_unless_recent(request, request.route_path(RESET, id=user.id))
    if ask_again is not None:
        return ask_again
    if not once.spend(request, _reset_purpose(user), values["once"]):
        # a resubmitted form (back button, double click): done once already
        request.session.flash(
            f"That reset of {user.username}'s password was done already; use Reset password "
            "again for another."
        )
        return see_other(user_url(request, user))
    if values["send_link"]:
        return _reset_by_invitation(request, user, form, values)
    typed = values["temporary_password"] or None
    try:
        generated = accounts.reset_password(
            request.camauth, user, typed, force_change=values["force_change"]
        )
    except (AccountError, PasswordPolicyError) as refused:
        token = once.issue(request, _reset_purpose(user))
        blank = {"force_change": values["force_change"], "once": token}
        return _reset_page(request, user, form.render(blank), 400, str(refused))
    send_changed_by_administrator(request, user, "reset your password")
    request.session.flash(f"The password of {user.username} was reset.")
    if generated is not None:
        show_generated_password(request, user, generated)
    return see_other(user_url(request, user))


def _reset_by_invitation(
    request: Request, user: User, form: deform.Form, values: dict[str, Any]
) -> Response:
    """The old password stops working now; the person chooses a new one through
    a mailed link."""
    try:
        invitation = invitations.invite(request.camauth, user, reset=True)
    except AccountError as refused:
        token = once.issue(request, _reset_purpose(user))
        blank = {"force_change": values["force_change"], "once": token}
        return _reset_page(request, user, form.render(blank), 400, str(refused))
    send_invitation(request, invitation, welcome=False)
    request.session.flash(
        f"The password of {user.username} was removed; a link to choose a new one was "
        f"mailed to {invitation.email}."
    )
    return see_other(user_url(request, user))


# --- hardware token ---------------------------------------------------------------

TOKEN_EXPLANATION = (
    "Enter the token's secret and the code it shows now; its clock may be off by up "
    "to ten time steps. The user's sessions end, and they are told by mail."
)


def _token_form(request: Request, user: User) -> deform.Form:
    schema = hardware_token_schema(request, replacing=user.has_two_factor)
    action = request.route_path(TOKEN, id=user.id)
    return make_form(schema, "Enrol token", "hardware-token", action)


def _token_page(
    request: Request, user: User, rendered: str, status: int = 200, error: str = ""
) -> Response:
    heading = f"Enrol a hardware token for {user.username}"
    return _page(request, user, heading, rendered, status, error, TOKEN_EXPLANATION)


@view_config(route_name=TOKEN, request_method="GET", permission=ADMIN)
def token_page(request: Request) -> Response:
    user = target_user(request)
    ask_again = ask_again_unless_recent(request)
    if ask_again is not None:
        return ask_again
    token = once.issue(request, _token_purpose(user))
    return _token_page(request, user, _token_form(request, user).render({"once": token}))


def _token_purpose(user: User) -> str:
    return f"hardware-token.{user.id}"


@view_config(route_name=TOKEN, request_method="POST", permission=ADMIN)
def token_submit(request: Request) -> Response:
    user = target_user(request)
    form = _token_form(request, user)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return _token_page(request, user, failure.render(), 400)
    ask_again = ask_again_unless_recent(request, request.route_path(TOKEN, id=user.id))
    if ask_again is not None:
        return ask_again
    if not once.spend(request, _token_purpose(user), values["once"]):
        request.session.flash(
            f"That token enrolment for {user.username} was done already; use Enrol hardware "
            "token again for another."
        )
        return see_other(user_url(request, user))
    try:
        mfa.enrol_hardware(
            request.camauth,
            user,
            values["secret"],
            values["code"],
            digits=int(values["digits"]),
            period=int(values["period"]),
            algorithm=values["algorithm"],
            hexadecimal=values["hexadecimal"],
            replace=values.get("replace", False),
        )
    except TwoFactorError as refused:
        # the secret is not sent back into the page: it is typed again
        kept = {key: value for key, value in values.items() if key not in ("secret", "code")}
        kept["once"] = once.issue(request, _token_purpose(user))
        message = str(refused)
        return _token_page(request, user, form.render(kept), 400, message[:1].upper() + message[1:])
    send_changed_by_administrator(request, user, "enrolled a hardware token for two-factor login")
    request.session.flash(f"A hardware token is enrolled for {user.username}.")
    return see_other(user_url(request, user))
