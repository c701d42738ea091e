"""SQLAlchemy models; importing this module registers every table on ``Base.metadata``."""

from .audit import AuditEvent
from .meta import Base
from .security import UNTRUSTED_SCOPE, LoginFailure, Lockout
from .user import User, UserStatus
from .websession import SessionKind, WebSession

__all__ = [
    "UNTRUSTED_SCOPE",
    "AuditEvent",
    "Base",
    "LoginFailure",
    "Lockout",
    "SessionKind",
    "User",
    "UserStatus",
    "WebSession",
]
