"""Times as the viewer reads them: in the person's own zone (profile), else the
site's (``camauth.timezone``); UTC always on hover, in the ``<time>`` element's
``title``, so a time quoted to an administrator is never ambiguous."""

from __future__ import annotations

from datetime import datetime

from markupsafe import Markup, escape
from pyramid.request import Request
from pyramid.threadlocal import get_current_request

from ..time_zones import UTC_NAME, local
from .context import app_settings

FORMAT = "%Y-%m-%d %H:%M"


def viewer_zone(request: Request | None) -> str:
    """The zone name for this request's pages."""
    if request is None:
        return UTC_NAME
    # only a user already loaded for this page: showing a time must not be what
    # makes a public page read the session
    user = request.__dict__.get("user")
    own = getattr(user, "time_zone", "") if user is not None else ""
    return own or app_settings(request.registry).timezone


def wall_clock(moment: datetime, zone_name: str) -> str:
    """``2026-12-05 13:34 CET``: the zone always said, so a time read aloud to an
    administrator in another zone is never ambiguous."""
    shown = local(moment, zone_name)
    return f"{shown.strftime(FORMAT)} {shown.tzname() or zone_name}"


def time_element(moment: datetime) -> Markup:
    """A ``<time>`` for the current request's viewer (a Jinja global: macros
    imported without context still reach the request through Pyramid's thread
    local, which the router sets for every request)."""
    zone_name = viewer_zone(get_current_request())
    utc = moment.strftime(FORMAT) + " UTC"
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        moment.isoformat(), utc, escape(wall_clock(moment, zone_name))
    )
