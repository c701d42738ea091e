"""Self-service registration (PRODUCT §2) and email verification links."""

from __future__ import annotations

import deform
from pyramid.httpexceptions import HTTPNotFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config
from sqlalchemy.exc import IntegrityError

from ...models import User, UserStatus
from ...services import registration
from ...services.accounts import AccountError
from ...services.mail_limits import TooManyRequests
from ...services.password_policy import PasswordPolicyError
from ...services.tokens import LinkError
from ..context import app_settings
from ..forms import confirm_schema, form_controls, make_form, register_schema
from ..mail import public_url, send_mail
from ..navigation import commit_anyway, see_other
from ..refusals import link_problem_page, too_many_requests_page
from ..rendering import form_html, render_page

REGISTER = "camauth.register"
VERIFY = "camauth.register.verify"


def _require_open(request: Request) -> None:
    if app_settings(request.registry).registration == registration.CLOSED:
        raise HTTPNotFound("Registration is closed; ask an administrator for an account.")


def _form(request: Request) -> deform.Form:
    return make_form(register_schema(request), "Register", "register", request.route_path(REGISTER))


def _page(
    request: Request,
    rendered: str,
    status: int = 200,
    error: str = "",
    strength: int | None = None,
) -> Response:
    return render_page(
        request,
        "register.html",
        status=status,
        form=form_html(rendered),
        error=error,
        strength=strength,
        sent=request.GET.get("sent") == "1",
    )


def send_registration_mail(request: Request, mail: registration.RegistrationMail) -> None:
    if mail.token is None:
        send_mail(
            request,
            mail.email,
            "Someone tried to register with your address",
            "registration_exists.txt",
            username=mail.username,
            recover=public_url(request, "camauth.password.forgot"),
        )
        return
    send_mail(
        request,
        mail.email,
        "Confirm your email address",
        "verify_email.txt",
        username=mail.username,
        link=public_url(request, VERIFY, token=mail.token),
        hours=mail.valid_hours,
    )


@view_config(route_name=REGISTER, request_method="GET")
def register_page(request: Request) -> Response:
    _require_open(request)
    return _page(request, _form(request).render())


@view_config(route_name=REGISTER, request_method="POST")
def register_submit(request: Request) -> Response:
    _require_open(request)
    form = _form(request)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return _page(request, failure.render(), 400)
    kept = {"username": values["username"], "email": values["email"]}
    try:
        mail = registration.register(
            request.camauth, values["username"], values["email"], values["new_password"]
        )
    except TooManyRequests as refused:
        return too_many_requests_page(request, refused)
    except (AccountError, PasswordPolicyError) as refused:
        # committed: the refusal counts towards the address's limit
        strength = getattr(refused, "score", None)
        return commit_anyway(_page(request, form.render(kept), 400, str(refused), strength))
    except IntegrityError:
        # another registration took the name or address between our check and insert
        request.tm.doom()
        taken = "That username or email address was taken a moment ago; choose another."
        return _page(request, form.render(kept), 409, taken)
    if mail is not None:
        send_registration_mail(request, mail)
    return see_other(request.route_path(REGISTER, _query={"sent": "1"}))


def _confirm_form(request: Request) -> deform.Form:
    action = request.route_path(VERIFY, token=request.matchdict["token"])
    return make_form(confirm_schema(request), "Confirm", "confirm-email", action)


@view_config(route_name=VERIFY, request_method="GET")
def verify_page(request: Request) -> Response:
    """The link's page: it only asks. Mail scanners fetch every link in a mail, so a
    GET must confirm nothing; the person presses Confirm."""
    # closing registration also stops sign-ups still waiting for confirmation
    _require_open(request)
    try:
        user = registration.check_verification(request.camauth, request.matchdict["token"])
    except LinkError as problem:
        return link_problem_page(request, problem, VERIFY)
    return _confirm_page(request, user)


def _confirm_page(request: Request, user: User, status: int = 200, error: str = "") -> Response:
    return render_page(
        request,
        "register_confirm.html",
        status=status,
        form=form_html(_confirm_form(request).render()),
        username=user.username,
        address=user.unconfirmed_email or user.email or "",
        error=error,
    )


@view_config(route_name=VERIFY, request_method="POST")
def verify(request: Request) -> Response:
    _require_open(request)
    try:
        _confirm_form(request).validate(form_controls(request))
    except deform.ValidationFailure:
        return see_other(request.path)  # nothing done: show the page again
    try:
        user = registration.verify_email(request.camauth, request.matchdict["token"])
    except LinkError as problem:
        return link_problem_page(request, problem, VERIFY)
    except AccountError as refused:
        request.tm.doom()
        return render_page(request, "error.html", status=409, title="Cannot confirm",
                           message=str(refused))  # fmt: skip
    notice = "email-verified"
    if user.status == UserStatus.PENDING_APPROVAL.value:
        notice = "awaiting-approval"
    return see_other(request.route_path("camauth.login", _query={"notice": notice}))
