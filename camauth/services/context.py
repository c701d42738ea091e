"""What every service call needs: the database, settings, a clock, and who is acting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from ..clock import Clock
from ..settings import Settings
from .addresses import network_of
from .passwords import Passwords

SYSTEM_ACTOR = "system"


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

    def acting_as(self, actor_id: int | None, actor_name: str) -> Context:
        return replace(self, origin=replace(self.origin, actor_id=actor_id, actor_name=actor_name))
