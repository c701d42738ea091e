"""``/password/set/{token}``: the page of a mailed invitation, where a person
chooses their password; and the mails that carry such links."""

from __future__ import annotations

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...models import User
from ...services import invitations
from ...services.invitations import Invitation
from ..mail import public_url, send_mail
from ..password_link import PasswordLink

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


SET_LINK = PasswordLink(
    route=SET,
    formid="set-password",
    button="Set password",
    template="set_password.html",
    check=invitations.check_invitation,
    apply=invitations.accept,
    notice="password-set",
)


@view_config(route_name=SET, request_method="GET")
def set_password_page(request: Request) -> Response:
    return SET_LINK.show(request)


@view_config(route_name=SET, request_method="POST")
def set_password_submit(request: Request) -> Response:
    return SET_LINK.submit(request)
