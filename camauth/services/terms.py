"""Terms of use (PRODUCT §6): which revision a user has agreed to, and agreeing."""

from __future__ import annotations

from ..models import User
from ..settings import Settings
from . import audit
from .audit import Event
from .context import Context


def owes_terms(settings: Settings, user: User) -> bool:
    """True when terms are configured and ``user`` has not agreed to this revision."""
    return bool(settings.terms_revision) and user.terms_revision != settings.terms_revision


def agree_terms(ctx: Context, user: User, revision: str | None = None) -> None:
    """Record agreement to ``revision`` (the current one by default) and when."""
    revision = revision or ctx.settings.terms_revision
    user.terms_revision = revision
    user.terms_agreed_at = ctx.clock()
    audit.record(ctx, Event.TERMS_AGREED, target=user, details={"revision": revision})
