"""A small host application that declares permissions both ways and protects its
views with them, for ``test_permissions.py`` and the command line's tests (an ini
names it with ``use = call:tests.hostapp.reports_app:main``).

- ``reports.view``, ``reports.export`` and ``trial.sign`` are declared in code
  (``config.add_camauth_permission``); ``trial.read`` comes from the
  ``camauth.permissions`` setting (``SETTING``) the tests put in the ini;
- ``/reports`` needs ``reports.view``; ``/reports/both`` needs ``camauth.view``
  and asks for each permission five times in the view (many checks, one
  holdings query); ``/reports/plain`` needs only ``camauth.view``;
- ``/trials/{name}`` is a context whose ACL allows ``trial.read`` to
  ``group:trial-NAME``, and ``/trials/{name}/sign`` ``trial.sign`` to ``role:signer``;
- ``/whoami`` (logged in, even owing an action) shows ``request.camauth_permissions``,
  the principals and the groups administered.
"""

from __future__ import annotations

from typing import Any

from pyramid.authorization import Allow
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from pyramid.router import Router

from camauth.web.security import SIGNED_IN, VIEW

# what the host's code declares; the ini's setting adds trial.read
CODE_PERMISSIONS = {
    "reports.view": "See reports",
    "reports.export": "Export reports",
    "trial.sign": "Sign a trial's documents",
}
SETTING = "\ntrial.read = Read a trial's records"
CHECKS = ("reports.view", "reports.export", "trial.read", "trial.sign")


def reports(request: Request) -> Response:
    return Response(f"Reports for {request.user.username}", content_type="text/plain")


def many_checks(request: Request) -> Response:
    # a view asking again and again: one holdings query all the same
    allowed = [name for name in CHECKS for _ in range(5) if request.has_permission(name)]
    held = sorted(set(allowed))
    return Response(" ".join(held) or "-", content_type="text/plain")


def plain(request: Request) -> Response:
    return Response(f"Plain page for {request.user.username}", content_type="text/plain")


def whoami(request: Request) -> Response:
    holdings = request.camauth_holdings
    return Response(
        json_body={
            "permissions": sorted(request.camauth_permissions),
            "principals": holdings.principals(),
            "administered_groups": sorted(holdings.administered_groups),
        }
    )


class Trial:
    """A trial's records: readable by the trial's group, signed by the role ``signer``."""

    def __init__(self, request: Request) -> None:
        self.name = request.matchdict["name"]
        self.__acl__ = [
            (Allow, f"group:trial-{self.name}", "trial.read"),
            (Allow, "role:signer", "trial.sign"),
        ]


def trial_records(context: Trial, request: Request) -> Response:
    return Response(f"Records of trial {context.name}", content_type="text/plain")


def trial_sign(context: Trial, request: Request) -> Response:
    return Response(f"Signed trial {context.name}", content_type="text/plain")


def includeme(config: Configurator) -> None:
    config.include("camauth")
    for name, description in CODE_PERMISSIONS.items():
        config.add_camauth_permission(name, description)
    config.add_route("reports", "/reports")
    config.add_view(reports, route_name="reports", permission="reports.view")
    config.add_route("reports.both", "/reports/both")
    config.add_view(many_checks, route_name="reports.both", permission=VIEW)
    config.add_route("reports.plain", "/reports/plain")
    config.add_view(plain, route_name="reports.plain", permission=VIEW)
    config.add_route("whoami", "/whoami")
    config.add_view(whoami, route_name="whoami", permission=SIGNED_IN)
    config.add_route("trial", "/trials/{name}", factory=Trial)
    config.add_view(trial_records, route_name="trial", permission="trial.read")
    config.add_route("trial.sign", "/trials/{name}/sign", factory=Trial)
    config.add_view(trial_sign, route_name="trial.sign", permission="trial.sign")


def make_app(settings: dict[str, Any], clock: Any = None) -> Router:
    config = Configurator(settings=settings)
    if clock is not None:
        config.registry["camauth.clock"] = clock
    config.include(includeme)
    return config.make_wsgi_app()


def main(global_config: dict[str, Any], **settings: Any) -> Router:
    """The paste app factory an ini names."""
    return make_app(settings)
