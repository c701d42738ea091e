"""Building a service :class:`Context` from a request."""

from __future__ import annotations

import logging
from dataclasses import replace

from pyramid.registry import Registry
from pyramid.request import Request
from sqlalchemy.exc import SQLAlchemyError

from ..clock import Clock
from ..services import housekeeping
from ..services.context import Context, Origin
from ..services.passwords import Passwords
from ..settings import Settings

ANONYMOUS = ""


def app_settings(registry: Registry) -> Settings:
    settings: Settings = registry["camauth.settings"]
    return settings


def request_origin(request: Request, actor_id: int | None, actor_name: str) -> Origin:
    return Origin(
        actor_id=actor_id,
        actor_name=actor_name,
        # REMOTE_ADDR, never X-Forwarded-For read here: the server (waitress with
        # trusted_proxy) decides whom to believe; a client could forge the header
        ip=(request.remote_addr or "")[:45],
        user_agent=(request.user_agent or "")[:500],
    )


def anonymous_context(request: Request) -> Context:
    """A service context acting as nobody (before login, or for session bookkeeping)."""
    registry = request.registry
    clock: Clock = registry["camauth.clock"]
    passwords: Passwords = registry["camauth.passwords"]
    return Context(
        db=request.dbsession,
        settings=app_settings(registry),
        clock=clock,
        passwords=passwords,
        origin=request_origin(request, None, ANONYMOUS),
        permissions=registry.get("camauth.permissions"),
    )


def service_context(request: Request) -> Context:
    """``request.camauth``: the context for service calls, acting as the logged-in user."""
    ctx = anonymous_context(request)
    user = request.user
    return ctx.acting_as(user.id, user.username) if user is not None else ctx


log = logging.getLogger(__name__)


def housekeeping_if_due(request: Request) -> None:
    """Opportunistic ``cleanup``, in a transaction of its own.

    Not in the request's transaction: a failed cleanup must not roll back the
    login failure being recorded, and the request must hold no lock row that the
    cleanup would wait for.
    """
    registry = request.registry
    if not housekeeping.due(registry, registry["camauth.clock"]()):
        return  # the usual case: no ORM session to open and close
    factory = registry["camauth.dbsession_factory"]
    with factory() as dbsession:
        ctx = replace(anonymous_context(request), db=dbsession)
        try:
            housekeeping.cleanup_if_due(ctx, request.registry)
            dbsession.commit()
        except SQLAlchemyError:
            log.exception("opportunistic cleanup failed; it is tried again later")
            dbsession.rollback()
