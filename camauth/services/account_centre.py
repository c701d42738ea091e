"""What the account centre (``/account``) tells a person about their own account:
how their login is protected and what happened to it lately, in their words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..models import AuditEvent, TwoFactorKind, User
from . import mfa, recovery_codes
from .context import Context

RECENT_EVENTS = 15
FEW_RECOVERY_CODES = 2  # at or below this, the page says to make new ones


@dataclass(frozen=True)
class SecuritySummary:
    password_changed_at: datetime | None
    password_age_days: int | None
    # days until a change is forced (camauth.password.max_age_days), None if never
    password_days_left: int | None
    two_factor_since: datetime | None  # codes or passkeys, whichever came first
    # "an authenticator app", "a hardware token", "passkeys" or "… and passkeys"
    two_factor_method: str
    recovery_codes_left: int
    has_codes: bool = False  # an app or token: recovery codes belong to it

    @property
    def few_recovery_codes(self) -> bool:
        return self.has_codes and self.recovery_codes_left <= FEW_RECOVERY_CODES


def security_summary(ctx: Context, user: User) -> SecuritySummary:
    now = ctx.clock()
    changed = user.password_changed_at
    age = (now - changed).days if changed is not None else None
    max_age = ctx.settings.password_max_age_days
    left = max(max_age - age, 0) if max_age and age is not None else None
    method, codes = "", 0
    if user.has_two_factor:
        credential = mfa.credential_of(ctx, user)
        hardware = credential is not None and credential.kind == TwoFactorKind.HARDWARE
        method = "a hardware token" if hardware else "an authenticator app"
        codes = recovery_codes.remaining(ctx, user)
    if user.has_passkeys:
        method = f"{method} and passkeys" if method else "passkeys"
    moments = [m for m in (user.two_factor_enabled_at, user.passkeys_since) if m is not None]
    since = min(moments) if moments else None
    return SecuritySummary(changed, age, left, since, method, codes, user.has_two_factor)


def recent_activity(ctx: Context, user: User, limit: int = RECENT_EVENTS) -> Sequence[AuditEvent]:
    """The latest security events about the person (their logins and failures,
    lockouts, changes they or an administrator made), newest first; read through
    the audit log's index on (target_id, created_at)."""
    query = (
        select(AuditEvent)
        .where(AuditEvent.target_id == user.id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return ctx.db.scalars(query).all()
