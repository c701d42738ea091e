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

from .services.context import MARK_WRITTEN
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
    # in WAL mode NORMAL cannot corrupt the database; it only drops the fsync per
    # commit (a power cut may lose the last transactions, not the file)
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: objects stay readable after the request commits
    # (response callbacks and templates rendered late must not hit the database).
    return sessionmaker(bind=engine, expire_on_commit=False)


def tm_session(factory: sessionmaker[Session], manager: transaction.TransactionManager) -> Session:
    """An ORM session joined to ``manager``: it commits or aborts with the transaction."""
    dbsession = factory()
    joined = zope.sqlalchemy.register(dbsession, transaction_manager=manager)
    dbsession.info[MARK_WRITTEN] = joined.mark_changed
    return dbsession


def _request_dbsession(request: Request) -> Session:
    if request.tm is transaction.manager:
        # the common case: sessions from this factory join the thread-local
        # manager through listeners registered once at start-up
        factory: sessionmaker[Session] = request.registry["camauth.request_dbsession_factory"]
        dbsession = factory()
    else:
        # a host application chose its own transaction manager: join it per request
        # (registering zope.sqlalchemy's listeners costs a few hundred microseconds)
        dbsession = tm_session(request.registry["camauth.dbsession_factory"], request.tm)
    # The logged-in user was read without the ORM (web/session.py) and is detached;
    # attach it so that changes made to request.user are saved with the request.
    user = getattr(request.__dict__.get("session"), "user", None)
    if user is not None:
        dbsession.add(user)
    return dbsession


def includeme(config: Configurator) -> None:
    settings = config.get_settings()
    # annotating the transaction with the user would load the user on every request
    settings.setdefault("tm.annotate_user", "false")
    settings.setdefault("retry.attempts", "3")
    settings.setdefault("retry.activate_hook", "camauth.web.retry_body.empty_body_made_seekable")
    config.include("pyramid_tm")
    # just outside pyramid_tm's: begins the transaction only when it is used
    config.add_tween(
        "camauth.web.transactions.lazy_transaction_tween_factory",
        over="pyramid_tm.tm_tween_factory",
    )
    config.include("pyramid_retry")
    registry = config.registry
    if "camauth.engine" not in registry:
        # No pool_pre_ping: it costs a round trip per request. A connection broken by a
        # database restart fails one request (503) and SQLAlchemy then discards the pool.
        registry["camauth.engine"] = make_engine(database_url(settings))
    # a plain factory for work outside requests (command line, scripts, tests) ...
    registry["camauth.dbsession_factory"] = make_session_factory(registry["camauth.engine"])
    # ... and one whose sessions join the request's (thread-local) transaction
    request_factory = make_session_factory(registry["camauth.engine"])
    joined = zope.sqlalchemy.register(request_factory, transaction_manager=transaction.manager)
    request_factory.configure(info={MARK_WRITTEN: joined.mark_changed})
    registry["camauth.request_dbsession_factory"] = request_factory
    config.add_request_method(_request_dbsession, "dbsession", reify=True)
