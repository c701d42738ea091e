"""Roles and groups: who may do what in a host application (PRODUCT §17).

A permission is a dotted name the host application declares; it is stored only
as that name, in the roles that hold it. A role is a named set of permissions,
granted to users directly or to groups (whose members then hold it). Names are
stored in lower case, so two names differing only in case are the same name.
Deleting a role, a group or a user deletes their grants and memberships with
them (ON DELETE CASCADE).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..permission_names import PERMISSION_LENGTH
from .meta import Base, UTCDateTime

NAME_LENGTH = 64
DESCRIPTION_LENGTH = 200


class _Named:
    """The columns a role and a group share: a unique name, a description and
    when it was created."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(String(DESCRIPTION_LENGTH), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class Role(_Named, Base):
    __tablename__ = "roles"


class RolePermission(Base):
    __tablename__ = "role_permissions"

    role_id: Mapped[int] = mapped_column(
        ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True
    )
    permission: Mapped[str] = mapped_column(String(PERMISSION_LENGTH), primary_key=True)


class Group(_Named, Base):
    __tablename__ = "user_groups"  # GROUPS is a keyword in SQL


class GroupMember(Base):
    __tablename__ = "group_members"
    # a user's groups (the permission query starts from the user)
    __table_args__ = (Index("ix_group_members_user_id", "user_id"),)

    group_id: Mapped[int] = mapped_column(
        ForeignKey("user_groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # may add and remove this group's members (and do nothing else in the console)
    is_group_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RoleGrant(Base):
    """A role granted to one user or to one group (exactly one of the two)."""

    __tablename__ = "role_grants"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (group_id IS NULL)", name="one_grantee"),
        Index("uq_role_grants_role_id_user_id", "role_id", "user_id", unique=True),
        Index("uq_role_grants_role_id_group_id", "role_id", "group_id", unique=True),
        Index("ix_role_grants_user_id", "user_id"),
        Index("ix_role_grants_group_id", "group_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("user_groups.id", ondelete="CASCADE"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
