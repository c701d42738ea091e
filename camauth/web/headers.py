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

# (lower-case name, header) for the check against the response's own headers
_SECURITY_HEADER_ITEMS = [(name.lower(), (name, value)) for name, value in SECURITY_HEADERS.items()]
Handler = Callable[[Request], Response]


def _content_length(request: Request) -> int:
    """The declared body length (0 when absent or unreadable, as WebOb reads it),
    from the environ: WebOb's property costs more than the rest of this tween."""
    try:
        return int(request.environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def security_headers_tween_factory(handler: Handler, registry: Registry) -> Handler:
    def security_headers_tween(request: Request) -> Response:
        if _content_length(request) > MAX_BODY_BYTES:
            response = Response("The request is too large.", status=413, content_type="text/plain")
        else:
            response = handler(request)
        # the header list itself, not response.headers: the multidict view costs
        # several times as much, on every response
        headerlist = response.headerlist
        present = {name.lower() for name, _ in headerlist}
        headerlist.extend(header for name, header in _SECURITY_HEADER_ITEMS if name not in present)
        # static assets may be cached; pages (which may show personal data) may not.
        # The raw WSGI path: request.path_info raises on a path that is not UTF-8.
        if not request.environ.get("PATH_INFO", "").startswith(STATIC_PREFIXES):
            if "cache-control" in present:
                headerlist[:] = [item for item in headerlist if item[0].lower() != "cache-control"]
            headerlist.append(("Cache-Control", "no-store"))
        return response

    return security_headers_tween
