"""Logging in through an OpenID Connect provider (PRODUCT §18).

``/login/oidc/NAME`` sends the browser to the provider with a fresh ``state``,
``nonce`` and PKCE verifier, kept in this browser's session;
``/login/oidc/NAME/callback`` takes them back (once: a replayed or foreign
callback finds nothing), checks the provider's answer and logs the person in as
a password login would: status, camauth's own second step (unless the provider
is trusted to skip it), required actions, a new session. Anything wrong ends
on an error page and in the audit log, never logged in.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...models import UNTRUSTED_SCOPE, User, UserStatus
from ...services import external_login
from ...services.oidc_client import (
    LoginRefused,
    ProviderClient,
    ProviderError,
    VerifiedIdentity,
)
from .. import pending_login
from ..device import trusted_device_at_login
from ..navigation import RecordNotFound, commit_anyway, safe_next, see_other
from ..rendering import render_page
from .login import complete_login

FLOW_KEY = "_oidc_flow"
FLOW_MINUTES = 10  # from leaving for the provider to coming back
_NOT_THIS_BROWSER = "This login did not start in this browser, or it was already used. Start again."


def provider_clients(request: Request) -> dict[str, ProviderClient]:
    clients: dict[str, ProviderClient] = request.registry["camauth.oidc"]
    return clients


def _client(request: Request) -> ProviderClient:
    client = provider_clients(request).get(request.matchdict["name"])
    if client is None:
        raise RecordNotFound("There is no such login provider.")
    return client


def _callback_url(request: Request, name: str) -> str:
    url: str = request.route_url("camauth.login.oidc.callback", name=name)
    return url


def _refused(
    request: Request, client: ProviderClient, refused: LoginRefused, user: User | None = None
) -> Response:
    external_login.refuse(request.camauth, client.provider, refused, user)
    status = 502 if isinstance(refused, ProviderError) else 400
    page = render_page(
        request,
        "error.html",
        status=status,
        title=f"{client.provider.label}: not logged in",
        message=str(refused),
        back_url=request.route_path("camauth.login"),
        back_label="Back to the login page",
    )
    return commit_anyway(page)


@view_config(route_name="camauth.login.oidc", request_method="GET")
def start(request: Request) -> Response:
    target = safe_next(request.GET.get("next")) or ""
    return begin_flow(request, _client(request), target)


def begin_flow(
    request: Request, client: ProviderClient, target: str, link_to: User | None = None
) -> Response:
    """Send the browser to the provider: to log in, or to link the identity it comes
    back with to ``link_to`` (``/account/linked``)."""
    try:
        flow = client.authorization_request(_callback_url(request, client.provider.name))
    except LoginRefused as refused:
        return _refused(request, client, refused, link_to)
    now = request.registry["camauth.clock"]()
    request.session[FLOW_KEY] = {
        "provider": client.provider.name,
        "state": flow.state,
        "nonce": flow.nonce,
        "verifier": flow.code_verifier,
        "next": target,
        "since": now.isoformat(),
        "link_to": link_to.id if link_to is not None else None,
    }
    return see_other(flow.url)


def _flow_problem(request: Request, flow: Any, name: str) -> str | None:
    """Why the stored flow does not match this callback, or None."""
    if not isinstance(flow, dict) or flow.get("provider") != name:
        return "state_unknown"  # another browser's callback, or a replayed one
    if request.GET.get("state") != flow.get("state"):
        return "state_mismatch"
    try:
        since = datetime.fromisoformat(str(flow.get("since")))
    except ValueError:
        return "state_unknown"
    if request.registry["camauth.clock"]() >= since + timedelta(minutes=FLOW_MINUTES):
        return "state_expired"
    return None


@view_config(route_name="camauth.login.oidc.callback", request_method="GET")
def callback(request: Request) -> Response:
    client = _client(request)
    provider = client.provider
    # the copy this request loaded: no lock is held while the provider is asked
    flow = request.session.get(FLOW_KEY)
    problem = _flow_problem(request, flow, provider.name)
    if problem is not None:
        request.session.pop(FLOW_KEY, None)
        return _refused(request, client, LoginRefused(problem, _NOT_THIS_BROWSER))
    if "error" in request.GET or not request.GET.get("code"):
        request.session.pop(FLOW_KEY, None)
        refused = LoginRefused("provider_declined", f"{provider.label} did not log you in.")
        return _refused(request, client, refused)
    target = str(flow.get("next") or "")
    try:
        identity = client.finish(
            _callback_url(request, provider.name),
            request.GET["code"][:2000],
            str(flow["verifier"]),
            str(flow["nonce"]),
        )
        # then taken, once, as the database holds it (row-locked): of two callbacks of
        # one flow at once, the second finds it gone (the provider's code is single-use
        # as well)
        taken = request.session.take_stored(FLOW_KEY)
        if not isinstance(taken, dict) or taken.get("state") != flow.get("state"):
            raise LoginRefused("state_unknown", _NOT_THIS_BROWSER)
        if flow.get("link_to") is not None:
            return _link(request, client, identity, flow["link_to"], target)
        user = external_login.resolve(request.camauth, provider, identity)
    except LoginRefused as refused:
        return _refused(request, client, refused)
    return _log_in(request, client, user, identity, target)


def _link(
    request: Request, client: ProviderClient, identity: Any, user_id: Any, target: str
) -> Response:
    """The flow was started on /account/linked: link, if the same person is still here."""
    user = request.user
    if user is None or user.id != user_id:
        message = "The link was started by someone else, or you logged out meanwhile."
        raise LoginRefused("link_user_changed", message)
    external_login.link(request.camauth, client.provider, identity, user)
    request.session.flash(f"{client.provider.label} is linked: you can log in with it now.")
    return see_other(target or request.route_path("camauth.account"))


def _log_in(
    request: Request, client: ProviderClient, user: User, identity: VerifiedIdentity, target: str
) -> Response:
    provider = client.provider
    if user.status == UserStatus.PENDING_APPROVAL.value:
        message = "Your account waits for an administrator's approval: you will get a mail."
        return _refused(request, client, LoginRefused("pending_approval", message), user)
    if not user.is_active:
        message = "This account cannot log in. Ask an administrator if you think it should."
        return _refused(request, client, LoginRefused("user_inactive", message), user)
    if user.has_second_factor and not provider.skip_two_factor:  # codes or a passkey
        # camauth's own second step, as after a password: the login is recorded (as
        # login_success) when the code is accepted, not before
        scope = trusted_device_at_login(request, user.username) or UNTRUSTED_SCOPE
        request.session.invalidate()
        pending_login.start(request, user, scope, target)
        return see_other(request.route_path("camauth.login.two_factor"))
    external_login.logged_in(request.camauth, provider, user, identity)
    return complete_login(request, user, target)
