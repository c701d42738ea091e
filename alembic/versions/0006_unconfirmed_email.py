"""a sign-up's address is unconfirmed until its link is followed

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 06:00:00

An unconfirmed sign-up no longer holds its address (the unique ``email``): the
address waits in ``unconfirmed_email`` until the link mailed there is followed.
So a sign-up with someone else's address can neither block that person's own
registration nor tell, by being refused, that the address has an account.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

users = sa.table(
    "users",
    sa.column("status"),
    sa.column("email"),
    sa.column("email_key"),
    sa.column("unconfirmed_email"),
    sa.column("unconfirmed_email_key"),
)


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unconfirmed_email", sa.String(length=254), nullable=True))
        batch_op.add_column(
            sa.Column("unconfirmed_email_key", sa.String(length=254), nullable=True)
        )
        batch_op.create_index(
            "ix_users_unconfirmed_email_key", ["unconfirmed_email_key"], unique=False
        )
    with op.batch_alter_table("mail_requests", schema=None) as batch_op:
        # sign-ups hold no account's address: the limit per address counts by it
        batch_op.add_column(sa.Column("address_key", sa.String(length=254), nullable=True))
        batch_op.create_index(
            "ix_mail_requests_address_key_at", ["address_key", "created_at"], unique=False
        )
    op.execute(
        users.update()
        .where(users.c.status == "pending_email")
        .values(
            unconfirmed_email=users.c.email,
            unconfirmed_email_key=users.c.email_key,
            email=None,
            email_key=None,
        )
    )


def downgrade() -> None:
    op.execute(
        users.update()
        .where(users.c.status == "pending_email")
        .values(email=users.c.unconfirmed_email, email_key=users.c.unconfirmed_email_key)
    )
    with op.batch_alter_table("mail_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_requests_address_key_at")
        batch_op.drop_column("address_key")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_unconfirmed_email_key")
        batch_op.drop_column("unconfirmed_email_key")
        batch_op.drop_column("unconfirmed_email")
