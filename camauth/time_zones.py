"""Time zones for the times pages show: a person's own, else the site's
(``camauth.timezone``), else UTC. Times are stored and compared in UTC; only
display converts."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

UTC_NAME = "UTC"


@cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name this machine knows, sorted: the profile's choices.
    The legacy aliases ("US/Eastern", "posixrules") are left out of the list but
    still accepted when typed in a setting."""
    names = {
        name
        for name in available_timezones()
        if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/", "posix/", "right/"))
    }
    return tuple(sorted(names | {UTC_NAME}))


@cache
def zone(name: str) -> ZoneInfo | None:
    """The zone called ``name``, or None if there is none by that name."""
    if not name or len(name) > 64 or not name.isascii() or ".." in name or name.startswith("/"):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local(moment: datetime, name: str) -> datetime:
    """``moment`` (aware, UTC) as the wall clock reads in zone ``name``."""
    found = zone(name)
    return moment.astimezone(found) if found is not None else moment
