"""pyramid_retry's activate hook: a request without a body made ready for retries.

To send a request through again, pyramid_retry first makes its body seekable
(WebOb's ``make_body_seekable``). For a request with no body (a page view) WebOb
gets there through a dozen properties, which costs as much as a bare Pyramid
page. This hook does the same for such a request directly: an empty seekable
body and a ``Content-Length`` of 0, exactly what WebOb leaves, so that
pyramid_retry then only rewinds it. Requests with a body are left to WebOb.
"""

from __future__ import annotations

import io

from pyramid.request import Request


def empty_body_made_seekable(request: Request) -> None:
    """Returns None: the number of attempts stays ``retry.attempts``."""
    environ = request.environ
    if environ.get("CONTENT_LENGTH", "0") not in ("", "0"):
        return  # a body: WebOb copies it
    if environ.get("webob.is_body_seekable") or environ.get(
        "wsgi.input_terminated", environ.get("webob.is_body_readable")
    ):
        return  # already seekable, or a body of unknown length (chunked)
    environ["CONTENT_LENGTH"] = "0"
    environ["wsgi.input"] = io.BytesIO(b"")
    environ["webob.is_body_seekable"] = True
