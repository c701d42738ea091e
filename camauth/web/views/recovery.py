"""Forgotten password (PRODUCT §3): ask for a link, then choose a new password."""

from __future__ import annotations

import deform
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...services import recovery
from ...services.mail_limits import TooManyRequests
from ..forms import forgot_password_schema, form_controls, make_form
from ..mail import public_url, send_mail, send_password_changed
from ..navigation import see_other
from ..password_link import PasswordLink
from ..refusals import too_many_requests_page
from ..rendering import form_html, render_page

FORGOT = "camauth.password.forgot"
RESET = "camauth.password.reset"


def _forgot_form(request: Request) -> deform.Form:
    return make_form(
        forgot_password_schema(request), "Send link", "forgot-password", request.route_path(FORGOT)
    )


def _forgot_page(request: Request, rendered: str, status: int = 200, error: str = "") -> Response:
    return render_page(
        request,
        "forgot_password.html",
        status=status,
        form=form_html(rendered),
        error=error,
        sent=request.GET.get("sent") == "1",
    )


@view_config(route_name=FORGOT, request_method="GET")
def forgot_page(request: Request) -> Response:
    return _forgot_page(request, _forgot_form(request).render())


@view_config(route_name=FORGOT, request_method="POST")
def forgot_submit(request: Request) -> Response:
    form = _forgot_form(request)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return _forgot_page(request, failure.render(), 400)
    try:
        mail = recovery.request_reset(request.camauth, values["login"])
    except TooManyRequests as refused:
        return too_many_requests_page(request, refused)
    # composed even when it does not go out: the same work, the same answer
    send_mail(
        request,
        mail.email if mail else "nobody@example.invalid",
        "Reset your password",
        "password_reset.txt",
        deliver=mail is not None,
        username=mail.user.username if mail else "",
        link=public_url(request, RESET, token=mail.token if mail else "decoy"),
        minutes=mail.valid_minutes if mail else 0,
    )
    return see_other(request.route_path(FORGOT, _query={"sent": "1"}))


RESET_LINK = PasswordLink(
    route=RESET,
    formid="reset-password",
    button="Set new password",
    template="reset_password.html",
    check=recovery.check_reset_link,
    apply=recovery.reset_password,
    notice="password-changed",
    after=send_password_changed,
)


@view_config(route_name=RESET, request_method="GET")
def reset_page(request: Request) -> Response:
    return RESET_LINK.show(request)


@view_config(route_name=RESET, request_method="POST")
def reset_submit(request: Request) -> Response:
    return RESET_LINK.submit(request)
