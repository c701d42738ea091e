"""Bulk UPDATE/DELETE statements that report how many rows they touched."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import ColumnElement, Delete, Update, delete, func, select, tuple_
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session


def execute_bulk(db: Session, statement: Update | Delete) -> int:
    """Run ``statement`` without syncing loaded objects (callers re-read what they need)."""
    result = db.execute(statement.execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result).rowcount


def delete_rows(
    db: Session, model: Any, condition: ColumnElement[bool], limit: int | None = None
) -> int:
    """Delete the rows of ``model`` matching ``condition``: all, or at most ``limit``
    (picked by primary key), so that one transaction stays short."""
    if limit is None:
        return execute_bulk(db, delete(model).where(condition))
    keys = list(model.__table__.primary_key.columns)
    chosen = select(*keys).where(condition).limit(limit)
    key = keys[0] if len(keys) == 1 else tuple_(*keys)
    return execute_bulk(db, delete(model).where(key.in_(chosen)))


def count_rows(db: Session, model: Any, condition: ColumnElement[bool]) -> int:
    return db.scalar(select(func.count()).select_from(model).where(condition)) or 0
