"""indexes for the console's short user search: names starting with one or two
characters

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 17:00:00

A search of one or two characters matches the start of a username, address or
full name. PostgreSQL serves ``LIKE 'ma%'`` from a B-tree only in code point
order, so these indexes use ``text_pattern_ops`` (the unique indexes follow the
database's collation and serve equality and the list's order). SQLite reads a
range of a binary index: username_key and email_key have theirs (unique), the
full name gets one.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PREFIX_COLUMNS = ("username_key", "email_key", "full_name_key")


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgresql():
        for column in PREFIX_COLUMNS:
            op.create_index(
                f"ix_users_{column}_prefix",
                "users",
                [column],
                postgresql_ops={column: "text_pattern_ops"},
            )
    else:
        op.create_index("ix_users_full_name_key", "users", ["full_name_key"])


def downgrade() -> None:
    if _postgresql():
        for column in PREFIX_COLUMNS:
            op.drop_index(f"ix_users_{column}_prefix", table_name="users")
    else:
        op.drop_index("ix_users_full_name_key", table_name="users")
