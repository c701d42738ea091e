"""Alembic environment: camauth's models, and the database of the ini in use.

``camauth CONFIG initdb`` passes an open connection; ``alembic -c development.ini
upgrade head`` reads ``sqlalchemy.url`` (or CAMAUTH_DATABASE_URL) from that ini.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from alembic import context
from camauth.db import make_engine
from camauth.models import Base
from camauth.models.meta import objects_of
from camauth.settings import database_url

config = context.config


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=objects_of(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    from pyramid.paster import get_appsettings

    settings = get_appsettings(config.config_file_name)
    engine = make_engine(database_url(settings))
    with engine.connect() as connection:
        run_migrations(connection)


if context.is_offline_mode():
    raise SystemExit("camauth's migrations run online only")
main()
