"""``/account/reauthenticate``: the password (and code) again before a sensitive
change, when the last authentication is older than ``camauth.reauth_minutes``."""

from __future__ import annotations

import deform
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...services.authentication import LoginResult, Outcome, reauthenticate
from ..device import trusted_device_for
from ..forms import form_controls, make_form, reauthenticate_schema
from ..navigation import commit_anyway, home_path, safe_next, see_other
from ..rendering import form_html, render_page
from ..security import SIGNED_IN
from .login import STATUS, refusal_message


def reauth_form(
    request: Request, button: str, formid: str, route: str, *, button_class: str = "btn-primary"
) -> deform.Form:
    schema = reauthenticate_schema(request, with_code=request.user.has_two_factor)
    return make_form(schema, button, formid, request.route_path(route), button_class=button_class)


def check_identity(request: Request, values: dict[str, str]) -> LoginResult | None:
    """Re-authenticate the logged-in user from a submitted form: None when it
    succeeded (and the session counts as freshly authenticated), else the refusal."""
    user = request.user
    scope = trusted_device_for(request, user) or ""
    result = reauthenticate(
        request.camauth, user, values["password"], values.get("code", ""), scope=scope
    )
    if result.outcome is not Outcome.OK:
        return result
    request.session.mark_authenticated()
    if result.recovery_codes_left is not None:
        request.session.flash(
            f"You used a recovery code; {result.recovery_codes_left} of your codes are left."
        )
    return None


def _form(request: Request) -> deform.Form:
    return reauth_form(request, "Confirm", "reauthenticate", "camauth.reauthenticate")


def _page(
    request: Request, rendered: str, status: int = 200, error: str = "", target: str = ""
) -> Response:
    user = request.user
    # someone whose second factor is a passkey confirms with it: no password form
    passkey_only = user.has_passkeys and not user.has_two_factor
    passkey_url = request.route_path(
        "camauth.reauthenticate.passkey", _query={"next": target} if target else {}
    )
    return render_page(
        request,
        "reauthenticate.html",
        status=status,
        form="" if passkey_only else form_html(rendered),
        error=error,
        passkey_url=passkey_url if user.has_passkeys else "",
    )


@view_config(route_name="camauth.reauthenticate", request_method="GET", permission=SIGNED_IN)
def reauthenticate_page(request: Request) -> Response:
    target = safe_next(request.GET.get("next")) or ""
    return _page(request, _form(request).render({"next": target}), target=target)


@view_config(route_name="camauth.reauthenticate", request_method="POST", permission=SIGNED_IN)
def reauthenticate_submit(request: Request) -> Response:
    form = _form(request)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return _page(request, failure.render(), 400)
    refused = check_identity(request, values)
    if refused is not None:
        rendered = form.render({"next": values["next"]})
        page = _page(
            request,
            rendered,
            STATUS[refused.outcome],
            refusal_message(refused),
            safe_next(values["next"]) or "",
        )
        return commit_anyway(page)
    return see_other(safe_next(values["next"]) or home_path(request))
