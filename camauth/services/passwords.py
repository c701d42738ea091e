"""Password hashing (argon2id); the rules for new passwords are in ``password_policy``."""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..settings import Settings


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    new_hash: str | None = None  # set when the stored hash should be replaced


class Passwords:
    """argon2id with the configured cost; verifies any argon2 hash and upgrades old ones."""

    def __init__(self, settings: Settings) -> None:
        self.hasher = PasswordHasher(
            time_cost=settings.password_argon2_time_cost,
            memory_cost=settings.password_argon2_memory_kib,
            parallelism=settings.password_argon2_parallelism,
            type=Type.ID,
        )
        # verified against when the username does not exist, so that an unknown
        # username costs the same time as a wrong password for a real one
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> VerifyResult:
        if not stored_hash:
            self.burn_time(password)
            return VerifyResult(ok=False)
        try:
            self.hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return VerifyResult(ok=False)
        if self.hasher.check_needs_rehash(stored_hash):
            return VerifyResult(ok=True, new_hash=self.hasher.hash(password))
        return VerifyResult(ok=True)

    def burn_time(self, password: str) -> None:
        """Do the work of one verification and throw the answer away."""
        with contextlib.suppress(VerificationError):
            self.hasher.verify(self._dummy_hash, password)


def generate_password() -> str:
    """A one-time password for bootstrap and administrator resets (~120 bits)."""
    return secrets.token_urlsafe(15)
