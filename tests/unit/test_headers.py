"""The security-headers tween reads the declared body length as WebOb does."""

from __future__ import annotations

import pytest
from pyramid.request import Request

from camauth.web.headers import _content_length


@pytest.mark.parametrize(
    ("declared", "expected"),
    [(None, 0), ("", 0), ("0", 0), ("1048577", 1048577), ("abc", 0), ("-5", -5)],
)
def test_content_length_matches_webob(declared, expected):
    request = Request.blank("/", method="POST")
    request.environ.pop("CONTENT_LENGTH", None)
    if declared is not None:
        request.environ["CONTENT_LENGTH"] = declared
    assert _content_length(request) == expected == (request.content_length or 0)
