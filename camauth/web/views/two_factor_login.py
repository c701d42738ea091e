"""The login's second step (PRODUCT §8): ``/login/two-factor`` and the recovery-code
variant ``/login/recovery-code``."""

from __future__ import annotations

import deform
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...models import User
from ...services.authentication import Outcome, second_factor
from .. import pending_login
from ..forms import form_controls, make_form, second_step_schema
from ..navigation import commit_anyway, home_path, see_other
from ..rendering import form_html, render_page
from .login import STATUS, complete_login, refusal_message

ROUTES = {False: "camauth.login.two_factor", True: "camauth.login.recovery_code"}


def _form(request: Request, recovery: bool) -> deform.Form:
    schema = second_step_schema(request, recovery=recovery)
    formid = "recovery-code" if recovery else "two-factor"
    return make_form(schema, "Verify", formid, request.route_path(ROUTES[recovery]))


def _page(
    request: Request,
    recovery: bool,
    rendered: str,
    pending: pending_login.PendingLogin | None,
    status: int = 200,
    error: str = "",
) -> Response:
    """The page for ``pending`` (None once the login cannot be finished here)."""
    user = request.camauth.db.get(User, pending.first.user_id) if pending is not None else None
    # a passkey is offered first; someone with passkeys only has no code to type
    has_codes = user is None or user.has_two_factor or not user.has_passkeys
    return render_page(
        request,
        "two_factor_login.html",
        status=status,
        recovery=recovery,
        form=form_html(rendered) if has_codes else "",
        codes=has_codes,
        passkey=user is not None and user.has_passkeys,
        error=error,
        other_way=request.route_path(ROUTES[not recovery]),
    )


def _pending_or_redirect(request: Request) -> pending_login.PendingLogin | Response:
    if request.user is not None:
        return see_other(home_path(request))
    login = request.route_path("camauth.login")
    try:
        pending = pending_login.current(request)
    except pending_login.Expired:
        return see_other(f"{login}?notice=two-factor-expired")
    return pending if pending is not None else see_other(login)


def _show(request: Request, recovery: bool) -> Response:
    pending = _pending_or_redirect(request)
    if isinstance(pending, Response):
        return pending
    return _page(request, recovery, _form(request, recovery).render(), pending)


def _verify(request: Request, recovery: bool) -> Response:
    pending = _pending_or_redirect(request)
    if isinstance(pending, Response):
        return pending
    form = _form(request, recovery)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return _page(request, recovery, failure.render(), pending, 400)
    code = values["recovery_code" if recovery else "code"]
    result = second_factor(request.camauth, pending.first, code, recovery=recovery)
    if result.outcome is Outcome.OK and result.user is not None:
        pending_login.clear(request)
        left = result.recovery_codes_left
        if left is not None:
            request.session.flash(
                f"You logged in with a recovery code; {left} of your codes are left. "
                "Generate new ones on your two-factor page if you are running out."
            )
        return complete_login(request, result.user, pending.next)
    if result.outcome is Outcome.INVALID:
        pending_login.clear(request)
        return see_other(request.route_path("camauth.login", _query={"notice": "log-in-again"}))
    rendered = form.render({})
    still_pending: pending_login.PendingLogin | None = pending
    if result.outcome is Outcome.LOCKED:
        pending_login.clear(request)  # a locked account cannot finish this login later
        rendered, still_pending = "", None
    message = refusal_message(result)
    page = _page(request, recovery, rendered, still_pending, STATUS[result.outcome], message)
    return commit_anyway(page)


@view_config(route_name="camauth.login.two_factor", request_method="GET")
def code_page(request: Request) -> Response:
    return _show(request, recovery=False)


@view_config(route_name="camauth.login.two_factor", request_method="POST")
def code_submit(request: Request) -> Response:
    return _verify(request, recovery=False)


@view_config(route_name="camauth.login.recovery_code", request_method="GET")
def recovery_code_page(request: Request) -> Response:
    return _show(request, recovery=True)


@view_config(route_name="camauth.login.recovery_code", request_method="POST")
def recovery_code_submit(request: Request) -> Response:
    return _verify(request, recovery=True)
