"""``/admin``: the dashboard."""

from __future__ import annotations

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ....services import device_login, directory, lockout_report, sessions
from ...charts import failures_chart
from ...security import ADMIN
from .common import admin_page

LOCKED_SHOWN = 10


@view_config(route_name="camauth.admin", request_method="GET", permission=ADMIN)
def dashboard(request: Request) -> Response:
    ctx = request.camauth
    locked, locked_total = lockout_report.locked_now(ctx, limit=LOCKED_SHOWN)
    return admin_page(
        request,
        "dashboard.html",
        "dashboard",
        by_status=directory.users_by_status(ctx),
        locked=locked,
        locked_total=locked_total,
        throttled=lockout_report.throttled_ips(ctx),
        live_sessions=sessions.count_live_sessions(ctx),
        chart=failures_chart(lockout_report.failures_per_hour(ctx)),
        reports=device_login.recent_reports(ctx),
    )
