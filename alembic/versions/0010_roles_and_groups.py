"""roles and groups for host applications: roles (sets of permissions), groups
(sets of users, with group administrators), and grants of roles to either

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 20:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import camauth.models.meta
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = camauth.models.meta.UTCDateTime(timezone=True)


def _foreign_key(table: str, column: str, parent: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{parent}.id"], name=op.f(f"fk_{table}_{column}_{parent}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    for table in ("roles", "user_groups"):
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("name", sa.String(length=64), nullable=False),
            sa.Column("description", sa.String(length=200), nullable=False),
            sa.Column("created_at", UTC, nullable=False),
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
            sa.UniqueConstraint("name", name=op.f(f"uq_{table}_name")),
        )
    op.create_table(
        "role_permissions",
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("permission", sa.String(length=100), nullable=False),
        _foreign_key("role_permissions", "role_id", "roles"),
        sa.PrimaryKeyConstraint("role_id", "permission", name=op.f("pk_role_permissions")),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("is_group_admin", sa.Boolean(), nullable=False),
        sa.Column("added_at", UTC, nullable=False),
        _foreign_key("group_members", "group_id", "user_groups"),
        _foreign_key("group_members", "user_id", "users"),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_group_members")),
    )
    op.create_index("ix_group_members_user_id", "group_members", ["user_id"])
    op.create_table(
        "role_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("granted_at", UTC, nullable=False),
        sa.CheckConstraint(
            "(user_id IS NULL) <> (group_id IS NULL)", name=op.f("ck_role_grants_one_grantee")
        ),
        _foreign_key("role_grants", "role_id", "roles"),
        _foreign_key("role_grants", "user_id", "users"),
        _foreign_key("role_grants", "group_id", "user_groups"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_grants")),
    )
    op.create_index(
        "uq_role_grants_role_id_user_id", "role_grants", ["role_id", "user_id"], unique=True
    )
    op.create_index(
        "uq_role_grants_role_id_group_id", "role_grants", ["role_id", "group_id"], unique=True
    )
    op.create_index("ix_role_grants_user_id", "role_grants", ["user_id"])
    op.create_index("ix_role_grants_group_id", "role_grants", ["group_id"])


def downgrade() -> None:
    op.drop_table("role_grants")
    op.drop_table("group_members")
    op.drop_table("role_permissions")
    op.drop_table("user_groups")
    op.drop_table("roles")
