"""Two-factor authentication (PRODUCT §8): policy, enrolment, code checks, removal.

A user has at most one TOTP credential: an authenticator app they enrolled
themselves, or a hardware token an administrator enrolled for them. Enrolling
an app makes ten recovery codes (``recovery_codes.py``); a token's owner makes
theirs on their two-factor page (the administrator must not see them).
``User.two_factor_enabled_at`` mirrors "has a credential", so the
required-actions gate needs no extra query.

Checking a code here decides only whether it is right. Counting wrong codes
toward lockout, and auditing them, is the caller's part (``authentication.py``),
because what a wrong code means depends on where it was typed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from ..models import TotpAlgorithm, TwoFactorCredential, TwoFactorKind, User
from ..settings import Settings
from . import audit, passkeys, recovery_codes, serial, sessions, totp
from .audit import Event
from .bulk import execute_bulk
from .context import Context
from .totp import Match, TotpParameters, Verdict


class TwoFactorError(ValueError):
    """A two-factor request that cannot be done; the message is for the person."""


class Policy(enum.StrEnum):
    NONE = "none"
    ADMINS = "admins"
    ALL = "all"


def required_for(settings: Settings, user: User) -> bool:
    """Whether policy (``mfa.required_for``) says ``user`` must have two-factor."""
    policy = settings.mfa_required_for
    return policy == Policy.ALL or (policy == Policy.ADMINS and user.is_admin)


def code_message(verdict: Verdict, period: int = 30, *, hardware: bool = False) -> str:
    """What to tell the person about a code that was not accepted."""
    if verdict.match is Match.REPLAY:
        return "That code has already been used. Wait for the next code and enter that one."
    if verdict.match is Match.CLOCK_OFF:
        minutes = max(1, round(abs(verdict.offset) * period / 60))
        off = f"about {minutes} minute{'s' if minutes > 1 else ''} off"
        if hardware:
            # a token's clock cannot be set by its owner: an administrator re-enrols it
            return (
                f"That code is not correct now: your token's clock seems to be {off}. "
                "Use a recovery code, and ask an administrator to set up the token again."
            )
        return (
            "That code is not correct now. Check the date and time on your device: its clock "
            f"seems to be {off} (set it to update automatically)."
        )
    return "That code is not correct."


def credential_of(ctx: Context, user: User) -> TwoFactorCredential | None:
    return ctx.db.scalar(select(TwoFactorCredential).where(TwoFactorCredential.user_id == user.id))


def parameters(credential: TwoFactorCredential) -> TotpParameters:
    return TotpParameters(
        credential.secret, credential.digits, credential.period, credential.algorithm
    )


def _store(
    ctx: Context, user: User, kind: TwoFactorKind, params: TotpParameters, verdict: Verdict
) -> None:
    """Keep the credential; the enrolling code's step counts as used."""
    assert verdict.step is not None
    now = ctx.clock()
    execute_bulk(ctx.db, delete(TwoFactorCredential).where(TwoFactorCredential.user_id == user.id))
    ctx.db.add(
        TwoFactorCredential(
            user_id=user.id,
            kind=kind.value,
            secret=params.secret,
            digits=params.digits,
            period=params.period,
            algorithm=params.algorithm,
            drift=verdict.offset if kind is TwoFactorKind.HARDWARE else 0,
            last_step=verdict.step,
            created_at=now,
            last_used_at=now,
        )
    )
    user.two_factor_enabled_at = now
    ctx.db.flush()


def _enrolled_meanwhile(ctx: Context, user: User) -> bool:
    """Whether ``user`` has two-factor, read from their row held locked: of two
    credential changes at once (a double-clicked Enable, an administrator
    removing it while another replaces it), the second sees the first, so the
    flag and the credential row never disagree. (SQLite has no row locks: the
    named lock takes its write lock first.)"""
    serial.hold(ctx, f"two-factor:{user.id}")
    # refreshed, not just read: the change that follows must be judged (and saved)
    # against the row as it is now, not as this request loaded it
    ctx.db.refresh(user, ["two_factor_enabled_at"], with_for_update=True)
    return user.two_factor_enabled_at is not None


def enrol_app(
    ctx: Context, user: User, secret: str, code: str, *, keep_session_id: int | None = None
) -> list[str]:
    """Turn on an authenticator app once it shows a right code; returns the new
    recovery codes (to be shown once). The user's other sessions end: they were
    opened without the second factor."""
    if _enrolled_meanwhile(ctx, user):
        raise TwoFactorError("Two-factor authentication is already set up for your account.")
    params = TotpParameters(secret)
    verdict = totp.check_code(params, code, ctx.clock())
    if verdict.match is not Match.ACCEPTED:
        raise TwoFactorError(code_message(verdict))
    _store(ctx, user, TwoFactorKind.APP, params, verdict)
    codes = recovery_codes.replace_codes(ctx, user)
    sessions.end_user_sessions(ctx, user, keep_id=keep_session_id)
    audit.record(ctx, Event.TWO_FACTOR_ENROLLED, target=user, details={"method": "app"})
    return codes


def enrol_hardware(
    ctx: Context,
    user: User,
    secret_text: str,
    code: str,
    *,
    digits: int = 6,
    period: int = 30,
    algorithm: str = TotpAlgorithm.SHA1.value,
    hexadecimal: bool = False,
    replace: bool = False,
) -> int:
    """An administrator enrols a hardware token for ``user`` from its secret and a
    code it shows now. Its clock may be off by up to ENROL_SEARCH_STEPS steps: the
    offset found is its starting drift, which is returned.

    The user's sessions end: they were opened without this token, or (replacing
    a lost or stolen one) with the old one; replacing also voids the recovery codes.
    """
    if digits not in totp.DIGITS:
        raise TwoFactorError(f"digits must be one of {', '.join(map(str, totp.DIGITS))}")
    if period not in totp.PERIODS:
        raise TwoFactorError(f"period must be one of {', '.join(map(str, totp.PERIODS))}")
    if algorithm not in {a.value for a in TotpAlgorithm}:
        raise TwoFactorError("algorithm must be sha1 or sha256")
    if _enrolled_meanwhile(ctx, user) and not replace:
        raise TwoFactorError(f"{user.username} already has two-factor authentication")
    try:
        secret = totp.parse_secret(secret_text, hexadecimal=hexadecimal)
    except totp.SecretError as error:
        raise TwoFactorError(str(error)) from None
    params = TotpParameters(secret, digits, period, algorithm)
    verdict = totp.find_offset(params, code, ctx.clock())
    if verdict.match is not Match.ACCEPTED:
        raise TwoFactorError(
            "the code does not match the secret (checked "
            f"{totp.ENROL_SEARCH_STEPS} steps either side of now)"
        )
    _store(ctx, user, TwoFactorKind.HARDWARE, params, verdict)
    if replace:
        # the old device may be lost or stolen: whatever went with it goes too
        recovery_codes.delete_all(ctx, user)
    sessions.end_user_sessions(ctx, user)
    details = {
        "method": "hardware",
        "digits": digits,
        "period": period,
        "algorithm": algorithm,
        "drift": verdict.offset,
        "replaced": replace,
    }
    audit.record(ctx, Event.TWO_FACTOR_ENROLLED, target=user, details=details)
    return verdict.offset


@dataclass(frozen=True)
class CodeCheck:
    verdict: Verdict
    period: int = 30
    hardware: bool = False

    @property
    def ok(self) -> bool:
        return self.verdict.match is Match.ACCEPTED

    @property
    def message(self) -> str:
        return code_message(self.verdict, self.period, hardware=self.hardware)


class CodeChecker:
    """Checks codes of one user's credential (loaded once)."""

    def __init__(self, ctx: Context, user: User) -> None:
        self.ctx = ctx
        self.user = user
        self.credential = credential_of(ctx, user)

    def check(self, code: str) -> CodeCheck:
        """Judge a code; a right one is used up (its step, and all before it)."""
        credential = self.credential
        if credential is None:
            return CodeCheck(Verdict(Match.WRONG))
        verdict = totp.check_code(
            parameters(credential),
            code,
            self.ctx.clock(),
            drift=credential.drift,
            last_step=credential.last_step,
        )
        if verdict.match is Match.CLOCK_OFF and verdict.offset > 0:
            self._burn_future_step(credential, verdict)
        hardware = credential.kind == TwoFactorKind.HARDWARE
        if verdict.match is not Match.ACCEPTED or verdict.step is None:
            return CodeCheck(verdict, credential.period, hardware)
        learned = credential.drift
        if hardware:
            learned += verdict.offset  # at most WINDOW (one step) per success
        # Conditional: of two requests with the same code, only one uses it.
        claimed = execute_bulk(
            self.ctx.db,
            update(TwoFactorCredential)
            .where(
                TwoFactorCredential.id == credential.id,
                TwoFactorCredential.last_step < verdict.step,
            )
            .values(last_step=verdict.step, drift=learned, last_used_at=self.ctx.clock()),
        )
        if not claimed:
            replayed = Verdict(Match.REPLAY, verdict.step, verdict.offset)
            return CodeCheck(replayed, credential.period, hardware)
        return CodeCheck(verdict, credential.period, hardware)

    def _burn_future_step(self, credential: TwoFactorCredential, verdict: Verdict) -> None:
        """A right code for a step still to come earns the clock hint, which tells a
        guesser the code will work then: so that step (and those before it) can no
        longer be used. The person with the device waits for a later code."""
        execute_bulk(
            self.ctx.db,
            update(TwoFactorCredential)
            .where(
                TwoFactorCredential.id == credential.id,
                TwoFactorCredential.last_step < verdict.step,
            )
            .values(last_step=verdict.step),
        )


def use_recovery_code(ctx: Context, user: User, code: str) -> int | None:
    """Spend one of ``user``'s recovery codes: the number left, or None if the code
    is not an unused one of theirs. A used code is audited."""
    if not user.has_two_factor or not recovery_codes.spend(ctx, user, code):
        return None
    left = recovery_codes.remaining(ctx, user)
    audit.record(ctx, Event.RECOVERY_CODE_USED, target=user, details={"remaining": left})
    return left


def regenerate_recovery_codes(ctx: Context, user: User) -> list[str]:
    """A new set of recovery codes; the old ones stop working. Audited."""
    if not user.has_two_factor:
        raise TwoFactorError("Set up two-factor authentication first.")
    codes = recovery_codes.replace_codes(ctx, user)
    audit.record(ctx, Event.RECOVERY_CODES_REGENERATED, target=user)
    return codes


def remove(
    ctx: Context, user: User, *, keep_session_id: int | None = None, with_passkeys: bool = True
) -> None:
    """Remove ``user``'s two-factor credential, recovery codes and (``with_passkeys``,
    an administrator's removal) passkeys, and end their sessions (but
    ``keep_session_id``). Audited, saying who removed it. Someone turning off their
    own authenticator app keeps their passkeys: they have a page of their own."""
    enrolled = _enrolled_meanwhile(ctx, user)
    removed_passkeys = passkeys.remove_all(ctx, user) if with_passkeys else 0
    if not removed_passkeys and not enrolled:
        raise TwoFactorError(f"{user.username} has no two-factor authentication")
    execute_bulk(ctx.db, delete(TwoFactorCredential).where(TwoFactorCredential.user_id == user.id))
    recovery_codes.delete_all(ctx, user)
    user.two_factor_enabled_at = None
    sessions.end_user_sessions(ctx, user, keep_id=keep_session_id)
    by = "self" if ctx.origin.actor_id == user.id else "administrator"
    audit.record(ctx, Event.TWO_FACTOR_REMOVED, target=user, details={"by": by})
