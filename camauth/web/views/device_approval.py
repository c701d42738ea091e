"""``/device``: the person approves, denies or reports a device login.

They must be logged in with two-factor authentication and have proved who they
are within ``reauth_minutes``: approving hands a tool a token that lasts for
weeks. The code they type picks the request; the request's id then lives in
their session (never in the URL), so the decision page cannot be reached for a
request whose code was not typed in this session.
"""

from __future__ import annotations

from urllib.parse import urlencode

import colander
import deform
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...models import DeviceRequestStatus
from ...services import device_login, user_codes
from ...services.device_login import display_user_code
from ..forms import CSRFSchema, form_controls, make_form, stripped
from ..json_errors import json_error
from ..navigation import commit_anyway, see_other
from ..reauth import ask_again_unless_recent
from ..rendering import form_html, render_page
from ..security import VIEW

ENTER = "camauth.device"
CONFIRM = "camauth.device.confirm"
CHOSEN = "camauth.device_request"
DECISIONS = {
    "approve": (DeviceRequestStatus.APPROVED, "Approved. {client} can continue now."),
    "deny": (DeviceRequestStatus.DENIED, "Denied. {client} was refused."),
    "report": (
        DeviceRequestStatus.REPORTED,
        "Reported as suspicious and denied. Device logins from that address are blocked "
        "for a while, and the administrators can see your report.",
    ),
}


def _code_form(request: Request) -> deform.Form:
    schema = CSRFSchema()
    schema.add(
        colander.SchemaNode(
            colander.String(),
            name="user_code",
            title="User code",
            description="The code the tool shows, such as WDJB-MJHT.",
            preparer=stripped,
            validator=colander.Length(max=40, max_err="A code has 8 letters."),
            widget=deform.widget.TextInputWidget(
                attributes={"autocomplete": "off", "autocapitalize": "characters"}
            ),
        )
    )
    return make_form(schema.bind(request=request), "Continue", "device", request.route_path(ENTER))


def _code_page(request: Request, rendered: str, status: int = 200, error: str = "") -> Response:
    return render_page(request, "device.html", status=status, form=form_html(rendered), error=error)


def _not_ready(request: Request, target: str) -> Response | None:
    """A browser, two-factor set up, and a recent login or re-authentication, or the
    page for what is missing. An API token may not approve: a stolen one could
    otherwise mint more tokens."""
    if request.session.bearer:
        return json_error(403, "Approve device logins in a browser.", "browser_required")
    if not request.user.has_second_factor:  # codes or a passkey
        return render_page(
            request,
            "device.html",
            status=403,
            needs_two_factor=True,
            two_factor_url=request.route_path("camauth.account.two_factor"),
        )
    return ask_again_unless_recent(request, target)


@view_config(route_name=ENTER, request_method="GET", permission=VIEW)
def enter_code(request: Request) -> Response:
    typed = request.GET.get("user_code", "")[:40]
    refused = _not_ready(request, request.path_qs)
    if refused is not None:
        return refused
    form = _code_form(request)
    return _code_page(request, form.render({"user_code": typed}))


@view_config(route_name=ENTER, request_method="POST", permission=VIEW)
def check_code(request: Request) -> Response:
    form = _code_form(request)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return _code_page(request, failure.render(), 400)
    typed = values["user_code"]
    again = f"{request.route_path(ENTER)}?{urlencode({'user_code': typed})}"
    refused = _not_ready(request, again)
    if refused is not None:
        return refused
    outcome = user_codes.enter(request.camauth, request.user, typed)
    if isinstance(outcome, user_codes.TooManyWrongCodes):
        message = (
            "Too many wrong codes. You can try again after "
            f"{outcome.until:%H:%M} UTC; start the login on the device again if it has expired."
        )
        return commit_anyway(_code_page(request, form.render(values), 429, message))
    if isinstance(outcome, user_codes.WrongCode):
        tries = "1 more try" if outcome.tries_left == 1 else f"{outcome.tries_left} more tries"
        message = (
            f"No device login is waiting for the code {typed[:12]!r}: check it, or start "
            f"again on the device if it has expired. {tries} in the next 10 minutes."
        )
        # the wrong code is counted even under a host's commit veto
        return commit_anyway(_code_page(request, form.render(values), 400, message))
    request.session.put_expiring(CHOSEN, outcome.id, outcome.expires_at)
    return see_other(request.route_path(CONFIRM))


def _chosen(request: Request) -> device_login.DeviceRequest | None:
    chosen = request.session.get_expiring(CHOSEN)
    if not isinstance(chosen, int):
        return None
    return device_login.pending(request.camauth, chosen)


@view_config(route_name=CONFIRM, request_method="GET", permission=VIEW)
def show_request(request: Request) -> Response:
    refused = _not_ready(request, request.path_qs)
    if refused is not None:
        return refused
    chosen = _chosen(request)
    if chosen is None:
        request.session.flash("That device login is no longer waiting. Enter the code again.")
        return see_other(request.route_path(ENTER))
    return render_page(
        request,
        "device_confirm.html",
        device_request=chosen,
        user_code=display_user_code(chosen.user_code),
        decide_url=request.route_path(CONFIRM),
    )


@view_config(route_name=CONFIRM, request_method="POST", permission=VIEW)
def decide(request: Request) -> Response:
    refused = _not_ready(request, request.route_path(CONFIRM))
    if refused is not None:
        return refused
    decision = DECISIONS.get(str(request.POST.get("decision", "")))
    chosen = _chosen(request)
    if decision is None:
        request.session.flash("Choose Approve, Deny or Report as suspicious.")
        return see_other(request.route_path(CONFIRM))
    status, message = decision
    decided = chosen is not None and device_login.decide(
        request.camauth, request.user, chosen.id, status
    )
    request.session.pop(CHOSEN, None)
    if not decided:
        # a second click, another tab, or the request expired meanwhile: nothing repeats
        request.session.flash("That device login had already been decided or has expired.")
    else:
        assert chosen is not None
        request.session.flash(message.format(client=chosen.client_id))
    return see_other(request.route_path(ENTER))


@view_config(route_name=ENTER, permission=VIEW)
@view_config(route_name=CONFIRM, permission=VIEW)
def other_methods(request: Request) -> Response:
    return see_other(request.route_path(ENTER))
