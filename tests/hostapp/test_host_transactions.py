"""A host application's own database work on the request's transaction.

camauth begins the request's transaction only when something uses it
(web/transactions.py). A host application's own SQLAlchemy session, joined to
the transaction the way Pyramid's cookiecutter does (``request.tm``) or through
the process-wide ``transaction.manager``, must be committed with the request,
and rolled back when the view fails, exactly as with pyramid_tm alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import transaction
import webtest
import zope.sqlalchemy
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from camauth.clock import FakeClock

notes = Table(
    "notes",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("text", String(100), nullable=False),
)


@pytest.fixture
def host_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'host.sqlite'}")
    notes.metadata.create_all(engine)
    yield engine
    engine.dispose()


def make_app(settings: dict[str, Any], clock: FakeClock, engine: Engine) -> Any:
    factory = sessionmaker(bind=engine)
    # a scoped session registered once on the process-wide manager (older tutorials)
    scoped = scoped_session(sessionmaker(bind=engine))
    zope.sqlalchemy.register(scoped, transaction_manager=transaction.manager)

    def host_session(request: Request) -> Session:
        # Pyramid's cookiecutter: a session per request, joined to request.tm
        dbsession = factory()
        zope.sqlalchemy.register(dbsession, transaction_manager=request.tm)
        return dbsession

    def add_note(request: Request) -> Response:
        request.host_db.execute(notes.insert().values(text=request.params["text"]))
        zope.sqlalchemy.mark_changed(request.host_db)  # Core DML: tell zope.sqlalchemy
        if request.params.get("fail"):
            raise RuntimeError("the view failed after writing")
        return Response("added")

    def add_note_globally(request: Request) -> Response:
        scoped().execute(notes.insert().values(text=request.params["text"]))
        zope.sqlalchemy.mark_changed(scoped())
        return Response("added")

    config = Configurator(settings=settings)
    config.registry["camauth.clock"] = clock
    config.include("camauth")
    config.add_request_method(host_session, "host_db", reify=True)
    config.add_route("add", "/notes/add")
    config.add_view(add_note, route_name="add")
    config.add_route("add_global", "/notes/add-global")
    config.add_view(add_note_globally, route_name="add_global")
    return config.make_wsgi_app()


@pytest.fixture
def host(ini_settings: dict[str, Any], clock: FakeClock, host_engine: Engine) -> Iterator[Any]:
    app = make_app(ini_settings, clock, host_engine)
    yield webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "192.0.2.20"})
    app.registry["camauth.engine"].dispose()


def stored(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(select(notes.c.text).order_by(notes.c.id)))


def test_a_host_session_joined_to_request_tm_is_committed(host, host_engine):
    assert host.get("/notes/add", params={"text": "kept"}).text == "added"
    assert stored(host_engine) == ["kept"]


def test_a_failing_view_rolls_the_host_session_back(host, host_engine):
    # camauth's error page answers; the transaction is aborted all the same
    host.get("/notes/add", params={"text": "lost", "fail": "1"}, status=500)
    assert stored(host_engine) == []
    assert host.get("/notes/add", params={"text": "next"}).text == "added"
    assert stored(host_engine) == ["next"]


def test_a_session_on_the_process_wide_manager_is_committed(host, host_engine):
    assert host.get("/notes/add-global", params={"text": "global"}).text == "added"
    assert stored(host_engine) == ["global"]
