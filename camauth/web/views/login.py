"""Log in (PRODUCT §4) and log out."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import deform
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...models import User, UserStatus
from ...services import audit, registration
from ...services.audit import Event
from ...services.authentication import LoginResult, Outcome, authenticate
from .. import pending_login
from ..context import app_settings, housekeeping_if_due
from ..device import issue_device_cookie, trusted_device_at_login
from ..forms import form_controls, login_schema, make_form
from ..navigation import commit_anyway, home_path, safe_next, see_other
from ..rendering import application_root, form_html, html_response, page_html, render_page
from ..stencil import hole, stencil
from .register import send_registration_mail

INVALID = "Invalid username or password."


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def refusal_message(result: LoginResult) -> str:
    if result.outcome is Outcome.LOCKED and result.until is not None:
        return (
            "Too many failed attempts: logging in to this account is locked until "
            f"{_when(result.until)}."
        )
    if result.outcome is Outcome.THROTTLED and result.until is not None:
        return (
            "Too many failed attempts from your network address: please wait until "
            f"{_when(result.until)}."
        )
    if result.outcome is Outcome.PENDING and result.user is not None:
        if result.user.status == UserStatus.PENDING_EMAIL:
            return (
                "Your account is waiting for you to confirm your email address: "
                "follow the link we mailed you."
            )
        return "Your account is waiting for approval by an administrator."
    if result.outcome is Outcome.WRONG_CODE:
        return result.message
    return INVALID


STATUS = {
    Outcome.LOCKED: 429,
    Outcome.THROTTLED: 429,
    Outcome.PENDING: 403,
    Outcome.INVALID: 403,
    Outcome.WRONG_CODE: 403,
}


def _login_form(request: Request) -> deform.Form:
    return make_form(login_schema(request), "Log in", "login", request.route_path("camauth.login"))


_CHECKING_SCHEMA = "camauth.login_schema_unbound"


def _checking_form(request: Request) -> deform.Form:
    """A form to check a login POST with. Its schema is built once per application
    and left unbound: binding (a copy of the schema, to give the CSRF field its
    default) costs more than the check, and only a form rendered from nothing
    uses that default. A failed check renders what was submitted."""
    registry = request.registry
    schema = registry.get(_CHECKING_SCHEMA)
    if schema is None:
        schema = registry[_CHECKING_SCHEMA] = login_schema(request, bound=False)
    return make_form(schema, "Log in", "login", request.route_path("camauth.login"))


# messages other pages send people to the login page with (?notice=...)
NOTICES = {
    "password-changed": "Your password has been changed. Log in with your new password.",
    "email-verified": "Your email address is confirmed. You can log in now.",
    "awaiting-approval": (
        "Your email address is confirmed. An administrator will now review your account; "
        "you can log in once it is approved."
    ),
    "two-factor-expired": (
        "Your login was not finished within a few minutes. Log in again, and have your "
        "authentication code ready."
    ),
    "log-in-again": "Please log in again.",
    "email-changed": "Your new email address is confirmed.",
    "password-set": "Your password is set. Log in with it now.",
}


def _page(request: Request, form_rendered: str, status: int, error: str = "") -> Response:
    return render_page(
        request, "login.html", status=status, **_values(request, form_rendered, error)
    )


def _values(request: Request, form_rendered: str, error: str = "") -> dict[str, Any]:
    return {
        "form": form_html(form_rendered),
        "error": error,
        "notice": NOTICES.get(request.GET.get("notice", "")),
        "registration_open": app_settings(request.registry).registration != "closed",
        "passwordless": app_settings(request.registry).passkeys_passwordless,
        # one button per configured provider (PRODUCT §18): plain links, no script
        "providers": [
            (client.provider.label, request.route_path("camauth.login.oidc", name=name))
            for name, client in request.registry["camauth.oidc"].items()
        ],
    }


def _blank_page(request: Request) -> str:
    """The page a visitor gets, with holes for the CSRF token and ``next``."""
    form = _login_form(request)
    rendered = form.render({"csrf_token": hole("csrf_token"), "next": hole("next")})
    return page_html(request, "login.html", None, **_values(request, rendered))


def _invalid_blank_page(request: Request) -> str:
    """The page refusing a wrong password, with holes for the CSRF token, ``next``
    and the username typed (the password is never shown again)."""
    form = _login_form(request)
    holes = {name: hole(name) for name in ("csrf_token", "next", "username")}
    rendered = form.render({**holes, "password": ""})
    return page_html(request, "login.html", None, **_values(request, rendered, INVALID))


def _invalid_page(request: Request, values: dict[str, Any]) -> Response:
    """The most common refusal, "Invalid username or password.": like the page a
    visitor gets, rendered once and filled in (when no query string carries a
    notice and no one is logged in)."""
    if request.environ.get("QUERY_STRING") or request.user is not None:
        return _page(request, _login_form(request).render({**values, "password": ""}), 403, INVALID)
    blank = stencil(
        request, ("login-invalid", application_root(request)), lambda: _invalid_blank_page(request)
    )
    fields = {name: values[name] for name in ("csrf_token", "next", "username")}
    return html_response(blank.fill(**fields), STATUS[Outcome.INVALID])


@view_config(route_name="camauth.login", request_method="GET")
def login_page(request: Request) -> Response:
    # no query string (the usual case): no query to parse, and a plain dict, whose
    # misses cost a fraction of WebOb's
    query = request.GET if request.environ.get("QUERY_STRING") else {}
    target = safe_next(query.get("next")) or ""
    if request.user is not None:
        return see_other(target or home_path(request))
    # the same for every visitor but the CSRF token and next: rendered once per
    # notice (and application root) and filled in (web/stencil.py)
    notice = query.get("notice", "")
    key = ("login", application_root(request), notice if notice in NOTICES else "")
    blank = stencil(request, key, lambda: _blank_page(request))
    page = blank.fill(csrf_token=request.session.get_csrf_token(), next=target)
    return html_response(page)


@view_config(route_name="camauth.login", request_method="POST")
def login_submit(request: Request) -> Response:
    form = _checking_form(request)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        # a malformed username is never recorded as a login failure
        return _page(request, failure.render(), 400)
    # before this request's transaction holds any lock row the cleanup might delete
    housekeeping_if_due(request)
    pending_login.clear(request)  # a new attempt starts from the password again
    ctx = request.camauth
    username = values["username"]
    result = authenticate(
        ctx, username, values["password"], trusted_device=trusted_device_at_login(request, username)
    )
    target = safe_next(values["next"]) or ""
    if result.outcome is Outcome.SECOND_FACTOR and result.user is not None:
        # a fresh token for the half-finished login: it must not continue in a session
        # someone else knows the token of (a planted cookie, another user's login)
        request.session.invalidate()
        pending_login.start(request, result.user, result.scope, target)
        return see_other(request.route_path("camauth.login.two_factor"))
    if result.outcome is not Outcome.OK or result.user is None:
        message = refusal_message(result)
        if result.outcome is Outcome.PENDING and result.user is not None:
            # they know the password: a fresh link helps if the first one expired or got lost
            resent = registration.resend_verification(ctx, result.user)
            if resent is not None:
                send_registration_mail(request, resent)
                message += " We have sent you a new link."
        if result.outcome is Outcome.INVALID:  # the message is INVALID
            return commit_anyway(_invalid_page(request, values))
        values["password"] = ""
        page = _page(request, _login_form(request).render(values), STATUS[result.outcome], message)
        return commit_anyway(page)
    return complete_login(request, result.user, target, user_row_held=result.user_row_held)


def start_login(request: Request, user: User, *, user_row_held: bool = False) -> None:
    """The login succeeded: a new session, and the device cookie with the answer.
    ``user_row_held``: the login's own statement holds the user's row."""
    request.session.login(user, user_row_held=user_row_held)
    request.add_response_callback(lambda req, response: issue_device_cookie(req, response, user))


def complete_login(
    request: Request, user: User, target: str, *, user_row_held: bool = False
) -> Response:
    """The login succeeded: a new session, the device cookie, and on to ``target``."""
    start_login(request, user, user_row_held=user_row_held)
    return see_other(target or home_path(request))


@view_config(route_name="camauth.logout", request_method="POST")
def logout(request: Request) -> Response:
    user = request.user
    if user is not None:
        audit.record(request.camauth, Event.LOGOUT, target=user)
    request.session.invalidate()
    return see_other(request.route_path("camauth.login"))
