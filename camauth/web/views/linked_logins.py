"""``/account/linked``: the person's logins at other providers (PRODUCT §18).

Linking and unlinking need a recent authentication (the re-authentication page
first). Linking goes through the provider like a login, with the flow marked
for linking and bound to this user: the callback links the identity it is given
to them instead of logging anyone in. The last way to log in is never unlinked.
"""

from __future__ import annotations

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...services import external_login
from ...services.account_fields import AccountError
from ..navigation import RecordNotFound, see_other
from ..reauth import ask_again_unless_recent
from ..rendering import render_page
from ..security import VIEW
from .oidc_login import begin_flow, provider_clients

PAGE = "camauth.account.linked"
LINK = "camauth.account.linked.link"
UNLINK = "camauth.account.linked.unlink"


def _page(request: Request, status: int = 200, error: str = "") -> Response:
    clients = provider_clients(request)
    linked = external_login.identities_of(request.camauth, request.user)
    labels = {name: client.provider.label for name, client in clients.items()}
    rows = [(identity, labels.get(identity.provider, identity.provider)) for identity in linked]
    return render_page(
        request,
        "account_linked.html",
        status=status,
        error=error,
        linked=rows,
        providers=[
            (client.provider.label, request.route_path(LINK, name=name))
            for name, client in clients.items()
            if name not in {identity.provider for identity in linked}
        ],
    )


@view_config(route_name=PAGE, request_method="GET", permission=VIEW)
def linked_page(request: Request) -> Response:
    return _page(request)


@view_config(route_name=LINK, request_method="POST", permission=VIEW)
def link(request: Request) -> Response:
    """A POST with the CSRF token: another site cannot start a link (and have the
    browser come back with the attacker's identity at the provider)."""
    client = provider_clients(request).get(request.matchdict["name"])
    if client is None:
        raise RecordNotFound("There is no such login provider.")
    ask_again = ask_again_unless_recent(request, request.route_path(PAGE))
    if ask_again is not None:
        return ask_again
    return begin_flow(request, client, request.route_path(PAGE), link_to=request.user)


@view_config(route_name=UNLINK, request_method="POST", permission=VIEW)
def unlink(request: Request) -> Response:
    ask_again = ask_again_unless_recent(request, request.route_path(PAGE))
    if ask_again is not None:
        return ask_again
    try:
        identity = external_login.unlink(
            request.camauth, request.user, int(request.matchdict["id"])
        )
    except AccountError as refused:
        return _page(request, 400, str(refused))
    request.session.flash(f"Your {identity.provider} login is no longer linked.")
    return see_other(request.route_path(PAGE))


@view_config(route_name=LINK, request_method="GET", permission=VIEW)
@view_config(route_name=UNLINK, request_method="GET", permission=VIEW)
def back_to_the_page(request: Request) -> Response:
    return see_other(request.route_path(PAGE))
