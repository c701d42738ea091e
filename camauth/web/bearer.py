"""API sessions on the wire: ``Authorization: Bearer TOKEN``.

A request with a bearer token is served by the same session and security policy
as a browser's, with three differences: the token must belong to an API session
(a browser's cookie token is not a bearer token), no cookie is ever set, and no
CSRF token is needed (a browser never adds this header by itself, so another
site cannot make it send one). A request carrying both a session cookie and a
bearer token is refused rather than guessed about; one whose token is unknown,
expired or malformed gets 401 whatever it asked for, so a tool learns at once
that its token is no good instead of being served as a visitor.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response

from .json_errors import json_error
from .navigation import commit_anyway

# RFC 6750's b64token; camauth's own tokens are 43 URL-safe characters
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]{1,100}=*")
API_PREFIXES = ("/api/", "/oauth/")

Handler = Callable[[Request], Response]


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header ("" when malformed), or None
    when the request has no such header."""
    header = request.environ.get("HTTP_AUTHORIZATION")
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = token.strip()
    return token if _TOKEN.fullmatch(token) else ""


def is_bearer_request(request: Request) -> bool:
    return bearer_token(request) is not None


def skip_csrf_for_bearer(request: Request) -> bool:
    """Pyramid's CSRF check callback: True when the request must be checked."""
    return not is_bearer_request(request)


def wants_json(request: Request) -> bool:
    """Answers to tools are JSON, errors included: the API and OAuth endpoints, and
    any request made with a bearer token."""
    path = request.environ.get("PATH_INFO", "")
    return path.startswith(API_PREFIXES) or is_bearer_request(request)


def bearer_tween_factory(handler: Handler, registry: Registry) -> Handler:
    """Refuse a bearer request that cannot be served before any view sees it.

    The refusals are returned, not raised: a raised error would roll back the
    transaction, and with it the deletion of the timed-out session just found."""

    def bearer_tween(request: Request) -> Response:
        token = bearer_token(request)
        if token is None:
            return handler(request)
        if request.session.conflicting_credentials:
            return json_error(
                400, "The request carries both a session cookie and a bearer token; send one."
            )
        if request.session.user is None:
            refused = json_error(
                401, "The bearer token is unknown, expired or malformed.", token_given=True
            )
            return commit_anyway(refused)  # keeps the deletion of a timed-out row
        return handler(request)

    return bearer_tween
