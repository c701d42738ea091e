"""Alembic migrations produce exactly the models, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from camauth import migrate
from camauth.db import make_engine
from camauth.models import Base
from camauth.models.meta import objects_of

# the tables of the first revision
TABLES_0001 = {"users", "web_sessions", "login_failures", "lockouts", "audit_events"}
TABLES = TABLES_0001 | {
    "account_tokens",
    "mail_requests",
    "two_factor_credentials",
    "recovery_codes",
    "device_requests",
    "user_code_failures",
    "roles",
    "role_permissions",
    "user_groups",
    "group_members",
    "role_grants",
    "external_identities",
    "passkeys",
}


def schema_diff(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": objects_of(engine.dialect.name),
            },
        )
        return compare_metadata(context, Base.metadata)


def table_names(engine):
    return set(inspect(engine).get_table_names())


def test_head_matches_the_models(engine):
    assert migrate.is_current(engine)
    assert table_names(engine) == TABLES | {"alembic_version"}
    assert schema_diff(engine) == []


def test_downgrade_to_base_and_upgrade_again(engine):
    try:
        migrate.downgrade(engine, "base")
        assert table_names(engine) == {"alembic_version"}
        assert not migrate.is_current(engine)
    finally:
        migrate.upgrade(engine)  # other tests share this PostgreSQL database
    assert migrate.is_current(engine)
    assert schema_diff(engine) == []


def test_0002_adds_the_mail_tables_and_keeps_existing_accounts(engine):
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (username, username_key, full_name, status, is_admin,"
                " created_at, must_change_password, extra)"
                " VALUES ('kept', 'kept', '', 'active', false,"
                " '2026-01-01 00:00:00+00', false, '{}')"
            )
        )
    try:
        migrate.downgrade(engine, "0001")
        assert table_names(engine) == TABLES_0001 | {"alembic_version"}
    finally:
        migrate.upgrade(engine)
    assert schema_diff(engine) == []
    with engine.connect() as connection:
        assert connection.execute(text("SELECT username FROM users")).scalars().all() == ["kept"]


def _rows(engine, query):
    with engine.connect() as connection:
        return connection.execute(text(query)).all()


def test_0003_adds_two_factor_and_keeps_existing_accounts(engine):
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, username, username_key, full_name, status, is_admin,"
                " created_at, must_change_password, extra)"
                " VALUES (7, 'kept', 'kept', '', 'active', true,"
                " '2026-01-01 00:00:00+00', false, '{}')"
            )
        )
        # rows that point at users: rebuilding the users table (SQLite's batch mode)
        # must not fire their ON DELETE actions
        connection.execute(
            text(
                "INSERT INTO web_sessions (token_digest, user_id, kind, created_at,"
                " last_seen_at, ip, user_agent, data)"
                " VALUES ('d1', 7, 'browser', '2026-01-01 00:00:00+00',"
                " '2026-01-01 00:00:00+00', '', '', '{}')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO audit_events (created_at, event, actor_id, actor_name, target_id,"
                " target_name, ip, user_agent, details)"
                " VALUES ('2026-01-01 00:00:00+00', 'user_created', 7, 'kept', 7, 'kept',"
                " '', '', '{}')"
            )
        )
    kept_rows = [
        ("SELECT user_id FROM web_sessions", [(7,)]),
        ("SELECT actor_id, target_id FROM audit_events", [(7, 7)]),
    ]
    try:
        migrate.downgrade(engine, "0002")
        assert "two_factor_credentials" not in table_names(engine)
        assert "two_factor_enabled_at" not in {
            column["name"] for column in inspect(engine).get_columns("users")
        }
    finally:
        migrate.upgrade(engine)
    assert schema_diff(engine) == []
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT username, two_factor_enabled_at FROM users"))
        assert kept.all() == [("kept", None)]
    for query, expected in kept_rows:
        assert _rows(engine, query) == expected
    # and once more down: the downgrade rebuilds the users table too
    try:
        migrate.downgrade(engine, "0002")
        for query, expected in kept_rows:
            assert _rows(engine, query) == expected
    finally:
        migrate.upgrade(engine)
    with engine.connect() as connection:  # enforcement is back on afterwards
        if connection.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_0004_folds_existing_full_names_and_keeps_every_row(engine):
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, username, username_key, full_name, status, is_admin,"
                " created_at, must_change_password, extra)"
                " VALUES (3, 'mm', 'mm', 'Maria MÜLLER Straße', 'active', false,"
                " '2026-01-01 00:00:00+00', false, '{}')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO web_sessions (token_digest, user_id, kind, created_at,"
                " last_seen_at, ip, user_agent, data)"
                " VALUES ('d4', 3, 'browser', '2026-01-01 00:00:00+00',"
                " '2026-01-01 00:00:00+00', '', '', '{}')"
            )
        )
    try:
        migrate.downgrade(engine, "0003")
        columns = {column["name"] for column in inspect(engine).get_columns("users")}
        assert "full_name_key" not in columns
        assert _rows(engine, "SELECT user_id FROM web_sessions") == [(3,)]
    finally:
        migrate.upgrade(engine)
    assert schema_diff(engine) == []
    assert _rows(engine, "SELECT full_name_key FROM users") == [("maria müller strasse",)]
    assert _rows(engine, "SELECT user_id FROM web_sessions") == [(3,)]


def test_fresh_sqlite_file_migrates_from_nothing(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    try:
        assert table_names(engine) == set()
        assert not migrate.is_current(engine)
        migrate.upgrade(engine)
        assert migrate.is_current(engine)
        assert schema_diff(engine) == []
        migrate.upgrade(engine)  # a second run is a no-op
        assert migrate.is_current(engine)
    finally:
        engine.dispose()


def test_0007_adds_device_logins_and_keeps_sessions(engine):
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, username, username_key, full_name, status, is_admin,"
                " created_at, must_change_password, extra)"
                " VALUES (9, 'kept', 'kept', '', 'active', false,"
                " '2026-01-01 00:00:00+00', false, '{}')"
            )
        )
    try:
        migrate.downgrade(engine, "0006")
        assert not {"device_requests", "user_code_failures"} & table_names(engine)
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO web_sessions (token_digest, user_id, kind, created_at,"
                    " last_seen_at, ip, user_agent, data)"
                    " VALUES ('d9', 9, 'browser', '2026-01-01 00:00:00+00',"
                    " '2026-01-01 00:00:00+00', '', '', '{}')"
                )
            )
    finally:
        migrate.upgrade(engine)
    assert schema_diff(engine) == []
    assert _rows(engine, "SELECT user_id, client_id, hostname, scope FROM web_sessions") == [
        (9, "", "", "")
    ]
