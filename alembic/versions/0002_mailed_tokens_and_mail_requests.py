"""mailed tokens and mail requests

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:47:25.410610
"""

from collections.abc import Sequence

import sqlalchemy as sa

import camauth.models.meta
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("mailed", sa.Boolean(), nullable=False),
        sa.Column("created_at", camauth.models.meta.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_requests")),
    )
    with op.batch_alter_table("mail_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mail_requests_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index("ix_mail_requests_ip_at", ["ip", "created_at"], unique=False)
        batch_op.create_index(
            "ix_mail_requests_user_id_at", ["user_id", "created_at"], unique=False
        )

    op.create_table(
        "account_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", camauth.models.meta.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", camauth.models.meta.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", camauth.models.meta.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_account_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_tokens")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_account_tokens_token_digest")),
    )
    with op.batch_alter_table("account_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_account_tokens_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            "ix_account_tokens_user_id_purpose", ["user_id", "purpose"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("account_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_account_tokens_user_id_purpose")
        batch_op.drop_index(batch_op.f("ix_account_tokens_expires_at"))

    op.drop_table("account_tokens")
    with op.batch_alter_table("mail_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_requests_user_id_at")
        batch_op.drop_index("ix_mail_requests_ip_at")
        batch_op.drop_index(batch_op.f("ix_mail_requests_created_at"))

    op.drop_table("mail_requests")
