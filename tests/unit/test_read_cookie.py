"""camauth reads and writes its own cookies without WebOb's general machinery; it
must agree with it."""

from __future__ import annotations

import secrets

import pytest
from pyramid.request import Request
from pyramid.response import Response

from camauth.web.cookies import read_cookie, set_cookie


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", None),
        ("camauth_session=abc", "abc"),
        ("other=1; camauth_session=abc; more=2", "abc"),
        ("xcamauth_session=evil; camauth_session_old=evil", None),  # names that merely contain it
        ("camauth_session=first; camauth_session=second", "first"),
        ('camauth_session="quoted"', "quoted"),
        ("camauth_session", None),  # no "=": not a cookie
        ("camauth_session=", ""),
    ],
)
def test_read_cookie(header: str, expected: str | None) -> None:
    request = Request.blank("/", headers={"Cookie": header} if header else {})
    assert read_cookie(request, "camauth_session") == expected


@pytest.mark.parametrize("secure", [True, False])
@pytest.mark.parametrize("value", [secrets.token_urlsafe(32), "a", "v1.2", "x:y"])
def test_set_cookie_writes_what_webob_would(value, secure):
    ours, webobs = Response(), Response()
    set_cookie(ours, "__Host-camauth_csrf", value, secure)
    webobs.set_cookie(
        "__Host-camauth_csrf", value, path="/", secure=secure, httponly=True, samesite="Lax"
    )
    assert ours.headers.getall("Set-Cookie") == webobs.headers.getall("Set-Cookie")
