"""The session lookup every authenticated request pays for, kept to one raw query
(and the roles-and-groups lookup of the requests that ask, on the same connections).

Going through the ORM (a Session, identity map, entity loading) costs several
times the query itself, and this runs on every request with a session cookie.
So the lookup uses a DB-API connection of its own, runs one indexed SELECT of
the session row joined to its user, and decodes the values with the column
types' own result processors. The user comes back as a *detached* ``User``
(as if loaded and then expunged): reading it needs no database, and
``Session.add`` attaches it to an ORM session without a query when something
is to be changed (see ``web/session.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, bindparam, event, select
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.pool import PoolProxiedConnection

from ..models import User, WebSession
from .permissions import HOLDINGS, Holdings, holdings_from_rows

_SESSION_COLUMNS = (
    "id",
    "user_id",
    "kind",
    "created_at",
    "last_seen_at",
    "authenticated_at",
    "ip",
    "scope",
)
_USER_COLUMNS: tuple[ColumnElement[Any], ...] = tuple(User.__table__.columns)


@dataclass
class SessionRecord:
    """A session row as plain values (``data`` still JSON text)."""

    id: int
    user_id: int | None
    kind: str
    created_at: datetime
    last_seen_at: datetime
    authenticated_at: datetime | None
    ip: str
    scope: str  # an API session's OAuth scope ("" for a browser)
    data: str

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> SessionRecord:
        """From a row's values by column name (those of an INSERT, with its id)."""
        return cls(**{name: values[name] for name in (*_SESSION_COLUMNS, "data")})


Processor = Callable[[Any], Any] | None


class SessionLookup:
    """Finds a session and its user by token digest on one engine.

    Its connections are the engine's, taken out of the pool (``detach``) and kept
    in a short list of its own: borrowing one is a list pop instead of a pool
    checkout and return (with the pool's reset), which costs as much as the query,
    and each keeps its cursor (a new psycopg cursor copies the adapter map).
    On PostgreSQL they stay in autocommit: one SELECT needs no transaction, so it
    is one round trip instead of three (BEGIN, SELECT, ROLLBACK). They are closed
    when the engine is disposed, and all of them when one turns out to be lost
    (a database restart). An in-memory SQLite database exists only on the pool's
    own connection: there each lookup borrows it from the pool.
    """

    MAX_KEPT = 8  # more than the server's threads ever need at once

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        dialect = engine.dialect
        sessions = WebSession.__table__.c
        session_columns = [sessions[name] for name in (*_SESSION_COLUMNS, "data")]
        query = (
            select(*session_columns, *_USER_COLUMNS)
            .select_from(WebSession.__table__.outerjoin(User.__table__))
            .where(sessions.token_digest == bindparam("digest"))
        )
        # compiled once for this database's driver: placeholders and all
        self._sql = str(query.compile(dialect=dialect))
        self._named = dialect.paramstyle not in ("qmark", "format", "numeric")
        self._dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
        holdings = HOLDINGS.compile(dialect=dialect)
        self._holdings_sql = str(holdings)
        self._holdings_order = tuple(holdings.positiontup or ())
        processors = [
            _processor(column.type, dialect) for column in (*session_columns, *_USER_COLUMNS)
        ]
        # only the columns whose values need converting (timestamps, JSON, ...)
        self._conversions = [
            (index, process) for index, process in enumerate(processors) if process is not None
        ]
        url = engine.url
        in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
        self._keeps_connections = not in_memory
        self._kept: list[tuple[PoolProxiedConnection, Any]] = []  # with its cursor
        if self._keeps_connections:
            event.listen(engine, "engine_disposed", lambda _engine: self.close_kept())

    def close_kept(self) -> None:
        while True:
            try:
                connection, _cursor = self._kept.pop()  # another thread may empty it meanwhile
            except IndexError:
                return
            connection.close()

    def _borrow(self) -> tuple[PoolProxiedConnection, Any]:
        if not self._keeps_connections:
            connection = self.engine.raw_connection()
            return connection, connection.cursor()
        try:
            return self._kept.pop()  # atomic: no lock needed between threads
        except IndexError:
            pass
        connection = self.engine.raw_connection()
        if self.engine.dialect.name == "postgresql":
            connection.driver_connection.autocommit = True  # type: ignore[union-attr]
        connection.detach()
        return connection, connection.cursor()

    def _give_back(self, connection: PoolProxiedConnection, cursor: Any) -> None:
        if self._keeps_connections and len(self._kept) < self.MAX_KEPT:
            self._kept.append((connection, cursor))
        else:
            cursor.close()
            connection.close()

    def _rows(self, sql: str, parameters: dict[str, Any] | tuple[Any, ...]) -> list[Any]:
        dialect = self.engine.dialect
        dbapi_error = self._dbapi_error
        # Raw DB-API errors are not SQLAlchemy's: wrap them, so the error views answer
        # 503 (not 500), and on a disconnect invalidate the pool as a Connection would.
        try:
            connection, cursor = self._borrow()
        except dbapi_error as error:
            raise DBAPIError.instance(None, None, error, dbapi_error, dialect=dialect) from error
        try:
            cursor.execute(sql, parameters)
            # every row: a SQLite statement stepped to its end is reset, and holds
            # no read transaction open while the cursor is kept
            rows: list[Any] = cursor.fetchall()
        except dbapi_error as error:
            if dialect.is_disconnect(error, connection.dbapi_connection, None):  # type: ignore[arg-type]
                self.engine.pool._invalidate(connection, error)  # and the pool's
                self.close_kept()  # as lost as this one
            else:
                connection.invalidate()
            raise DBAPIError.instance(sql, None, error, dbapi_error, dialect=dialect) from error
        self._give_back(connection, cursor)
        return rows

    def holdings(self, user_id: int) -> Holdings:
        """What ``user_id`` holds through roles and groups: one query, as committed."""
        parameters = {"user_id": user_id}
        if not self._named:  # positional: the id once per place it appears
            return holdings_from_rows(
                self._rows(self._holdings_sql, tuple(parameters[n] for n in self._holdings_order))
            )
        return holdings_from_rows(self._rows(self._holdings_sql, parameters))

    def find(self, digest: str) -> tuple[SessionRecord, User | None] | None:
        rows = self._rows(self._sql, {"digest": digest} if self._named else (digest,))
        if not rows:
            return None
        values = list(rows[0])
        for index, process in self._conversions:
            value = values[index]
            if value is not None:
                values[index] = process(value)
        split = len(_SESSION_COLUMNS) + 1
        record = SessionRecord(*values[:split])
        user_values = values[split:]
        if user_values[0] is None:  # no user joined: an anonymous session
            return record, None
        return record, _detached_user(user_values)


def _processor(type_: Any, dialect: Dialect) -> Processor:
    # dialect_impl: the driver-specific type (SQLite's DATETIME parses text, say)
    process: Processor = type_.dialect_impl(dialect).result_processor(dialect, None)
    if process is None and isinstance(type_, JSON):
        # some drivers hand JSON back already decoded; SQLite gives text
        return _json_value
    return process


def _json_value(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


_USER_KEYS = tuple(str(column.key) for column in _USER_COLUMNS)
_USER_MAPPER = User.__mapper__


def _detached_user(values: list[Any]) -> User:
    """A ``User`` in the state ``make_transient_to_detached`` would leave it in, made
    directly: every column is loaded (so there is nothing to expire) and nothing
    has changed, so only the identity key is missing."""
    user: User = _USER_MAPPER.class_manager.new_instance()
    state = instance_state(user)
    state.dict.update(zip(_USER_KEYS, values, strict=True))
    state.key = _USER_MAPPER.identity_key_from_primary_key((values[0],))
    return user
