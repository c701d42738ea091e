"""Run Alembic migrations programmatically (``camauth CONFIG initdb`` and tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from alembic import command

from .resources import resource_dir


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resource_dir("alembic")))
    return config


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction for migrations.

    On SQLite, Alembic's batch mode rebuilds a table (copy, drop, rename) to alter
    it. With foreign keys enforced, dropping the old ``users`` table would fire
    every ON DELETE CASCADE and SET NULL pointing at it: sessions, tokens and
    audit references would vanish. So enforcement is off while migrating (the
    pragma works only outside a transaction) and back on afterwards.
    """
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                yield connection
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = alembic_config()
    with _migrating(engine) as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with _migrating(engine) as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def is_current(engine: Engine) -> bool:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads()) == heads
