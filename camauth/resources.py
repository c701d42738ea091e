"""Where templates, static files and Alembic scripts live.

In a checkout they are top-level folders beside ``camauth/``; a wheel carries
them inside the package (pyproject's force-include), so look there first.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"camauth's {name}/ folder is missing from the installation")
