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

from zxcvbn import zxcvbn

from ..settings import Settings

# zxcvbn's cost grows steeply with length (measured: 40 characters ~13 ms, worst
# ~50 ms; 72 characters ~100 ms, worst over 600 ms), and the check runs for
# anyone who can post a registration form. A longer password is judged by its
# first 40 characters, where a weak pattern still shows; 40 characters that
# pass are far beyond the strongest score.
ZXCVBN_MAX = 40
# zxcvbn keeps the user's own words in a module-level dictionary that each call
# replaces: two threads checking at once could score against each other's names.
_ZXCVBN_LOCK = threading.Lock()
# the shortest name or email local part a password is checked for: a two-letter
# name ("al") would forbid half the dictionary
_MIN_PERSONAL = 3

_SCORE_WORDS = {0: "very easy", 1: "easy", 2: "fairly easy", 3: "hard", 4: "very hard"}


class PasswordPolicyError(ValueError):
    """A new password is refused; the message tells the person what to do."""


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


def strength(password: str, personal_words: list[str]) -> dict[str, Any]:
    with _ZXCVBN_LOCK:
        result: dict[str, Any] = zxcvbn(password[:ZXCVBN_MAX], user_inputs=personal_words)
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
            "try it first. Choose another: a few unrelated words work well."
        )
    score = int(result["score"])
    if score < settings.password_min_score:
        advice = _advice(result) or "Add another word or two; uncommon words are better."
        raise PasswordPolicyError(
            f"This password would be {_SCORE_WORDS[score]} to guess. {advice}"
        )
