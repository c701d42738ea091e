"""``/account/two-factor``: set up an authenticator app, see and replace recovery
codes, turn two-factor off (PRODUCT §8).

The new secret lives only in the session until a right code confirms it, so
reloading the page shows the same QR code, and nothing is stored on the user
until the app works. New recovery codes wait in the session, too, to be shown
and downloaded; they are dropped when the person says they saved them, or
``reauth_minutes`` after they were made.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import deform
import segno
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...models import TwoFactorKind
from ...services import mfa, recovery_codes, totp
from ...services.required_actions import Action
from .. import sealed
from ..context import app_settings
from ..forms import (
    DESTRUCTIVE,
    confirm_schema,
    enable_two_factor_schema,
    form_controls,
    make_form,
)
from ..mail import send_two_factor_changed
from ..navigation import commit_anyway, safe_next, see_other
from ..reauth import ask_again_unless_recent
from ..rendering import form_html, render_page
from ..security import VIEW, action_permission
from .login import STATUS, refusal_message
from .reauth import check_identity, reauth_form

SET_UP_TWO_FACTOR = action_permission(Action.SET_UP_TWO_FACTOR)
SECRET_KEY = "_two_factor_secret"
CODES_KEY = "_recovery_codes"
PAGE = "camauth.account.two_factor"
CODES_PAGE = "camauth.account.recovery_codes"


def _clock_now(request: Request) -> datetime:
    now: datetime = request.registry["camauth.clock"]()
    return now


def _pending_secret(request: Request) -> str:
    secret = request.session.get(SECRET_KEY)
    if not isinstance(secret, str):
        secret = totp.new_secret()
        request.session[SECRET_KEY] = secret
    return secret


def _qr_svg(uri: str) -> str:
    # inline SVG: no image service, no script; the page's CSP allows it as markup
    return str(segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff"))


def _enable_form(request: Request) -> deform.Form:
    schema = enable_two_factor_schema(request)
    return make_form(schema, "Enable", "enable-two-factor", request.route_path(PAGE))


def _disable_form(request: Request) -> deform.Form:
    return reauth_form(
        request,
        "Turn off two-factor",
        "disable-two-factor",
        "camauth.account.two_factor.disable",
        button_class=DESTRUCTIVE,
    )


def _regenerate_form(request: Request) -> deform.Form:
    schema = confirm_schema(request)
    action = request.route_path(CODES_PAGE)
    # the codes saved until now stop working
    return make_form(
        schema, "Generate new recovery codes", "regenerate-codes", action, button_class=DESTRUCTIVE
    )


def _setup_page(request: Request, rendered: str, status: int = 200, error: str = "") -> Response:
    settings = app_settings(request.registry)
    secret = _pending_secret(request)
    uri = totp.TotpParameters(secret).provisioning_uri(request.user.username, settings.mfa_issuer)
    return render_page(
        request,
        "two_factor_setup.html",
        status=status,
        qr_svg=form_html(_qr_svg(uri)),
        secret=totp.grouped(secret),
        issuer=settings.mfa_issuer,
        required=mfa.required_for(settings, request.user),
        form=form_html(rendered),
        error=error,
    )


def _manage_page(
    request: Request, disable_rendered: str = "", status: int = 200, error: str = ""
) -> Response:
    user = request.user
    credential = mfa.credential_of(request.camauth, user)
    return render_page(
        request,
        "two_factor_manage.html",
        status=status,
        hardware=credential is not None and credential.kind == TwoFactorKind.HARDWARE,
        since=user.two_factor_enabled_at,
        codes_left=recovery_codes.remaining(request.camauth, user),
        required=mfa.required_for(app_settings(request.registry), user),
        regenerate_form=form_html(_regenerate_form(request).render()),
        disable_form=form_html(disable_rendered or _disable_form(request).render()),
        error=error,
    )


@view_config(route_name=PAGE, request_method="GET", permission=SET_UP_TWO_FACTOR)
def two_factor_page(request: Request) -> Response:
    if request.user.has_two_factor:
        return _manage_page(request)
    # showing a new secret lets whoever sees it enrol a device: only to the person
    ask_again = ask_again_unless_recent(request)
    if ask_again is not None:
        return ask_again
    target = safe_next(request.GET.get("next")) or ""
    return _setup_page(request, _enable_form(request).render({"next": target}))


@view_config(route_name=PAGE, request_method="POST", permission=SET_UP_TWO_FACTOR)
def enable_submit(request: Request) -> Response:
    if request.user.has_two_factor:
        return see_other(request.route_path(PAGE))
    form = _enable_form(request)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return _setup_page(request, failure.render(), 400)
    target = values["next"]
    ask_again = ask_again_unless_recent(
        request, request.route_path(PAGE, _query={"next": target} if target else {})
    )
    if ask_again is not None:
        return ask_again  # the secret stays in the session: the same QR code afterwards
    user = request.user
    try:
        codes = mfa.enrol_app(
            request.camauth,
            user,
            _pending_secret(request),
            values["code"],
            keep_session_id=request.session.session_id,
        )
    except mfa.TwoFactorError as refused:
        return _setup_page(request, form.render({"next": target}), 400, str(refused))
    del request.session[SECRET_KEY]
    _keep_fresh_codes(request, codes)
    request.session.flash("Two-factor authentication is on.")
    send_two_factor_changed(request, user, turned_on=True)
    return see_other(request.route_path(CODES_PAGE, _query={"next": target} if target else {}))


@view_config(
    route_name="camauth.account.two_factor.disable", request_method="POST", permission=VIEW
)
def disable_submit(request: Request) -> Response:
    user = request.user
    if not user.has_two_factor:
        return see_other(request.route_path(PAGE))
    form = _disable_form(request)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return _manage_page(request, failure.render(), 400)
    refused = check_identity(request, values)
    if refused is not None:
        page = _manage_page(
            request, form.render({}), STATUS[refused.outcome], refusal_message(refused)
        )
        return commit_anyway(page)
    mfa.remove(
        request.camauth, user, keep_session_id=request.session.session_id, with_passkeys=False
    )
    request.session.pop(CODES_KEY, None)
    request.session.flash("Two-factor authentication is off.")
    send_two_factor_changed(request, user, turned_on=False)
    return see_other(request.route_path(PAGE))


# --- recovery codes -----------------------------------------------------------


def _keep_fresh_codes(request: Request, codes: list[str]) -> None:
    """Keep new codes for showing and downloading, ``reauth_minutes`` at most (the
    session drops them then, whatever page is asked for next), sealed: the
    session table never holds them in plain text."""
    now = _clock_now(request)
    until = now + timedelta(minutes=app_settings(request.registry).reauth_minutes)
    sealed.seal(request, CODES_KEY, {"codes": codes, "at": now.isoformat()}, until)


def _fresh_codes(request: Request) -> tuple[list[str], datetime] | None:
    """New codes still waiting to be shown, or None."""
    kept = sealed.unseal(request, CODES_KEY)
    try:
        return [str(code) for code in kept["codes"]], datetime.fromisoformat(kept["at"])
    except (TypeError, KeyError, ValueError):
        request.session.pop(CODES_KEY, None)
        return None


def _done_form(request: Request) -> deform.Form:
    action = request.route_path("camauth.account.recovery_codes.saved")
    return make_form(confirm_schema(request), "I have saved these codes", "codes-saved", action)


@view_config(route_name=CODES_PAGE, request_method="GET", permission=VIEW)
def recovery_codes_page(request: Request) -> Response:
    fresh = _fresh_codes(request)
    if fresh is None:
        request.session.flash(
            "Recovery codes are shown only once, right after they are made. If you did not "
            "save them, generate a new set."
        )
        return see_other(request.route_path(PAGE))
    ask_again = ask_again_unless_recent(request)
    if ask_again is not None:
        return ask_again
    codes, made = fresh
    target = safe_next(request.GET.get("next")) or ""
    return render_page(
        request,
        "recovery_codes.html",
        codes=codes,
        made=made,
        download=request.route_path("camauth.account.recovery_codes.download"),
        form=form_html(_done_form(request).render({"next": target})),
    )


@view_config(route_name=CODES_PAGE, request_method="POST", permission=VIEW)
def regenerate_submit(request: Request) -> Response:
    form = _regenerate_form(request)
    try:
        form.validate(form_controls(request))
    except deform.ValidationFailure:
        return see_other(request.route_path(PAGE))
    ask_again = ask_again_unless_recent(request, request.route_path(PAGE))
    if ask_again is not None:
        return ask_again
    try:
        codes = mfa.regenerate_recovery_codes(request.camauth, request.user)
    except mfa.TwoFactorError as refused:
        request.session.flash(str(refused))
        return see_other(request.route_path(PAGE))
    _keep_fresh_codes(request, codes)
    return see_other(request.route_path(CODES_PAGE))


@view_config(
    route_name="camauth.account.recovery_codes.download", request_method="GET", permission=VIEW
)
def recovery_codes_download(request: Request) -> Response:
    fresh = _fresh_codes(request)
    if fresh is None:
        return see_other(request.route_path(PAGE))
    ask_again = ask_again_unless_recent(request, request.route_path(CODES_PAGE))
    if ask_again is not None:
        return ask_again
    codes, made = fresh
    issuer = app_settings(request.registry).mfa_issuer
    lines = [
        f"Recovery codes for {request.user.username} at {issuer}",
        f"Made {made:%Y-%m-%d %H:%M} UTC. Each code works once, instead of a code from",
        "your authenticator. Keep them somewhere safe; a new set replaces these.",
        "",
        *codes,
        "",
    ]
    response = Response("\n".join(lines), content_type="text/plain", charset="utf-8")
    response.content_disposition = 'attachment; filename="recovery-codes.txt"'
    return response


@view_config(
    route_name="camauth.account.recovery_codes.saved", request_method="POST", permission=VIEW
)
def recovery_codes_saved(request: Request) -> Response:
    form = _done_form(request)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure:
        values = {"next": ""}
    request.session.pop(CODES_KEY, None)
    return see_other(safe_next(values["next"]) or request.route_path(PAGE))
