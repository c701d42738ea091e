"""Recent authentication (PRODUCT §8): some changes need the password (and code)
entered within ``camauth.reauth_minutes``.

A page that needs it calls :func:`ask_again_unless_recent`; when the login (or the
last re-authentication) is older, the person is sent to ``/account/reauthenticate``
and comes back to ``target`` afterwards.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from pyramid.request import Request
from pyramid.response import Response

from .context import app_settings
from .navigation import see_other


def recently_authenticated(request: Request) -> bool:
    """The password (and code) were entered in this session within reauth_minutes.
    Never for an API token: nobody typed anything into it, and a stolen one must not
    make sensitive changes (it would be sent to a page it cannot use)."""
    if request.session.bearer:
        return False
    age = request.session.authenticated_age
    limit = timedelta(minutes=app_settings(request.registry).reauth_minutes)
    return age is not None and age < limit


def reauthenticate_url(request: Request, target: str) -> str:
    url: str = request.route_path("camauth.reauthenticate")
    return f"{url}?{urlencode({'next': target})}"


def ask_again_unless_recent(request: Request, target: str | None = None) -> Response | None:
    """None when the session authenticated recently enough; otherwise the redirect to
    the re-authentication page, which returns to ``target`` (by default this page,
    for a GET)."""
    if recently_authenticated(request):
        return None
    return see_other(reauthenticate_url(request, target or request.path_qs))
