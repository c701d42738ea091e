"""Declarative base, constraint naming, and a UTC datetime column type."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Index, MetaData, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python on every backend.

    SQLite has no time zones: values are stored as naive UTC (so they still sort
    and compare correctly as text) and come back marked as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("camauth stores aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        # SQLite hands back the text SQLAlchemy stored ("2026-01-05 09:00:00.000000");
        # the C-level fromisoformat reads it several times faster than the generic
        # regular expression, which matters on the per-request session lookup.
        def parse(value: Any) -> datetime | None:
            if value is None:
                return None
            try:
                # naive UTC, as stored: marked so in the same C call (a replace()
                # afterwards costs several times the parse)
                return datetime.fromisoformat(value + "+00:00")
            except ValueError:  # written with an offset by something else
                return datetime.fromisoformat(value).astimezone(UTC)

        return parse


DIALECT_ONLY = "camauth.dialect_only"


def only_on(dialect: str, index: Index) -> Index:
    """An index created on one database only (a PostgreSQL trigram index, say)."""
    index.info[DIALECT_ONLY] = dialect
    return index.ddl_if(dialect=dialect)


IncludeObject = Callable[[Any, "str | None", str, bool, Any], bool]


def objects_of(dialect: str) -> IncludeObject:
    """Alembic's ``include_object`` for a database of ``dialect``: leaves out what
    belongs to another kind of database, so that comparing the models with a SQLite
    database does not ask for PostgreSQL's trigram indexes."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        model_object = compare_to if reflected else obj
        info = getattr(model_object, "info", None) or {}
        wanted = info.get(DIALECT_ONLY)
        return wanted is None or wanted == dialect

    return include


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """A mapped class's table, for Core statements (typed: ``__table__`` is a FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
