"""SQLAlchemy models; importing this module registers every table on ``Base.metadata``."""

from .audit import AuditEvent
from .meta import Base
from .security import UNTRUSTED_SCOPE, Lockout, LoginFailure
from .tokens import AccountToken, MailRequest, TokenPurpose
from .user import User, UserStatus
from .websession import SessionKind, WebSession

__all__ = [
    "UNTRUSTED_SCOPE",
    "AccountToken",
    "AuditEvent",
    "Base",
    "Lockout",
    "LoginFailure",
    "MailRequest",
    "SessionKind",
    "TokenPurpose",
    "User",
    "UserStatus",
    "WebSession",
]
