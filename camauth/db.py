"""Engine, ORM sessions, and their wiring into Pyramid's request transaction.

One request is one transaction (pyramid_tm + zope.sqlalchemy); pyramid_retry
re-runs a request whose transaction hit a transient conflict.
"""

from __future__ import annotations

from typing import Any

import transaction
import zope.sqlalchemy
from pyramid.config import Configurator
from pyramid.request import Request
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from .settings import database_url


def make_engine(url: str, **kwargs: Any) -> Engine:
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
    return engine


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # foreign keys: ON DELETE CASCADE must work as on PostgreSQL;
    # WAL + busy timeout: readers do not block the writer in development.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: objects stay readable after the request commits
    # (response callbacks and templates rendered late must not hit the database).
    return sessionmaker(bind=engine, expire_on_commit=False)


def tm_session(factory: sessionmaker[Session], manager: transaction.TransactionManager) -> Session:
    """An ORM session joined to ``manager``: it commits or aborts with the transaction."""
    dbsession = factory()
    zope.sqlalchemy.register(dbsession, transaction_manager=manager)
    return dbsession


def _request_dbsession(request: Request) -> Session:
    factory = request.registry["camauth.dbsession_factory"]
    return tm_session(factory, request.tm)


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    settings.setdefault("tm.manager_hook", "pyramid_tm.explicit_manager")
    # annotating the transaction with the user would load the user on every request
    settings.setdefault("tm.annotate_user", "false")
    settings.setdefault("retry.attempts", "3")
    config.include("pyramid_tm")
    config.include("pyramid_retry")
    if "camauth.engine" not in config.registry:
        # No pool_pre_ping: it costs a round trip per request. A connection broken by a
        # database restart fails one request (503) and SQLAlchemy then discards the pool.
        engine = make_engine(database_url(settings))
        config.registry["camauth.engine"] = engine
    config.registry["camauth.dbsession_factory"] = make_session_factory(
        config.registry["camauth.engine"]
    )
    config.add_request_method(_request_dbsession, "dbsession", reify=True)
