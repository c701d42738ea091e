"""The stand-alone application's home page is the account centre (a host
application has a home page of its own)."""

from __future__ import annotations

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ..security import VIEW
from .account_centre import account_centre_page


@view_config(route_name="camauth.home", request_method="GET", permission=VIEW)
def home(request: Request) -> Response:
    return account_centre_page(request)
