"""The lean read path: a page that only reads begins no transaction and borrows no
connection of the main pool, and everything that writes is still committed, or
rolled back, exactly as before (web/transactions.py, web/request_class.py,
db.py's lookup engine).

Each test goes through a host application's views on camauth's full stack, on
SQLite and (with CAMAUTH_TEST_DATABASE_URL) PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import transaction
import webtest
from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPForbidden
from pyramid.request import Request
from pyramid.response import Response
from sqlalchemy import event, select

from camauth.models import User
from camauth.web.security import VIEW
from camauth.web.transactions import in_transaction

from ..conftest import GOOD_PASSWORD, app_context, login
from .conftest import browser, create_user


def _status(request: Request) -> Response:
    """Whether a transaction is under way while the view runs."""
    return Response(f"in transaction: {in_transaction(request.tm)}")


def _rename(request: Request) -> Response:
    request.user.full_name = request.params["name"]  # nothing else touches the database
    return Response("renamed")


def _rename_then_doom(request: Request) -> Response:
    request.user.full_name = request.params["name"]
    request.tm.doom()
    return Response("doomed")


def _rename_then_fail(request: Request) -> Response:
    request.user.full_name = request.params["name"]
    raise HTTPForbidden("refused after the change")


def _rename_then_fail_at_commit(request: Request) -> Response:
    request.user.full_name = request.params["name"]

    def refuse() -> None:
        raise RuntimeError("commit refused by the test")

    request.tm.get().addBeforeCommitHook(refuse)
    return Response("will not commit")


def _remember(request: Request) -> Response:
    request.session["note"] = request.params["note"]
    return Response("noted")


def _recall(request: Request) -> Response:
    return Response(f"note: {request.session.get('note')}; list: {request.session.get('list')}")


def _remember_in_subrequest(request: Request) -> Response:
    sub = request.copy()  # the caller's environ, cookies and all
    sub.path_info = "/lean/remember"
    sub.query_string = "note=from-subrequest"
    return request.invoke_subrequest(sub)


def _store_unencodable(request: Request) -> Response:
    request.session["when"] = object()  # JSON cannot hold it
    return Response("stored")


def _remember_a_minute(request: Request) -> Response:
    until = request.registry["camauth.clock"]() + timedelta(minutes=1)
    request.session.put_expiring("secret", request.params["secret"], until)
    return Response("kept for a minute")


def _request_class(request: Request) -> Response:
    return Response(str(id(type(request))))


def _append(request: Request) -> Response:
    request.session.setdefault("list", []).append(request.params["item"])
    return Response("appended")


def _mutate_nested(request: Request) -> Response:
    # changed in place, without setting a key: still saved (the JSON is compared)
    stored = request.session.get("list")
    assert isinstance(stored, list)
    stored.append(request.params["item"])
    return Response("mutated")


VIEWS: dict[str, Callable[[Request], Response]] = {
    "/lean/status": _status,
    "/lean/rename": _rename,
    "/lean/rename-doomed": _rename_then_doom,
    "/lean/rename-refused": _rename_then_fail,
    "/lean/rename-commit-fails": _rename_then_fail_at_commit,
    "/lean/remember": _remember,
    "/lean/remember-a-minute": _remember_a_minute,
    "/lean/recall": _recall,
    "/lean/append": _append,
    "/lean/mutate": _mutate_nested,
    "/lean/class": _request_class,
    "/lean/subrequest": _remember_in_subrequest,
    "/lean/unencodable": _store_unencodable,
}


def _add_views(config: Configurator) -> None:
    for path, view in VIEWS.items():
        name = "lean" + path.replace("/", ".")
        config.add_route(name, path)
        config.add_view(view, route_name=name, permission=VIEW)


@pytest.fixture
def lean_app(app_factory: Callable[..., Any]) -> Any:
    app = app_factory(configure=_add_views)
    create_user(app, "alice")
    return app


@pytest.fixture
def alice(lean_app: Any) -> webtest.TestApp:
    client = browser(lean_app)
    login(client, "alice", GOOD_PASSWORD, status=303)
    return client


def full_name(app: Any) -> str:
    ctx = app_context(app)
    try:
        return str(ctx.db.scalar(select(User.full_name).where(User.username == "alice")))
    finally:
        ctx.db.close()


@contextmanager
def pool_checkouts(app: Any) -> Iterator[list[Any]]:
    """The connections the engine's pool hands out inside the block."""
    pool = app.registry["camauth.engine"].pool
    seen: list[Any] = []

    def record(*args: Any) -> None:
        seen.append(args[0])

    event.listen(pool, "checkout", record)
    try:
        yield seen
    finally:
        event.remove(pool, "checkout", record)


def test_a_page_that_only_reads_begins_no_transaction(alice):
    assert alice.get("/lean/status").text == "in transaction: False"
    assert not in_transaction(transaction.manager)  # nor is one left behind


def test_a_page_that_only_reads_borrows_nothing_from_the_pool(lean_app, alice):
    alice.get("/lean/status")  # the lookup keeps the connection it made for this
    with pool_checkouts(lean_app) as checked_out:
        for _ in range(3):
            assert alice.get("/lean/status").text == "in transaction: False"
    assert checked_out == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL's: autocommit
def test_the_lookups_kept_cursor_holds_no_snapshot_between_requests(lean_app, alice):
    engine = lean_app.registry["camauth.engine"]
    alice.get("/lean/status")
    assert len(lean_app.registry["camauth.session_lookup"]._kept) == 1
    with engine.connect() as other:
        # a reader still inside its statement would keep the write-ahead log from
        # being checkpointed to its end (busy = 1), and see no later commits
        busy, _log, _done = other.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    assert busy == 0


def test_the_lookups_connections_are_closed_with_the_engine(lean_app, alice):
    alice.get("/lean/status")
    lookup = lean_app.registry["camauth.session_lookup"]
    [(kept, _cursor)] = lookup._kept
    lean_app.registry["camauth.engine"].dispose()
    assert lookup._kept == []
    assert kept.dbapi_connection is None  # closed
    assert alice.get("/lean/status").text == "in transaction: False"  # and made anew


def test_a_change_to_request_user_alone_is_committed(lean_app, alice):
    alice.get("/lean/rename", params={"name": "Alice Liddell"})
    assert full_name(lean_app) == "Alice Liddell"


def test_a_doomed_transaction_writes_nothing(lean_app, alice):
    alice.get("/lean/rename-doomed", params={"name": "Doomed Name"})
    assert full_name(lean_app) == ""


def test_a_raised_refusal_rolls_the_change_back(lean_app, alice):
    alice.get("/lean/rename-refused", params={"name": "Refused Name"}, status=403)
    assert full_name(lean_app) == ""
    assert not in_transaction(transaction.manager)


def test_a_failed_commit_is_rolled_back_at_once(lean_app, alice):
    """Not left open (with its locks) until this thread's next request."""
    alice.get("/lean/rename-commit-fails", params={"name": "Never Saved"}, status=500)
    assert not in_transaction(transaction.manager)
    assert full_name(lean_app) == ""


def test_session_data_stored_by_a_subrequest_on_a_copied_environ_is_saved(alice):
    assert alice.get("/lean/subrequest").text == "noted"
    assert alice.get("/lean/recall").text == "note: from-subrequest; list: None"


def test_session_data_json_cannot_hold_gets_the_error_page_not_a_crash(alice):
    page = alice.get("/lean/unencodable", status=500)
    assert "Something went wrong" in page.text
    assert not in_transaction(transaction.manager)


def raising_veto(request: Request, response: Response) -> bool:
    raise RuntimeError("the veto failed")


def test_a_commit_veto_that_raises_leaves_no_transaction_open(app_factory):
    app = app_factory(
        configure=lambda config: (
            config.add_settings({"tm.commit_veto": f"{__name__}.raising_veto"}),
            _add_views(config),
        )
    )
    create_user(app, "alice")
    client = browser(app)
    form = client.get("/login").forms["login"]
    form["username"], form["password"] = "alice", GOOD_PASSWORD
    form.submit("submit", status=500)  # the login's writes reach the veto, which fails
    assert not in_transaction(transaction.manager)


def test_session_data_is_saved_and_read_back(alice):
    alice.get("/lean/remember", params={"note": "ünïcode ✓"})
    assert alice.get("/lean/recall").text == "note: ünïcode ✓; list: None"


def test_session_data_changed_in_place_is_saved(alice):
    alice.get("/lean/append", params={"item": "one"})
    alice.get("/lean/mutate", params={"item": "two"})
    assert alice.get("/lean/recall").text == "note: None; list: ['one', 'two']"


def stored_session_data(app: Any) -> dict[str, Any]:
    from camauth.models import WebSession

    ctx = app_context(app)
    try:
        data = ctx.db.scalar(select(WebSession.data).where(WebSession.user_id.is_not(None)))
        return dict(json.loads(data))
    finally:
        ctx.db.close()


def test_an_expired_entry_leaves_the_row_on_the_next_page_whatever_it_is(lean_app, alice, clock):
    alice.get("/lean/remember-a-minute", params={"secret": "new recovery codes"})
    alice.get("/lean/status")  # a page that never asks for it
    assert "secret" in stored_session_data(lean_app)  # not expired yet: kept
    clock.advance(seconds=61)
    assert alice.get("/lean/recall").text == "note: None; list: None"
    assert "secret" not in stored_session_data(lean_app)
    assert "_csrf" in stored_session_data(lean_app)  # the rest of the data stays


def test_the_last_seen_time_is_still_written_once_the_interval_passed(lean_app, alice, clock):
    from camauth.models import WebSession

    def last_seen() -> Any:
        ctx = app_context(lean_app)
        try:
            return ctx.db.scalar(select(WebSession.last_seen_at))
        finally:
            ctx.db.close()

    before = last_seen()
    alice.get("/lean/status")
    assert last_seen() == before
    clock.advance(minutes=5)
    assert alice.get("/lean/status").text == "in transaction: False"  # decided at the end
    assert last_seen() == clock()


def test_a_host_that_annotates_the_user_keeps_pyramid_tm_in_charge(app_factory):
    annotated = app_factory(
        configure=lambda config: (
            config.add_settings({"tm.annotate_user": "true"}),
            _add_views(config),
        )
    )
    create_user(annotated, "alice")
    client = browser(annotated)
    login(client, "alice", GOOD_PASSWORD, status=303)
    assert client.get("/lean/status").text == "in transaction: True"


def test_every_request_uses_one_request_class_made_at_start_up(lean_app, alice):
    # Pyramid alone makes a new class per request for reified request properties
    first, second = (alice.get("/lean/class").text for _ in range(2))
    assert first == second == str(id(lean_app.request_factory))
    assert "user" in vars(lean_app.request_factory)
    assert lean_app.request_extensions is None  # nothing left to apply per request
    assert not lean_app.registry.has_listeners  # no per-request events announced for nothing


def test_a_subrequest_made_by_hand_still_gets_every_property(lean_app, alice):
    cookie = alice.cookies
    sub = Request.blank("/lean/recall")
    sub.headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in cookie.items())
    response = lean_app.invoke_subrequest(sub, use_tweens=True)
    assert response.status_int == 200
    assert response.text == "note: None; list: None"
