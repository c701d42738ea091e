"""The session factory: which stored session, if any, a request's cookie or bearer
token names (``web/session.py`` is the session itself)."""

from __future__ import annotations

from pyramid.request import Request
from sqlalchemy import inspect

from ..models import SessionKind, User
from ..services import sessions
from ..services.session_lookup import SessionLookup, SessionRecord
from .bearer import bearer_token
from .context import anonymous_context, app_settings
from .cookies import read_cookie
from .session import MAX_TOKEN_LENGTH, SESSION_COOKIE, DatabaseSession
from .transactions import LAZY_TRANSACTION


def _find_live_session(
    request: Request, token: str, kind: SessionKind
) -> tuple[SessionRecord, User | None] | None:
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    lookup: SessionLookup = request.registry["camauth.session_lookup"]
    found = lookup.find(sessions.token_digest(token))
    if found is None:
        return None
    record, user = found
    if record.kind != kind:
        # a cookie's token is not a bearer token, nor the other way round
        return None
    refused = sessions.refusal(
        app_settings(request.registry),
        request.registry["camauth.clock"](),
        created_at=record.created_at,
        last_seen_at=record.last_seen_at,
        session_ip=record.ip,
        ip=request.remote_addr or "",
        user=user,
        kind=record.kind,
    )
    if refused is None:
        return record, user
    if refused.row_is_dead:
        sessions.delete_session(anonymous_context(request), record.id)
    return None


def _bearer_session(request: Request, token: str, cookie: str | None) -> DatabaseSession:
    if cookie is not None:
        session = DatabaseSession(request, bearer=True)
        session.conflicting_credentials = True
        return session
    found = _find_live_session(request, token, SessionKind.API) if token else None
    return (
        DatabaseSession(request, *found, bearer=True)
        if found
        else DatabaseSession(request, bearer=True)
    )


def session_factory(request: Request) -> DatabaseSession:
    token = read_cookie(request, app_settings(request.registry).cookie_prefix + SESSION_COOKIE)
    bearer = bearer_token(request)
    if bearer is not None:
        session = _bearer_session(request, bearer, token)
    else:
        found = _find_live_session(request, token, SessionKind.BROWSER) if token else None
        session = DatabaseSession(request, *found) if found else DatabaseSession(request)
        if token and found is None:
            session.drop_cookie()
    if session.user is not None and "dbsession" in request.__dict__:
        # An ORM session already exists (and may hold this user already, loaded by
        # a query): use its instance, so there is one User per request and changes
        # to request.user are saved. No query either way.
        dbsession = request.dbsession
        already = dbsession.identity_map.get(inspect(session.user).key)
        if already is not None:
            session.user = already  # keeps any unsaved change made to it
        else:
            dbsession.add(session.user)
    # with the lazy transaction tween in charge, it joins the session at the end
    if request.environ.get(LAZY_TRANSACTION) is not request:
        session.join_transaction(request.tm.get())
    return session
