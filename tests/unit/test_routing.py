"""The indexed routes mapper picks exactly the route Pyramid's own would, trying
only the routes whose first segment can match."""

from __future__ import annotations

from typing import Any

import pytest
from pyramid.request import Request
from pyramid.urldispatch import RoutesMapper

from camauth.web.routing import IndexedRoutesMapper, literal_first_segment

PATTERNS = [
    ("root", "/"),
    ("catch_id", "/{anything}/edit"),  # not literal: tried for every path, in order
    ("login", "/login"),
    ("login_two", "/login/two-factor"),
    ("account", "/account"),
    ("account_session", r"/account/sessions/{id:\d{1,10}}/end"),
    ("old_style", "/users/:name"),
    ("static", "camauth_static/*subpath"),
    ("cafe", "/café/menu"),
    ("prefix_star", "/files*rest"),
    ("late_login", "/login"),  # shadowed by the first /login
]

PATHS = [
    "/",
    "",
    "/login",
    "/login/",
    "/login/two-factor",
    "/account",
    "/account/edit",
    "/account/sessions/12/end",
    "/account/sessions/x/end",
    "/users/alice",
    "/users",
    "/camauth_static/app.css",
    "/café/menu",
    "/files/a/b",
    "/filesystem",
    "//login",
    "/nothing/here",
    "/x/edit",
]


def mappers() -> tuple[RoutesMapper, IndexedRoutesMapper]:
    plain, indexed = RoutesMapper(), IndexedRoutesMapper()
    for name, pattern in PATTERNS:
        plain.connect(name, pattern)
        indexed.connect(name, pattern)
    return plain, indexed


def name_of(info: dict[str, Any]) -> tuple[str | None, Any]:
    route = info["route"]
    return (route.name if route is not None else None, info["match"])


@pytest.mark.parametrize("path", PATHS)
def test_the_same_route_wins_as_with_pyramids_mapper(path):
    plain, indexed = mappers()
    request = Request.blank("/")
    request.path_info = path
    assert name_of(indexed(request)) == name_of(plain(request))


def test_a_path_tries_only_the_routes_that_can_match_it():
    _, indexed = mappers()
    tried: list[str] = []
    for route in indexed.routelist:
        match = route.match

        def counting(path: str, match: Any = match, name: str = route.name) -> Any:
            tried.append(name)
            return match(path)

        route.match = counting
    request = Request.blank("/account/sessions/3/end")
    assert name_of(indexed(request))[0] == "account_session"
    assert tried == ["catch_id", "account", "account_session"]


def test_a_route_added_later_is_matched():
    _, indexed = mappers()
    assert indexed(Request.blank("/reports"))["route"] is None
    indexed.connect("reports", "/reports")
    assert indexed(Request.blank("/reports"))["route"].name == "reports"


@pytest.mark.parametrize(
    ("pattern", "segment"),
    [
        ("/login", "login"),
        ("login/x", "login"),
        ("/", ""),
        ("", ""),
        ("/{id}", None),
        ("/x{id}/y", None),
        ("/*rest", None),
        ("/a:b", None),
    ],
)
def test_literal_first_segment(pattern, segment):
    assert literal_first_segment(pattern) == segment
