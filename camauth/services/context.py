"""What every service call needs: the database, settings, a clock, and who is acting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

from sqlalchemy import CursorResult, Executable
from sqlalchemy.orm import Session

from ..clock import Clock
from ..settings import Settings
from .addresses import network_of
from .passwords import Passwords

SYSTEM_ACTOR = "system"

# Where an ORM session joined to a transaction manager keeps the function that
# marks it written (set up in ``camauth/db.py``): zope.sqlalchemy sees the ORM's
# writes by itself, not those of Core statements (see ``Context.execute_write``).
MARK_WRITTEN = "camauth.mark_written"


@dataclass(frozen=True)
class Origin:
    """Who acts and from where, as the audit log records it."""

    actor_id: int | None = None
    actor_name: str = SYSTEM_ACTOR
    ip: str = ""
    user_agent: str = ""

    @property
    def network(self) -> str:
        """What throttles and mail limits count this client under (an IPv6 /64)."""
        return network_of(self.ip)


@dataclass(frozen=True)
class Context:
    db: Session
    settings: Settings
    clock: Clock
    passwords: Passwords
    origin: Origin = Origin()
    # every declared permission with its description, the host application's code's
    # included (the web and the command line pass the registry's); None: camauth's
    # and the setting's only (services/roles.py)
    permissions: Mapping[str, str] | None = None

    @property
    def on_postgresql(self) -> bool:
        """PostgreSQL (else SQLite): where the two differ (locks, upserts, statements
        combined to save round trips SQLite does not pay)."""
        return self.db.get_bind().dialect.name == "postgresql"

    def execute_write(
        self, statement: Executable, parameters: Mapping[str, Any]
    ) -> CursorResult[*tuple[Any, ...]]:
        """Run a Core INSERT, UPDATE or DELETE (on a Table, not a mapped class) in
        this context's session, after flushing pending ORM changes as an ORM
        statement would.

        For the statements every login runs: ORM-enabled DML is re-annotated on
        each execution, so SQLAlchemy computes its cache key again, a walk of the
        whole statement (a quarter of a millisecond for a statement with WITH
        queries), while a Core statement's key is computed once. But
        zope.sqlalchemy does not see a Core write, and would roll back a
        transaction it thinks read only: the session is marked written here.
        Outside a request (the command line, tests) nothing is to be marked: the
        caller commits.
        """
        if self.db.autoflush:
            self.db.flush()
        # a Core INSERT, UPDATE or DELETE gives a cursor's result (with rowcount)
        result = cast("CursorResult[*tuple[Any, ...]]", self.db.execute(statement, parameters))
        mark_written = self.db.info.get(MARK_WRITTEN)
        if mark_written is not None:
            mark_written(self.db)
        return result

    def acting_as(self, actor_id: int | None, actor_name: str) -> Context:
        return replace(self, origin=replace(self.origin, actor_id=actor_id, actor_name=actor_name))
