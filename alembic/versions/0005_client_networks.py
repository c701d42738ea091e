"""the network a throttle counts: login failures and mail requests per IPv6 /64

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 05:00:00

Rows written before this migration get their address as their network: an
IPv6 client's old failures then count per address until they leave the window
(minutes), which only errs towards letting that client try.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = {"login_failures": "ix_login_failures", "mail_requests": "ix_mail_requests"}


def upgrade() -> None:
    for table, prefix in TABLES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("network", sa.String(length=49), nullable=False, server_default="")
            )
        op.execute(
            sa.table(table, sa.column("network"), sa.column("ip"))
            .update()
            .values(network=sa.column("ip"))
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("network", server_default=None)
            batch_op.drop_index(f"{prefix}_ip_at")
            batch_op.create_index(f"{prefix}_network_at", ["network", "created_at"], unique=False)


def downgrade() -> None:
    for table, prefix in TABLES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"{prefix}_network_at")
            batch_op.create_index(f"{prefix}_ip_at", ["ip", "created_at"], unique=False)
            batch_op.drop_column("network")
