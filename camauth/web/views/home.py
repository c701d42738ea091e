"""The stand-alone application's home page (a host application has its own)."""

from __future__ import annotations

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ..rendering import render_page
from ..security import VIEW


@view_config(route_name="camauth.home", request_method="GET", permission=VIEW)
def home(request: Request) -> Response:
    return render_page(request, "home.html")
