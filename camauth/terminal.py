"""Text for an operator's terminal: others' text made harmless, and a progress bar.

Usernames, user agents and audit details come from anyone on the internet (a
name typed at the login form is recorded even when no such account exists).
Printed as they are, an escape sequence in one could rewrite the operator's
screen or hide lines, and a right-to-left override could make text read
backwards. So every character that is not printable (controls, and Unicode's
invisible format characters such as bidi overrides) is shown as an escape.
"""

from __future__ import annotations

from typing import TextIO


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with every non-printable character escaped (spaces stay spaces)."""
    if text.isprintable():
        return text  # the common case, without building a new string
    return "".join(char if char.isprintable() or char == " " else _escape(char) for char in text)


class ProgressBar:
    """One line, redrawn in place: what is being deleted, a bar, and the counts."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.current = ""

    def show(self, what: str, done: int, total: int) -> None:
        if what != self.current and self.current:
            self.stream.write("\n")  # keep the finished line
        self.current = what
        filled = self.WIDTH if total == 0 else self.WIDTH * done // total
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r{what:<24} [{bar}] {done:,}/{total:,}")
        self.stream.flush()

    def finish(self) -> None:
        if self.current:
            self.stream.write("\n")
            self.stream.flush()
