"""Reading an OAuth request's form body, strictly, and answering in the RFC's shape.

OAuth clients send ``application/x-www-form-urlencoded`` bodies; parameters must
not be repeated (RFC 6749 §3.1), and errors are ``{"error",
"error_description"}`` with status 400 (401 for ``invalid_client``). camauth
adds ``message`` (the same sentence) so that every JSON error it sends carries
one key for people.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from urllib.parse import parse_qsl, unquote_plus

from pyramid.request import Request
from pyramid.response import Response

FORM_TYPE = "application/x-www-form-urlencoded"
MAX_BODY = 8 * 1024  # a device or token request is a few hundred bytes
_STATUS = {"invalid_client": 401, "access_denied": 400}


class OAuthError(Exception):
    def __init__(self, error: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.message = message
        self.status = status if status is not None else _STATUS.get(error, 400)


def oauth_error_response(error: str, message: str, status: int) -> Response:
    body = {"error": error, "error_description": message, "message": message}
    return oauth_response(body, status)


def oauth_response(body: Mapping[str, object], status: int = 200) -> Response:
    response = Response(status=status, json_body=body)
    # token answers must not be cached anywhere (RFC 6749 §5.1)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def read_form(request: Request, known: frozenset[str]) -> dict[str, str]:
    """The ``known`` fields of the body, one value each; :class:`OAuthError` for
    anything else. Other fields are ignored, as OAuth says, repeated or not.

    The body is parsed here, strictly: a form's bytes must be ASCII and what they
    encode UTF-8 (WebOb would quietly replace what is not)."""
    if request.content_type != FORM_TYPE:
        raise OAuthError("invalid_request", f"Send the fields as {FORM_TYPE}.")
    if (request.content_length or 0) > MAX_BODY:
        raise OAuthError("invalid_request", "The request body is too large.")
    body = request.body_file.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise OAuthError("invalid_request", "The request body is too large.")
    try:
        pairs = parse_qsl(
            body.decode("ascii"), keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "The request body is not valid UTF-8.") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name not in known:
            continue
        if name in fields:
            raise OAuthError("invalid_request", f"{name} is given more than once.")
        fields[name] = value
    return fields


def text_field(fields: dict[str, str], name: str, *, required: bool = False) -> str:
    """A printable one-line value of at most 200 characters."""
    value = fields.get(name, "").strip()
    if required and not value:
        raise OAuthError("invalid_request", f"{name} is required.")
    if len(value) > 200:
        raise OAuthError("invalid_request", f"{name} is longer than 200 characters.")
    if not value.isprintable():
        raise OAuthError("invalid_request", f"{name} contains control characters.")
    return value


def client_id(request: Request, fields: dict[str, str]) -> str:
    """The client's name: from the body, or from HTTP Basic authentication, which some
    client libraries use by default (camauth issues no client secrets; any password
    sent is ignored)."""
    in_body = fields.get("client_id", "")
    in_header = _basic_username(request)
    if in_body and in_header is not None and in_header != in_body:
        raise OAuthError("invalid_request", "client_id differs between body and header.")
    fields = {**fields, "client_id": in_body or in_header or ""}
    try:
        return text_field(fields, "client_id", required=True)
    except OAuthError as error:
        raise OAuthError("invalid_client", error.message) from None


def _basic_username(request: Request) -> str | None:
    scheme, _, encoded = request.environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip().encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise OAuthError("invalid_client", "The Basic authorization header is malformed.") from None
    # the client id is form-encoded inside the header (RFC 6749 §2.3.1)
    return unquote_plus(decoded.partition(":")[0])
