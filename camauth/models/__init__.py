"""SQLAlchemy models; importing this module registers every table on ``Base.metadata``."""

from .audit import AuditEvent
from .meta import Base
from .security import UNTRUSTED_SCOPE, Lockout, LoginFailure
from .user import User, UserStatus
from .websession import SessionKind, WebSession

__all__ = [
    "UNTRUSTED_SCOPE",
    "AuditEvent",
    "Base",
    "Lockout",
    "LoginFailure",
    "SessionKind",
    "User",
    "UserStatus",
    "WebSession",
]
