"""TOTP codes (RFC 6238) as camauth checks them: window, replay, clock hints, drift.

Pure functions over a credential's parameters and a moment; no database. The
rules (PRODUCT §8):

- a code is looked for at the device's expected time step (the server's step
  plus the drift learned for that device) and one step either side;
- a step at or before the last accepted one is refused: a code works once;
- a code that matches 2 to 10 steps away is refused with a hint that the
  device's clock is off;
- hardware tokens learn their drift: each success moves it by the offset the
  code was found at, so by at most one step, and a token whose clock wanders
  slowly keeps working.
"""

from __future__ import annotations

import binascii
import enum
import hashlib
import hmac
import re
from base64 import b32decode, b32encode
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import pyotp

from ..models import TotpAlgorithm

SECRET_BYTES = 20  # 160 bits, RFC 4226's recommended key length
MIN_SECRET_BYTES = 16  # 128 bits, RFC 4226's minimum, for secrets typed in
MAX_SECRET_BYTES = 64
WINDOW = 1  # steps either side of the expected one that are accepted
HINT_STEPS = 10  # codes this far away (and beyond WINDOW) get the clock hint
ENROL_SEARCH_STEPS = 10  # how far a new hardware token's clock may be off
PERIODS = (30, 60)
DIGITS = (6, 8)

_DIGESTS: dict[str, Callable[..., Any]] = {
    TotpAlgorithm.SHA1.value: hashlib.sha1,
    TotpAlgorithm.SHA256.value: hashlib.sha256,
}


class SecretError(ValueError):
    """A secret typed in for a hardware token that camauth cannot use."""


@dataclass(frozen=True)
class TotpParameters:
    secret: str  # base32, upper case, no padding
    digits: int = 6
    period: int = 30
    algorithm: str = TotpAlgorithm.SHA1.value

    @cached_property
    def _totp(self) -> pyotp.TOTP:
        # built once per parameters: the clock-hint search computes up to 21 codes
        return pyotp.TOTP(
            self.secret, digits=self.digits, digest=_DIGESTS[self.algorithm], interval=self.period
        )

    def code_at(self, step: int) -> str:
        return self._totp.generate_otp(step)

    def step_at(self, moment: datetime) -> int:
        return int(moment.timestamp()) // self.period

    def provisioning_uri(self, account: str, issuer: str) -> str:
        """The ``otpauth://`` URI an authenticator app reads from the QR code."""
        return self._totp.provisioning_uri(name=account, issuer_name=issuer or None)


def new_secret() -> str:
    """A fresh random secret of 160 bits, as base32."""
    return pyotp.random_base32(length=SECRET_BYTES * 8 // 5)


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def parse_secret(text: str, *, hexadecimal: bool = False) -> str:
    """A hardware token's secret as typed (base32 or hex; spaces ignored) -> base32."""
    cleaned = re.sub(r"[\s-]", "", text)
    try:
        if hexadecimal:
            raw = binascii.unhexlify(cleaned)
        else:
            cleaned = cleaned.upper().rstrip("=")
            raw = b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except (binascii.Error, ValueError):
        kind = "hexadecimal" if hexadecimal else "base32 (letters A-Z and digits 2-7)"
        raise SecretError(f"the secret is not valid {kind}") from None
    if not MIN_SECRET_BYTES <= len(raw) <= MAX_SECRET_BYTES:
        raise SecretError(
            f"the secret must be {MIN_SECRET_BYTES * 8} to {MAX_SECRET_BYTES * 8} bits long, "
            f"got {len(raw) * 8}"
        )
    return b32encode(raw).decode("ascii").rstrip("=")


def clean_code(text: str, digits: int) -> str | None:
    """The code as typed, without spaces; None if it cannot be a code of ``digits``."""
    code = re.sub(r"\s", "", text)
    if len(code) != digits or not code.isascii() or not code.isdigit():
        return None
    return code


class Match(enum.Enum):
    ACCEPTED = "accepted"
    REPLAY = "replay"  # right code, for a step already used
    CLOCK_OFF = "clock_off"  # right code for a step 2 to 10 away
    WRONG = "wrong"


@dataclass(frozen=True)
class Verdict:
    match: Match
    step: int | None = None  # the step the code belongs to
    offset: int = 0  # from the expected step (server step + drift)


def _offsets(reach: int) -> list[int]:
    """0, -1, 1, -2, 2, …: nearest steps first."""
    result = [0]
    for distance in range(1, reach + 1):
        result += [-distance, distance]
    return result


def check_code(
    params: TotpParameters,
    code: str,
    now: datetime,
    *,
    drift: int = 0,
    last_step: int = 0,
    window: int = WINDOW,
    hint_steps: int = HINT_STEPS,
) -> Verdict:
    """Judge ``code`` at ``now`` for a device with ``drift`` whose last accepted step
    was ``last_step``."""
    cleaned = clean_code(code, params.digits)
    if cleaned is None:
        return Verdict(Match.WRONG)
    expected = params.step_at(now) + drift
    replayed: Verdict | None = None
    for offset in _offsets(hint_steps):
        step = expected + offset
        if not hmac.compare_digest(params.code_at(step), cleaned):
            continue
        if abs(offset) > window:
            return replayed or Verdict(Match.CLOCK_OFF, step, offset)
        if step <= last_step:
            replayed = replayed or Verdict(Match.REPLAY, step, offset)
            continue  # the same digits may belong to a later step in the window too
        return Verdict(Match.ACCEPTED, step, offset)
    return replayed or Verdict(Match.WRONG)


def find_offset(params: TotpParameters, code: str, now: datetime) -> Verdict:
    """Where a new hardware token's code is, up to ENROL_SEARCH_STEPS away (its
    starting drift)."""
    return check_code(params, code, now, window=ENROL_SEARCH_STEPS, hint_steps=ENROL_SEARCH_STEPS)
