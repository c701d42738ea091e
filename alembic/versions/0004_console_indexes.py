"""indexes for the administrator console's lists, filters and search, and the
casefolded full name it searches

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 16:00:00

On PostgreSQL the users' search uses trigram indexes from the pg_trgm extension,
which ships with PostgreSQL and is "trusted" since version 13: the database's
owner may create it without being a superuser.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRIGRAM_COLUMNS = ("username_key", "email_key", "full_name_key")
AUDIT_INDEXES = {
    "ix_audit_events_event_created_at": ["event", "created_at", "id"],
    "ix_audit_events_target_id_created_at": ["target_id", "created_at", "id"],
    "ix_audit_events_actor_id_created_at": ["actor_id", "created_at", "id"],
    "ix_audit_events_target_name_created_at": ["target_name", "created_at", "id"],
}


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(
            sa.Column("full_name_key", sa.Text(), server_default=sa.text("''"), nullable=False)
        )
    users = sa.table(
        "users",
        sa.column("id", sa.Integer),
        sa.column("full_name", sa.String),
        sa.column("full_name_key", sa.String),
    )
    connection = op.get_bind()
    for user_id, full_name in connection.execute(sa.select(users.c.id, users.c.full_name)).all():
        if full_name:
            connection.execute(
                users.update()
                .where(users.c.id == user_id)
                .values(full_name_key=full_name.casefold())
            )
    op.create_index("ix_users_status_username_key", "users", ["status", "username_key"])
    if _postgresql():
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for column in TRIGRAM_COLUMNS:
            op.create_index(
                f"ix_users_{column}_trgm",
                "users",
                [column],
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            )
    for name, columns in AUDIT_INDEXES.items():
        op.create_index(name, "audit_events", columns)
    for column in ("target_name", "actor_name"):
        op.create_index(
            f"ix_audit_events_lower_{column}", "audit_events", [sa.func.lower(sa.text(column))]
        )
    # the composite indexes start with these columns and serve their look-ups
    op.drop_index("ix_audit_events_event", table_name="audit_events")
    op.drop_index("ix_audit_events_target_id", table_name="audit_events")


def downgrade() -> None:
    op.create_index("ix_audit_events_target_id", "audit_events", ["target_id"])
    op.create_index("ix_audit_events_event", "audit_events", ["event"])
    for name in AUDIT_INDEXES:
        op.drop_index(name, table_name="audit_events")
    for column in ("target_name", "actor_name"):
        op.drop_index(f"ix_audit_events_lower_{column}", table_name="audit_events")
    if _postgresql():
        for column in TRIGRAM_COLUMNS:
            op.drop_index(f"ix_users_{column}_trgm", table_name="users")
        # the extension stays: other schemas in the database may use it
    op.drop_index("ix_users_status_username_key", table_name="users")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("full_name_key")
