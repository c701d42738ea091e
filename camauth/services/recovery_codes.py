"""Two-factor recovery codes: ten single-use codes that stand in for a device.

Each code is 16 characters of Crockford's base32 (80 random bits), shown as
``ABCD-EFGH-JKMN-PQRS``. Only SHA-256 digests are stored; with 80 bits a digest
cannot be reversed by guessing, so no per-code salt (and no slow hash) is
needed, and a code is found by its digest in one indexed query. Typing is
forgiving: case, spaces and dashes do not matter, and I, L and O read as 1, 1
and 0, as Crockford intended.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import delete, func, select, update

from ..models import RecoveryCode, User
from .bulk import execute_bulk
from .context import Context

COUNT = 10
LENGTH = 16  # characters; 5 bits each
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})


def _new_code() -> str:
    code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(code[i : i + 4] for i in range(0, LENGTH, 4))


def normalise(text: str) -> str | None:
    """The code as stored, or None if ``text`` cannot be a recovery code."""
    cleaned = "".join(text.split()).replace("-", "").upper().translate(_READ_AS)
    if len(cleaned) != LENGTH or any(c not in ALPHABET for c in cleaned):
        return None
    return cleaned


def _digest(normalised: str) -> str:
    return hashlib.sha256(normalised.encode("ascii")).hexdigest()


def looks_like_recovery_code(text: str) -> bool:
    return normalise(text) is not None


def replace_codes(ctx: Context, user: User) -> list[str]:
    """A new set of codes for ``user``; every earlier code stops working."""
    execute_bulk(ctx.db, delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    now = ctx.clock()
    codes = [_new_code() for _ in range(COUNT)]
    for code in codes:
        digest = _digest(normalise(code) or "")
        ctx.db.add(RecoveryCode(user_id=user.id, code_digest=digest, created_at=now))
    ctx.db.flush()
    return codes


def spend(ctx: Context, user: User, text: str) -> bool:
    """Use one of ``user``'s codes; True if it was theirs and unused (it is now used).

    A conditional UPDATE: of two requests with the same code, one wins.
    """
    normalised = normalise(text)
    if normalised is None:
        return False
    spent = execute_bulk(
        ctx.db,
        update(RecoveryCode)
        .where(
            RecoveryCode.code_digest == _digest(normalised),
            RecoveryCode.user_id == user.id,
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=ctx.clock()),
    )
    return spent == 1


def remaining(ctx: Context, user: User) -> int:
    count = ctx.db.scalar(
        select(func.count()).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    return count or 0


def delete_all(ctx: Context, user: User) -> None:
    execute_bulk(ctx.db, delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
