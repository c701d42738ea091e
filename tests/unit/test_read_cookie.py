"""camauth reads its own cookies without WebOb's full parser; it must agree with it."""

from __future__ import annotations

import pytest
from pyramid.request import Request

from camauth.web.session import read_cookie


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
