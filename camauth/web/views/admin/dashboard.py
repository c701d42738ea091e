"""``/admin``: the dashboard."""

from __future__ import annotations

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ....services import device_login, directory, lockout_report, sessions
from ....services.lockout_report import Bucket
from ...charts import failures_chart
from ...local_times import viewer_zone
from ...security import ADMIN
from .common import admin_page

LOCKED_SHOWN = 10


def _audit_of(request: Request, bucket: Bucket) -> str:
    """The audit log filtered to one bar's failed logins."""
    query = {
        "event": "login_failure",
        "since": f"{bucket.start:%Y-%m-%dT%H:%M}",
        "until": f"{bucket.end:%Y-%m-%dT%H:%M}",
    }
    url: str = request.route_path("camauth.admin.audit", _query=query)
    return url


@view_config(route_name="camauth.admin", request_method="GET", permission=ADMIN)
def dashboard(request: Request) -> Response:
    ctx = request.camauth
    period = request.GET.get("period", "24h")
    if period not in lockout_report.PERIODS:
        period = "24h"  # an unknown choice (an old or edited link): the default
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
        chart=failures_chart(
            lockout_report.failures_over(ctx, period),
            period,
            lambda bucket: _audit_of(request, bucket),
            viewer_zone(request),
        ),
        reports=device_login.recent_reports(ctx),
    )
