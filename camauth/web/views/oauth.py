"""The two OAuth 2.0 device-grant endpoints a tool talks to.

``POST /oauth/device_authorization`` starts a request; ``POST /oauth/token`` is
polled until the person has decided. Both take form bodies from tools, not
browsers: no CSRF token (there is no session to forge a request with), answers
and errors in JSON as RFC 8628 and RFC 6749 prescribe.
"""

from __future__ import annotations

from urllib.parse import urlencode

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...services import device_login
from ...services.device_login import GrantError
from ..json_errors import json_error
from ..navigation import commit_anyway
from ..oauth_form import (
    OAuthError,
    client_id,
    oauth_error_response,
    oauth_response,
    read_form,
    text_field,
)

DEVICE_AUTHORIZATION = "camauth.oauth.device_authorization"
TOKEN = "camauth.oauth.token"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEVICE_FIELDS = frozenset({"client_id", "scope", "hostname", "message"})
TOKEN_FIELDS = frozenset({"grant_type", "device_code", "client_id"})
# an error a tool may retry after waiting: 429 tells HTTP clients so as well
_TOO_MANY = {"slow_down"}


def _refusal(error: GrantError | OAuthError, *, polling: bool = False) -> Response:
    status = getattr(error, "status", 400)
    if not polling and error.error in _TOO_MANY:
        status = 429
    elif not polling and error.error == "access_denied":
        status = 403
    response = oauth_error_response(error.error, error.message, status)
    if status == 401:
        # how a client may authenticate (camauth wants only its client_id)
        response.headers["WWW-Authenticate"] = 'Basic realm="camauth"'
    return response


@view_config(route_name=DEVICE_AUTHORIZATION, request_method="POST", require_csrf=False)
def device_authorization(request: Request) -> Response:
    try:
        fields = read_form(request, DEVICE_FIELDS)
        grant = device_login.start(
            request.camauth,
            client_id=client_id(request, fields),
            scope=text_field(fields, "scope"),
            hostname=text_field(fields, "hostname"),
            message=text_field(fields, "message"),
        )
    except (OAuthError, GrantError) as error:
        return _refusal(error)
    # on camauth.public_url when set: the public-origin tween rewrote the host
    verification_uri: str = request.route_url("camauth.device")
    return oauth_response(
        {
            "device_code": grant.device_code,
            "user_code": grant.user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": (
                f"{verification_uri}?{urlencode({'user_code': grant.user_code})}"
            ),
            "expires_in": grant.expires_in,
            "interval": grant.interval,
        }
    )


@view_config(route_name=TOKEN, request_method="POST", require_csrf=False)
def token(request: Request) -> Response:
    try:
        fields = read_form(request, TOKEN_FIELDS)
        grant_type = fields.get("grant_type", "")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required.")
        if grant_type != DEVICE_CODE_GRANT:
            raise OAuthError(
                "unsupported_grant_type", f"Only the device code grant ({DEVICE_CODE_GRANT})."
            )
        tool = client_id(request, fields)
        device_code = text_field(fields, "device_code", required=True)
        issued = device_login.exchange(request.camauth, device_code=device_code, client_id=tool)
    except (OAuthError, GrantError) as error:
        # a refusal's writes (a poll's time, a grown interval) are kept: returned, not
        # raised, and marked for a host's commit veto
        return commit_anyway(_refusal(error, polling=True))
    return oauth_response(
        {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        }
    )


@view_config(route_name=DEVICE_AUTHORIZATION, require_csrf=False)
@view_config(route_name=TOKEN, require_csrf=False)
def only_post(request: Request) -> Response:
    response = json_error(405, "Use POST with a form body.", "method_not_allowed")
    response.headers["Allow"] = "POST"
    return response
