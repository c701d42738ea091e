"""``/admin/audit``: the audit log, filtered by user, event and time, a page at a
time; ``/admin/audit.csv`` exports every row the filter matches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ....services import audit, audit_search
from ....services.audit import Event
from ....services.audit_search import EVENT_NAMES, AuditFilter, AuditFilterError
from ....services.context import Context
from ...security import ADMIN
from .common import admin_page, cursor_from, paging_links

LIST = "camauth.admin.audit"
CSV_ROUTE = "camauth.admin.audit.csv"
FILTER_FIELDS = ("user", "event", "since", "until")
FLUSH_EVERY = 500  # CSV rows per chunk sent


def _moment(text: str, label: str) -> datetime | None:
    """A time typed in the filter (``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM``), in UTC."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset past the year 1 or 9999
        raise AuditFilterError(
            f"{label}: enter a date and time such as 2026-11-23T14:30."
        ) from None


def _criteria(query: dict[str, str]) -> AuditFilter:
    """The filter the query asks for; AuditFilterError says what is wrong with it."""
    return AuditFilter(
        username=query["user"].strip(),
        event=query["event"],
        since=_moment(query["since"], "From"),
        until=_moment(query["until"], "Until"),
    )


def _query(request: Request) -> dict[str, str]:
    return {name: request.GET.get(name, "") for name in FILTER_FIELDS}


def _audit_page(
    request: Request, query: dict[str, str], status: int = 200, **values: Any
) -> Response:
    return admin_page(
        request, "audit.html", "audit", status, query=query, events=EVENT_NAMES, **values
    )


@view_config(route_name=LIST, request_method="GET", permission=ADMIN)
def audit_page(request: Request) -> Response:
    query = _query(request)
    try:
        criteria = _criteria(query)
    except AuditFilterError as error:
        # the filter form again, as typed, with what is wrong with it
        return _audit_page(request, query, 400, error=str(error), page=None)
    cursor = cursor_from(request, audit_search.CURSOR_TYPES)
    page = audit_search.search(request.camauth, criteria, cursor)
    kept = {key: value for key, value in query.items() if value}
    return _audit_page(
        request,
        query,
        page=page,
        error="",
        pages=paging_links(request, LIST, page, query),
        csv_url=request.route_path(CSV_ROUTE, _query=kept),
    )


@view_config(route_name=CSV_ROUTE, request_method="GET", permission=ADMIN)
def audit_csv(request: Request) -> Response:
    query = _query(request)
    try:
        criteria = _criteria(query)
    except AuditFilterError as error:
        return _audit_page(request, query, 400, error=str(error), page=None)
    ctx = request.camauth
    # who took a copy of the log, and of what, is itself a security event
    details = {key: value for key, value in query.items() if value}
    audit.record(ctx, Event.AUDIT_EXPORTED, details=details)
    stamp = ctx.clock().strftime("%Y%m%d-%H%M")
    response = Response(
        app_iter=_csv_chunks(request, ctx, criteria),
        content_type="text/csv",
        charset="utf-8",
    )
    response.content_disposition = f'attachment; filename="camauth-audit-{stamp}.csv"'
    return response


def _csv_chunks(request: Request, ctx: Context, criteria: AuditFilter) -> Iterator[bytes]:
    """The CSV, written while it is sent: rows are read in batches on a database
    session of their own (the request's has committed by then), so a million rows
    need no more memory than a thousand."""
    factory = request.registry["camauth.dbsession_factory"]
    with factory() as dbsession:
        for text in audit_search.export_csv(replace(ctx, db=dbsession), criteria, FLUSH_EVERY):
            yield text.encode("utf-8")
