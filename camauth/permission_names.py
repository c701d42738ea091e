"""Permission names: dotted lower-case words (``reports.view``), and the
``camauth.permissions`` setting that declares them (``name = description`` lines).
On their own so that reading the settings needs nothing else of camauth."""

from __future__ import annotations

import re

PERMISSION_LENGTH = 100
_PERMISSION = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+")


def permission_problem(name: str) -> str | None:
    """Why ``name`` cannot be a permission, or None."""
    if not name:
        return "A permission needs a name."
    if len(name) > PERMISSION_LENGTH:
        return f"A permission name has at most {PERMISSION_LENGTH} characters."
    if not _PERMISSION.fullmatch(name):
        return (
            f"{name!r} is not a permission name: use dotted lower-case words, "
            "such as 'reports.view' (letters, digits, '-' and '_' between the dots)."
        )
    return None


def parse_declarations(text: str) -> dict[str, str]:
    """The ``camauth.permissions`` setting: one ``name = description`` per line
    (the description may be left out); ValueError names the line at fault."""
    declared: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, description = line.partition("=")
        name = name.strip()
        problem = permission_problem(name)
        if problem is not None:
            raise ValueError(f"line {number}: {problem}")
        declared[name] = description.strip() or name
    return declared
