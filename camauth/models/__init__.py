"""SQLAlchemy models; importing this module registers every table on ``Base.metadata``."""

from .access import Group, GroupMember, Role, RoleGrant, RolePermission
from .audit import AuditEvent
from .device_login import DeviceRequest, DeviceRequestStatus, UserCodeFailure
from .identity import ExternalIdentity
from .meta import Base, table_of
from .mfa import RecoveryCode, TotpAlgorithm, TwoFactorCredential, TwoFactorKind
from .passkey import Passkey
from .security import UNTRUSTED_SCOPE, Lockout, LoginFailure
from .tokens import AccountToken, MailRequest, TokenPurpose
from .user import User, UserStatus
from .websession import SessionKind, WebSession

__all__ = [
    "UNTRUSTED_SCOPE",
    "AccountToken",
    "AuditEvent",
    "Base",
    "DeviceRequest",
    "DeviceRequestStatus",
    "ExternalIdentity",
    "Group",
    "GroupMember",
    "Lockout",
    "LoginFailure",
    "MailRequest",
    "Passkey",
    "RecoveryCode",
    "Role",
    "RoleGrant",
    "RolePermission",
    "SessionKind",
    "TokenPurpose",
    "TotpAlgorithm",
    "TwoFactorCredential",
    "TwoFactorKind",
    "User",
    "UserCodeFailure",
    "UserStatus",
    "WebSession",
    "table_of",
]
