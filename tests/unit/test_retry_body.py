"""pyramid_retry's activate hook readies a request without a body as WebOb would
(web/retry_body.py), and leaves a request with a body to WebOb."""

from __future__ import annotations

import io

from pyramid.request import Request

from camauth.web.retry_body import empty_body_made_seekable


def _readied_by_webob(environ: dict) -> dict:
    request = Request(dict(environ))
    request.make_body_seekable()
    return request.environ


def test_a_request_without_a_body_ends_as_webob_leaves_it() -> None:
    for extra in ({}, {"CONTENT_LENGTH": ""}, {"CONTENT_LENGTH": "0"}):
        environ = Request.blank("/page").environ
        environ.pop("CONTENT_LENGTH", None)
        environ.update(extra)
        request = Request(dict(environ))
        empty_body_made_seekable(request)
        expected = _readied_by_webob(environ)
        request.make_body_seekable()  # what pyramid_retry does next: now only a rewind
        assert request.environ["CONTENT_LENGTH"] == expected["CONTENT_LENGTH"] == "0"
        assert request.environ["webob.is_body_seekable"] is True
        assert request.body == b""
        assert request.content_length == 0


def test_a_request_with_a_body_is_left_to_webob() -> None:
    request = Request.blank("/form", method="POST", POST={"name": "ann"})
    body = request.body
    request.environ["webob.is_body_seekable"] = False
    request.environ["wsgi.input"] = io.BytesIO(body)
    before = dict(request.environ)
    empty_body_made_seekable(request)
    assert request.environ == before
    request.make_body_seekable()
    assert request.body == body  # WebOb copied it, and it reads the same twice
    assert request.body == body


def test_a_chunked_body_of_unknown_length_is_left_to_webob() -> None:
    environ = Request.blank("/upload", method="POST").environ
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = io.BytesIO(b"chunked data")
    environ["wsgi.input_terminated"] = True
    request = Request(environ)
    empty_body_made_seekable(request)
    assert "CONTENT_LENGTH" not in request.environ
    request.make_body_seekable()
    assert request.body == b"chunked data"
