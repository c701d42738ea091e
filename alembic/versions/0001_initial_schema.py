"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 09:40:57.389765
"""

from collections.abc import Sequence

import sqlalchemy as sa

import camauth.models.meta
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lockouts",
        sa.Column("username_key", sa.String(length=150), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("counted_since", camauth.models.meta.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_until", camauth.models.meta.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", camauth.models.meta.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username_key", "scope", name=op.f("pk_lockouts")),
    )
    with op.batch_alter_table("lockouts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lockouts_locked_until"), ["locked_until"], unique=False
        )

    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username_key", sa.String(length=150), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("user_exists", sa.Boolean(), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("created_at", camauth.models.meta.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_failures_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index("ix_login_failures_ip_at", ["ip", "created_at"], unique=False)
        batch_op.create_index(
            "ix_login_failures_username_scope_at",
            ["username_key", "scope", "created_at"],
            unique=False,
        )

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("username_key", sa.String(length=150), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("email_key", sa.String(length=254), nullable=True),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", camauth.models.meta.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", camauth.models.meta.UTCDateTime(timezone=True), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column(
            "password_changed_at", camauth.models.meta.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("terms_revision", sa.String(length=100), nullable=True),
        sa.Column("terms_agreed_at", camauth.models.meta.UTCDateTime(timezone=True), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email_key", name=op.f("uq_users_email_key")),
        sa.UniqueConstraint("username_key", name=op.f("uq_users_username_key")),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", camauth.models.meta.UTCDateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=50), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=150), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("target_name", sa.String(length=150), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_audit_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["users.id"],
            name=op.f("fk_audit_events_target_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_events_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_events_event"), ["event"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_target_id"), ["target_id"], unique=False)

    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("created_at", camauth.models.meta.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", camauth.models.meta.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "authenticated_at", camauth.models.meta.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_web_sessions_token_digest")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_sessions_last_seen_at"), ["last_seen_at"], unique=False
        )
        batch_op.create_index("ix_web_sessions_user_id_kind", ["user_id", "kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_web_sessions_user_id_kind")
        batch_op.drop_index(batch_op.f("ix_web_sessions_last_seen_at"))

    op.drop_table("web_sessions")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_target_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_event"))
        batch_op.drop_index(batch_op.f("ix_audit_events_created_at"))

    op.drop_table("audit_events")
    op.drop_table("users")
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_login_failures_username_scope_at")
        batch_op.drop_index("ix_login_failures_ip_at")
        batch_op.drop_index(batch_op.f("ix_login_failures_created_at"))

    op.drop_table("login_failures")
    with op.batch_alter_table("lockouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lockouts_locked_until"))

    op.drop_table("lockouts")
