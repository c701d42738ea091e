"""How usernames compare: one normal form, used by accounts, lockout and audit alike."""

from __future__ import annotations

import unicodedata


def normalize_username(username: str) -> str:
    """NFKC, as Django does: look-alike forms (fullwidth, decomposed accents) become one name."""
    return unicodedata.normalize("NFKC", username.strip())


def username_key(username: str) -> str:
    """The form usernames are compared in: case-insensitive, surrounding space ignored."""
    return normalize_username(username).casefold()
