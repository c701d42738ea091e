"""``/account``: the account centre. One page says who is signed in, their
profile, how the login is protected, where they are logged in and what happened
to the account lately; the stand-alone application's home page is the same page.
The profile and a new email address are changed on pages of their own."""

from __future__ import annotations

import deform
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...services import account_centre, sessions
from ...services.account_fields import AccountError
from ...services.mail_limits import TooManyRequests
from ...services.profile import pending_address, request_email_change, update_profile
from ..account_forms import email_change_schema, profile_schema
from ..context import app_settings
from ..forms import form_controls, make_form
from ..navigation import see_other
from ..reauth import ask_again_unless_recent
from ..refusals import too_many_requests_page
from ..rendering import form_html, render_page
from ..security import VIEW
from .email_confirm import send_email_change_mails

ACCOUNT = "camauth.account"
PROFILE = "camauth.account.profile"
EMAIL = "camauth.account.email"


@view_config(route_name=ACCOUNT, request_method="GET", permission=VIEW)
@view_config(route_name="camauth.account.sessions", request_method="GET", permission=VIEW)
def account_centre_page(request: Request) -> Response:
    ctx, user = request.camauth, request.user
    return render_page(
        request,
        "account.html",
        security=account_centre.security_summary(ctx, user),
        pending_email=pending_address(user),
        sessions=sessions.live_sessions(ctx, user),
        current_id=request.session.session_id,
        end_others_url=request.route_path("camauth.account.sessions.end_others"),
        activity=account_centre.recent_activity(ctx, user),
        site_zone=app_settings(request.registry).timezone,
    )


def _profile_form(request: Request) -> deform.Form:
    return make_form(profile_schema(request), "Save", "profile", request.route_path(PROFILE))


def _profile_page(request: Request, rendered: str, status: int = 200, error: str = "") -> Response:
    return render_page(
        request, "account_profile.html", status=status, form=form_html(rendered), error=error
    )


@view_config(route_name=PROFILE, request_method="GET", permission=VIEW)
def profile_page(request: Request) -> Response:
    user = request.user
    values = {"full_name": user.full_name, "time_zone": user.time_zone}
    return _profile_page(request, _profile_form(request).render(values))


@view_config(route_name=PROFILE, request_method="POST", permission=VIEW)
def profile_submit(request: Request) -> Response:
    form = _profile_form(request)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return _profile_page(request, failure.render(), 400)
    try:
        changed = update_profile(
            request.camauth,
            request.user,
            full_name=values["full_name"],
            time_zone=values["time_zone"],
        )
    except AccountError as refused:
        return _profile_page(request, form.render(values), 400, str(refused))
    request.session.flash("Your profile has been saved." if changed else "Nothing to change.")
    return see_other(request.route_path(ACCOUNT))


def _email_form(request: Request) -> deform.Form:
    return make_form(email_change_schema(request), "Send link", "email", request.route_path(EMAIL))


def _email_page(request: Request, rendered: str, status: int = 200, error: str = "") -> Response:
    user = request.user
    return render_page(
        request,
        "account_email.html",
        status=status,
        form=form_html(rendered),
        error=error,
        pending_email=pending_address(user),
    )


@view_config(route_name=EMAIL, request_method="GET", permission=VIEW)
def email_page(request: Request) -> Response:
    # who controls the address controls password resets: as for a password, a
    # login (or re-authentication) within reauth_minutes is needed
    ask_again = ask_again_unless_recent(request)
    if ask_again is not None:
        return ask_again
    return _email_page(request, _email_form(request).render())


@view_config(route_name=EMAIL, request_method="POST", permission=VIEW)
def email_submit(request: Request) -> Response:
    ask_again = ask_again_unless_recent(request, request.route_path(EMAIL))
    if ask_again is not None:
        return ask_again  # nothing is lost: the address is typed again afterwards
    form = _email_form(request)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return _email_page(request, failure.render(), 400)
    try:
        mail = request_email_change(request.camauth, request.user, values["email"])
    except TooManyRequests as refused:
        return too_many_requests_page(request, refused)
    except AccountError as refused:
        return _email_page(request, form.render(values), 400, str(refused))
    send_email_change_mails(request, mail)
    request.session.flash(
        f"We have sent a link to {mail.new_address}. Your address changes when you follow it."
    )
    return see_other(request.route_path(ACCOUNT))
