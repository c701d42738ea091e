"""The rules every new password must meet (PRODUCT §3), with advice when it does not.

One function, :func:`check_new_password`, is used wherever a password is set:
the user's own change, an administrator's reset, recovery by email, the command
line and registration. There are no composition rules (NIST SP 800-63B): length,
the person's own names, and zxcvbn's offline estimate of how guessable the
password is — which includes its lists of the most common leaked passwords —
decide.
"""

from __future__ import annotations

import threading
from typing import Any

from zxcvbn import matching, zxcvbn

from ..settings import Settings

# zxcvbn's cost grows steeply with length (measured: 40 random characters ~13 ms,
# 72 ~100 ms), and the check runs for anyone who can post a registration form. A
# longer password is judged by its first 40 characters, where a weak pattern
# still shows; 40 characters that pass are far beyond the strongest score.
ZXCVBN_MAX = 40
# zxcvbn tries every reading of "l33t" characters (4 as a, 1 as i or l, ...): a
# password full of them has hundreds of readings and took 1.5 s (18 distinct ones
# in 40 characters). Beyond this many readings each l33t character is replaced by
# a stand-in no dictionary holds, so the rest of zxcvbn still judges it.
MAX_L33T_READINGS = 64
_L33T_CHARACTERS = sorted({c for subs in matching.L33T_TABLE.values() for c in subs})
# CJK code points 7 apart: in no dictionary, and never a sequence like "abc"
_STAND_INS = {ord(c): 0x3400 + 7 * index for index, c in enumerate(_L33T_CHARACTERS)}
# zxcvbn keeps the user's own words in a module-level dictionary that each call
# replaces: two threads checking at once could score against each other's names.
_ZXCVBN_LOCK = threading.Lock()
# the shortest name or email local part a password is checked for: a two-letter
# name ("al") would forbid half the dictionary
_MIN_PERSONAL = 3

_SCORE_WORDS = {0: "very easy", 1: "easy", 2: "fairly easy", 3: "hard", 4: "very hard"}


class PasswordPolicyError(ValueError):
    """A new password is refused; the message tells the person what to do, and
    ``score`` how hard it would be to guess (zxcvbn's 0 to 4) when that was judged."""

    def __init__(self, message: str, score: int | None = None) -> None:
        super().__init__(message)
        self.score = score


def rules(settings: Settings) -> str:
    """What a new password must be, said before the first try."""
    return (
        f"At least {settings.password_min_length} characters, not your username or email "
        "address, not a commonly used password, and hard to guess. A few unrelated words "
        "make a long password that is easy to remember."
    )


def strength_words(score: int) -> str:
    return f"{_SCORE_WORDS[score]} to guess"


def _personal_words(username: str, email: str | None, full_name: str) -> list[str]:
    local_part = (email or "").partition("@")[0]
    return [word for word in (username, local_part, *full_name.split()) if word]


def _contains_personal(password: str, username: str, email: str | None) -> str | None:
    folded = password.casefold()
    if len(username) >= _MIN_PERSONAL and username.casefold() in folded:
        return "Do not use your username in your password."
    local_part = (email or "").partition("@")[0].casefold()
    if len(local_part) >= _MIN_PERSONAL and local_part in folded:
        return "Do not use your email address in your password."
    return None


def _is_common(result: dict[str, Any]) -> bool:
    """zxcvbn says so when the whole password is (nearly) one of its leaked passwords."""
    warning = str(result["feedback"]["warning"])
    return "common password" in warning or "commonly used password" in warning


def _advice(result: dict[str, Any]) -> str:
    feedback = result["feedback"]
    parts = [str(feedback["warning"]), *map(str, feedback["suggestions"])]
    return " ".join(part for part in parts if part)


def _bounded(password: str) -> str:
    """What zxcvbn judges: the first characters, without too many l33t readings."""
    judged = password[:ZXCVBN_MAX]
    table = matching.relevant_l33t_subtable(judged, matching.L33T_TABLE)
    if len(matching.enumerate_l33t_subs(table)) > MAX_L33T_READINGS:
        judged = judged.translate(_STAND_INS)
    return judged


def strength(password: str, personal_words: list[str]) -> dict[str, Any]:
    judged = _bounded(password)
    with _ZXCVBN_LOCK:
        result: dict[str, Any] = zxcvbn(judged, user_inputs=personal_words)
    return result


def check_new_password(
    settings: Settings,
    password: str,
    *,
    username: str = "",
    email: str | None = None,
    full_name: str = "",
) -> None:
    """Raise :class:`PasswordPolicyError` unless ``password`` may be set for this person."""
    if len(password) < settings.password_min_length:
        raise PasswordPolicyError(
            f"Use at least {settings.password_min_length} characters; "
            "a few unrelated words make a long password easy to remember."
        )
    if len(password) > settings.password_max_length:
        raise PasswordPolicyError(f"Use at most {settings.password_max_length} characters.")
    personal = _contains_personal(password, username, email)
    if personal:
        raise PasswordPolicyError(personal)
    result = strength(password, _personal_words(username, email, full_name))
    if _is_common(result):
        raise PasswordPolicyError(
            "This password is on lists of commonly used and leaked passwords, so attackers "
            "try it first. Choose another: a few unrelated words work well.",
            score=0,
        )
    score = int(result["score"])
    if score < settings.password_min_score:
        advice = _advice(result) or "Add another word or two; uncommon words are better."
        raise PasswordPolicyError(
            f"This password would be {_SCORE_WORDS[score]} to guess. {advice}", score=score
        )
