"""Error answers for tools: JSON ``{"error": CODE, "message": TEXT}``, never HTML."""

from __future__ import annotations

from pyramid.response import Response

# the machine-readable code for each status a tool may be given
ERROR_CODES = {
    400: "invalid_request",
    401: "invalid_token",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "too_many_requests",
    500: "server_error",
    503: "unavailable",
}
REALM = 'Bearer realm="camauth"'


def json_error(
    status: int, message: str, error: str | None = None, *, token_given: bool = False
) -> Response:
    """A JSON error. A 401 says how to authenticate (``WWW-Authenticate``), and that
    the token sent was no good when one was sent."""
    code = error or ERROR_CODES.get(status, "invalid_request")
    response = Response(status=status, json_body={"error": code, "message": message})
    if status == 401:
        response.headers["WWW-Authenticate"] = (
            f'{REALM}, error="invalid_token"' if token_given else REALM
        )
    return response
