"""two-factor credentials and recovery codes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 14:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import camauth.models.meta
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "two_factor_enabled_at",
                camauth.models.meta.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
    op.create_table(
        "two_factor_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("digits", sa.Integer(), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("algorithm", sa.String(length=10), nullable=False),
        sa.Column("drift", sa.Integer(), nullable=False),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sa.Column("created_at", camauth.models.meta.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", camauth.models.meta.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_two_factor_credentials_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_two_factor_credentials")),
        sa.UniqueConstraint("user_id", name=op.f("uq_two_factor_credentials_user_id")),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", camauth.models.meta.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", camauth.models.meta.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_recovery_codes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sa.UniqueConstraint("code_digest", name=op.f("uq_recovery_codes_code_digest")),
    )
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_codes_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_codes_user_id"))
    op.drop_table("recovery_codes")
    op.drop_table("two_factor_credentials")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("two_factor_enabled_at")
