"""users.passkeys_since (set while the user has a passkey) and webauthn_user_handle

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

import camauth.models.meta
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = camauth.models.meta.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("passkeys_since", UTC, nullable=True))
        batch.add_column(sa.Column("webauthn_user_handle", sa.String(length=100), nullable=True))
    # users who registered passkeys before these columns: since their first one,
    # with the handle their passkeys were stored with
    op.execute(
        "UPDATE users SET passkeys_since = "
        "(SELECT min(passkeys.created_at) FROM passkeys WHERE passkeys.user_id = users.id), "
        "webauthn_user_handle = "
        "(SELECT min(passkeys.user_handle) FROM passkeys WHERE passkeys.user_id = users.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("webauthn_user_handle")
        batch.drop_column("passkeys_since")
