"""``/healthz`` for load balancers and monitoring."""

from __future__ import annotations

from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError


@view_config(route_name="camauth.healthz", request_method="GET", renderer="json")
def healthz(request: Request) -> dict[str, str]:
    engine: Engine = request.registry["camauth.engine"]
    # its own connection, outside the request transaction: a failure here must
    # not poison anything else, and the check must not start a session
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        request.response.status = 503
        return {"status": "unavailable", "database": "unreachable"}
    return {"status": "ok", "database": "ok"}
