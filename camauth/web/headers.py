"""Security headers on every response, and a cap on request bodies."""

from __future__ import annotations

from collections.abc import Callable

from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response

MAX_BODY_BYTES = 1024 * 1024
STATIC_PREFIXES = ("/camauth_static/", "/deform_static/")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

_SECURITY_HEADER_ITEMS = list(SECURITY_HEADERS.items())
Handler = Callable[[Request], Response]


def security_headers_tween_factory(handler: Handler, registry: Registry) -> Handler:
    def security_headers_tween(request: Request) -> Response:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            response = Response("The request is too large.", status=413, content_type="text/plain")
        else:
            response = handler(request)
        # the header list itself, not response.headers: the multidict view costs
        # several times as much, on every response
        headerlist = response.headerlist
        present = {name.lower() for name, _ in headerlist}
        headerlist.extend(item for item in _SECURITY_HEADER_ITEMS if item[0].lower() not in present)
        # static assets may be cached; pages (which may show personal data) may not.
        # The raw WSGI path: request.path_info raises on a path that is not UTF-8.
        if not request.environ.get("PATH_INFO", "").startswith(STATIC_PREFIXES):
            if "cache-control" in present:
                headerlist[:] = [item for item in headerlist if item[0].lower() != "cache-control"]
            headerlist.append(("Cache-Control", "no-store"))
        return response

    return security_headers_tween
