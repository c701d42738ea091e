"""device logins: requests awaiting a person's approval, wrong user codes, and
what an API session was approved for

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import camauth.models.meta
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = camauth.models.meta.UTCDateTime(timezone=True)
SESSION_COLUMNS = {"client_id": 200, "hostname": 200, "scope": 500}


def upgrade() -> None:
    op.create_table(
        "device_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_code_digest", sa.String(length=64), nullable=False),
        sa.Column("user_code", sa.String(length=8), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("hostname", sa.String(length=200), nullable=False),
        sa.Column("message", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.String(length=500), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("network", sa.String(length=49), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("last_polled_at", UTC, nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_device_requests_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_requests")),
        sa.UniqueConstraint(
            "device_code_digest", name=op.f("uq_device_requests_device_code_digest")
        ),
    )
    with op.batch_alter_table("device_requests", schema=None) as batch_op:
        batch_op.create_index("ix_device_requests_user_code_status", ["user_code", "status"])
        batch_op.create_index(
            "ix_device_requests_network_status_decided", ["network", "status", "decided_at"]
        )
        batch_op.create_index("ix_device_requests_network_created", ["network", "created_at"])
        batch_op.create_index("ix_device_requests_user_id_created", ["user_id", "created_at"])
        batch_op.create_index(batch_op.f("ix_device_requests_created_at"), ["created_at"])
    op.create_table(
        "user_code_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=49), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_code_failures_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_code_failures")),
    )
    with op.batch_alter_table("user_code_failures", schema=None) as batch_op:
        batch_op.create_index("ix_user_code_failures_user_id_at", ["user_id", "created_at"])
        batch_op.create_index("ix_user_code_failures_network_at", ["network", "created_at"])
        batch_op.create_index(batch_op.f("ix_user_code_failures_created_at"), ["created_at"])
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        for name, length in SESSION_COLUMNS.items():
            batch_op.add_column(
                sa.Column(
                    name, sa.String(length=length), nullable=False, server_default=sa.text("''")
                )
            )


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        for name in SESSION_COLUMNS:
            batch_op.drop_column(name)
    op.drop_table("user_code_failures")
    op.drop_table("device_requests")
