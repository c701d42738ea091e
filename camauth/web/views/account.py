"""The logged-in person's own account pages."""

from __future__ import annotations

import deform
from pyramid.httpexceptions import HTTPNotFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...services.accounts import AccountError, change_own_password
from ...services.password_policy import PasswordPolicyError
from ...services.required_actions import Action, password_expired
from ...services.terms import agree_terms, owes_terms
from ..context import app_settings
from ..device import issue_device_cookie, trusted_device_for
from ..forms import change_password_schema, confirm_schema, form_controls, make_form
from ..mail import send_password_changed
from ..navigation import commit_anyway, home_path, safe_next, see_other
from ..reauth import ask_again_unless_recent
from ..rendering import form_html, render_page
from ..security import action_permission

CHANGE_PASSWORD = action_permission(Action.CHANGE_PASSWORD)
AGREE_TERMS = action_permission(Action.AGREE_TERMS)


def _password_form(request: Request) -> deform.Form:
    return make_form(
        change_password_schema(request),
        "Change password",
        "change-password",
        request.route_path("camauth.account.password"),
    )


def _page(
    request: Request,
    rendered: str,
    status: int = 200,
    error: str = "",
    strength: int | None = None,
) -> Response:
    settings = app_settings(request.registry)
    expired = password_expired(settings, request.registry["camauth.clock"], request.user)
    return render_page(
        request,
        "change_password.html",
        status=status,
        form=form_html(rendered),
        error=error,
        expired=expired,
        max_age_days=settings.password_max_age_days,
        strength=strength,
    )


def _ask_again_if_stale(request: Request, target: str) -> Response | None:
    """With two-factor, an old login must show the password and a code again (PRODUCT
    §8); without it, the form's current password is that proof."""
    if not request.user.has_second_factor:
        return None
    query = {"next": target} if target else {}
    return ask_again_unless_recent(
        request, request.route_path("camauth.account.password", _query=query)
    )


@view_config(
    route_name="camauth.account.password", request_method="GET", permission=CHANGE_PASSWORD
)
def change_password_page(request: Request) -> Response:
    target = safe_next(request.GET.get("next")) or ""
    ask_again = _ask_again_if_stale(request, target)
    if ask_again is not None:
        return ask_again
    return _page(request, _password_form(request).render({"next": target}))


@view_config(
    route_name="camauth.account.password", request_method="POST", permission=CHANGE_PASSWORD
)
def change_password_submit(request: Request) -> Response:
    form = _password_form(request)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return _page(request, failure.render(), 400)
    ask_again = _ask_again_if_stale(request, values["next"])
    if ask_again is not None:
        return ask_again
    user = request.user
    session = request.session
    try:
        change_own_password(
            request.camauth,
            user,
            values["current_password"],
            values["new_password"],
            keep_id=session.session_id,
            scope=trusted_device_for(request, user) or "",
        )
    except (AccountError, PasswordPolicyError) as refused:
        blank = {"next": values["next"]}
        strength = getattr(refused, "score", None)
        return commit_anyway(_page(request, form.render(blank), 400, str(refused), strength))
    session.login(user)  # a fresh token for the session that changed the password
    # the change voided every device cookie; this browser has just proved the
    # password, so it stays a known device (with a new cookie)
    request.add_response_callback(lambda req, response: issue_device_cookie(req, response, user))
    session.flash("Your password has been changed.")
    send_password_changed(request, user)
    return see_other(safe_next(values["next"]) or home_path(request))


def _terms_form(request: Request) -> deform.Form:
    action = request.route_path("camauth.account.terms")
    return make_form(confirm_schema(request), "I agree", "agree-terms", action)


@view_config(route_name="camauth.account.terms", request_method="GET", permission=AGREE_TERMS)
def terms_page(request: Request) -> Response:
    settings = app_settings(request.registry)
    if not settings.terms_revision:
        raise HTTPNotFound("No terms of use are set for this site.")
    owed = owes_terms(settings, request.user)
    target = safe_next(request.GET.get("next")) or ""
    return _terms_page(request, _terms_form(request).render({"next": target}) if owed else "")


def _terms_page(request: Request, rendered: str, status: int = 200) -> Response:
    settings = app_settings(request.registry)
    return render_page(
        request,
        "terms.html",
        status=status,
        revision=settings.terms_revision,
        owed=owes_terms(settings, request.user),
        form=form_html(rendered),
    )


@view_config(route_name="camauth.account.terms", request_method="POST", permission=AGREE_TERMS)
def terms_submit(request: Request) -> Response:
    settings = app_settings(request.registry)
    if not settings.terms_revision:
        raise HTTPNotFound("No terms of use are set for this site.")
    form = _terms_form(request)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return _terms_page(request, failure.render(), 400)
    user = request.user
    if owes_terms(settings, user):
        agree_terms(request.camauth, user)
        request.session.flash("Thank you: you have agreed to the terms of use.")
    return see_other(safe_next(values["next"]) or home_path(request))
