"""``/admin/lockouts``: locked usernames (with an account or not), throttled IPs,
the latest failures; unlock any username from here."""

from __future__ import annotations

import colander
import deform
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ....services import accounts, lockout, lockout_report, throttle_lifting
from ....services.accounts import username_problem
from ....services.usernames import username_key
from ...forms import CSRFSchema, form_controls, make_form
from ...navigation import see_other
from ...security import ADMIN
from .common import admin_page

UNLOCK = "camauth.admin.lockouts.unlock"
LIFT = "camauth.admin.lockouts.lift"


def _one_field_schema(request: Request, name: str, longest: int) -> colander.SchemaNode:
    schema = CSRFSchema()
    schema.add(
        colander.SchemaNode(
            colander.String(),
            name=name,
            widget=deform.widget.HiddenWidget(),
            validator=colander.Length(min=1, max=longest),
        )
    )
    return schema.bind(request=request)


def _unlock_form(request: Request) -> deform.Form:
    schema = _one_field_schema(request, "username", 150)
    return make_form(schema, "Unlock", "unlock", request.route_path(UNLOCK))


def _lift_form(request: Request) -> deform.Form:
    schema = _one_field_schema(request, "network", 100)
    return make_form(schema, "Lift", "lift", request.route_path(LIFT))


def _page(request: Request, status: int = 200, error: str = "") -> Response:
    ctx = request.camauth
    locked, total = lockout_report.locked_now(ctx)
    return admin_page(
        request,
        "lockouts.html",
        "lockouts",
        status=status,
        error=error,
        locked=locked,
        total=total,
        throttled=lockout_report.throttled_ips(ctx),
        failures=lockout_report.recent_failures(ctx),
        unlock_url=request.route_path(UNLOCK),
        lift_url=request.route_path(LIFT),
    )


@view_config(route_name="camauth.admin.lockouts", request_method="GET", permission=ADMIN)
def lockouts_page(request: Request) -> Response:
    return _page(request)


@view_config(route_name=UNLOCK, request_method="GET", permission=ADMIN)
@view_config(route_name=LIFT, request_method="GET", permission=ADMIN)
def back_to_lockouts(request: Request) -> Response:
    """A form's address opened as a page: the page the form is on."""
    return see_other(request.route_path("camauth.admin.lockouts"))


@view_config(route_name=UNLOCK, request_method="POST", permission=ADMIN)
def unlock_submit(request: Request) -> Response:
    try:
        values = _unlock_form(request).validate(form_controls(request))
    except deform.ValidationFailure:
        return _page(request, 400, "Say which username to unlock.")
    # failures are recorded only for names that could be usernames (PRODUCT §2)
    if username_problem(values["username"]):
        return _page(request, 400, "That is not a username anyone could have.")
    ctx = request.camauth
    key = username_key(values["username"])
    if lockout.unlock(ctx, key, accounts.find_user(ctx, key)):
        request.session.flash(f"{key} is unlocked.")
    else:
        request.session.flash(f"{key} was not locked out: nothing was changed.")
    return see_other(request.route_path("camauth.admin.lockouts"))


@view_config(route_name=LIFT, request_method="POST", permission=ADMIN)
def lift_submit(request: Request) -> Response:
    """End an address's throttle now (someone there sprayed; the rest must work)."""
    try:
        values = _lift_form(request).validate(form_controls(request))
        network = throttle_lifting.parse_network(values["network"])
    except (deform.ValidationFailure, ValueError):
        return _page(request, 400, "Say which address to lift the throttle of.")
    try:
        throttle_lifting.lift_throttle(request.camauth, network)
    except throttle_lifting.NotThrottled:
        request.session.flash(f"{network} was not throttled: nothing was changed.")
    else:
        request.session.flash(f"The throttle of {network} is lifted.")
    return see_other(request.route_path("camauth.admin.lockouts"))
