"""With ``camauth.public_url`` set, every request is taken to have come to that
address, whatever ``Host`` (or forwarded host) it carries.

A client chooses the Host it sends. Left alone, WebOb makes redirects absolute
on it and Pyramid builds URLs from it, so a request with a forged Host would be
answered with links and redirects to another site. Rewriting the WSGI
environment before anything reads it makes route URLs, absolute ``Location``
headers and Pyramid's Origin check all use the configured address.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response

from .context import app_settings

Handler = Callable[[Request], Response]
DEFAULT_PORTS = {"http": 80, "https": 443}


def public_origin_tween_factory(handler: Handler, registry: Registry) -> Handler:
    origin = app_settings(registry).public_url
    if not origin:
        return handler  # development: the request's own host is all there is
    parts = urlsplit(origin)
    scheme, host = parts.scheme, parts.netloc
    assert parts.hostname is not None  # settings accept only scheme://host[:port]
    server_name = parts.hostname
    server_port = str(parts.port or DEFAULT_PORTS[scheme])

    def public_origin_tween(request: Request) -> Response:
        environ = request.environ
        environ["wsgi.url_scheme"] = scheme
        environ["HTTP_HOST"] = host
        environ["SERVER_NAME"] = server_name
        environ["SERVER_PORT"] = server_port
        return handler(request)

    return public_origin_tween
