"""The JSON API under ``/api/v1``, for tools holding an API session's bearer token.

Every answer is JSON, errors included (``{"error", "message"}``, see
``web/json_errors.py``); ``/api/v1/openapi.json`` describes all of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...models import WebSession
from ...services import sessions
from ..context import app_settings
from ..json_errors import json_error
from ..openapi import openapi_document
from ..security import API

ME = "camauth.api.me"
SESSIONS = "camauth.api.sessions"
SESSION_BY_ID = "camauth.api.session_by_id"
THIS_SESSION = "camauth.api.this_session"
OPENAPI = "camauth.api.openapi"
MAX_ID = 2**31 - 1


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _expiry(request: Request, row_kind: str, created: datetime, last_seen: datetime) -> str:
    settings = app_settings(request.registry)
    return timestamp(
        sessions.expires_at(settings, kind=row_kind, created_at=created, last_seen_at=last_seen)
    )


@view_config(route_name=ME, request_method="GET", permission=API, renderer="json")
def me(request: Request) -> dict[str, Any]:
    user, record = request.user, request.session.record
    return {
        "username": user.username,
        "full_name": user.full_name,
        "email": user.email,
        "scopes": record.scope.split(),
        "session": {
            "id": record.id,
            "created_at": timestamp(record.created_at),
            "expires_at": _expiry(request, record.kind, record.created_at, record.last_seen_at),
        },
    }


def _session_json(request: Request, row: WebSession, current_id: int | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "current": row.id == current_id,
        "client_id": row.client_id,
        "hostname": row.hostname,
        "scope": row.scope,
        "ip": row.ip,
        "user_agent": row.user_agent,
        "created_at": timestamp(row.created_at),
        "last_seen_at": timestamp(row.last_seen_at),
        "expires_at": _expiry(request, row.kind, row.created_at, row.last_seen_at),
    }


@view_config(route_name=SESSIONS, request_method="GET", permission=API, renderer="json")
def my_sessions(request: Request) -> dict[str, Any]:
    current_id = request.session.session_id
    rows = sessions.live_sessions(request.camauth, request.user)
    return {"sessions": [_session_json(request, row, current_id) for row in rows]}


@view_config(route_name=SESSION_BY_ID, request_method="DELETE", permission=API)
def end_session_by_id(request: Request) -> Response:
    raw = request.matchdict["id"]
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_ID:
        return json_error(400, "The session id must be a whole number.")
    session_id = int(raw)
    if session_id == request.session.session_id:
        return end_this_session(request)
    ended = sessions.end_own_session(
        request.camauth, request.user, session_id, current_id=request.session.session_id
    )
    if not ended:
        return json_error(404, "You have no live session with this id.")
    return Response(status=204)


@view_config(route_name=THIS_SESSION, request_method="DELETE", permission=API)
def end_this_session(request: Request) -> Response:
    """The tool logs out: its token stops working now."""
    row = request.dbsession.get(WebSession, request.session.session_id)
    if row is not None:
        sessions.end_session(request.camauth, row, reason="ended_by_owner")
    return Response(status=204)


@view_config(route_name=OPENAPI, request_method="GET", renderer="json")
def openapi(request: Request) -> dict[str, Any]:
    return openapi_document(request.application_url)
