"""``/password/set/{token}``: the page of a mailed invitation, where a person
chooses their password; and the mails that carry such links."""

from __future__ import annotations

import deform
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...models import User
from ...services import invitations
from ...services.invitations import Invitation
from ...services.password_policy import PasswordPolicyError
from ...services.tokens import LinkError
from ..forms import form_controls, make_form, new_password_schema
from ..mail import public_url, send_mail
from ..navigation import see_other
from ..refusals import link_problem_page
from ..rendering import form_html, render_page

SET = "camauth.password.set"


def send_invitation(request: Request, invitation: Invitation, *, welcome: bool) -> None:
    """``welcome``: a new account's first mail (it names the site and the username)."""
    send_mail(
        request,
        invitation.email,
        f"Welcome to {request.registry['camauth.settings'].site_name}"
        if welcome
        else "Choose a new password",
        "invitation.txt",
        username=invitation.user.username,
        welcome=welcome,
        link=public_url(request, SET, token=invitation.token),
        hours=invitation.valid_hours,
    )


def send_welcome(request: Request, user: User) -> None:
    """A new account with a password the administrator hands over: the mail says
    which site and username, never the password."""
    if not user.email:
        return
    send_mail(
        request,
        user.email,
        f"Welcome to {request.registry['camauth.settings'].site_name}",
        "welcome.txt",
        username=user.username,
        login=public_url(request, "camauth.login"),
    )


def _form(request: Request, token: str) -> deform.Form:
    action = request.route_path(SET, token=token)
    return make_form(new_password_schema(request), "Set password", "set-password", action)


def _page(
    request: Request,
    username: str,
    rendered: str,
    status: int = 200,
    error: str = "",
    strength: int | None = None,
) -> Response:
    return render_page(
        request,
        "set_password.html",
        status=status,
        username=username,
        form=form_html(rendered),
        error=error,
        strength=strength,
    )


@view_config(route_name=SET, request_method="GET")
def set_password_page(request: Request) -> Response:
    token = request.matchdict["token"]
    try:
        user = invitations.check_invitation(request.camauth, token)
    except LinkError as problem:
        return link_problem_page(request, problem, SET)
    return _page(request, user.username, _form(request, token).render())


@view_config(route_name=SET, request_method="POST")
def set_password_submit(request: Request) -> Response:
    token = request.matchdict["token"]
    ctx = request.camauth
    try:
        user = invitations.check_invitation(ctx, token)
    except LinkError as problem:
        return link_problem_page(request, problem, SET)
    form = _form(request, token)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return _page(request, user.username, failure.render(), 400)
    try:
        invitations.accept(ctx, token, values["new_password"])
    except LinkError as problem:
        return link_problem_page(request, problem, SET)
    except PasswordPolicyError as refused:
        return _page(request, user.username, form.render(), 400, str(refused), refused.score)
    return see_other(request.route_path("camauth.login", _query={"notice": "password-set"}))
