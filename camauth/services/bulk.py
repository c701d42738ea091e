"""Bulk UPDATE/DELETE statements that report how many rows they touched."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Delete, Update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session


def execute_bulk(db: Session, statement: Update | Delete) -> int:
    """Run ``statement`` without syncing loaded objects (callers re-read what they need)."""
    result = db.execute(statement.execution_options(synchronize_session=False))
    return cast(CursorResult[Any], result).rowcount
