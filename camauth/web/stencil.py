"""Pages the same for every visitor but for a few values: rendered once, then filled.

The login page is the first page every visitor gets, and rendering it costs
about fifty bare Pyramid requests: deform builds and binds the schema, then
renders the form through about ten Chameleon templates, then Jinja renders the
page around it. Yet everything on it is fixed by the configuration except the
CSRF token and the hidden ``next`` field. So it is rendered once with a marker
in each such place (a *stencil*) and served by putting each request's values
in, escaped exactly as Chameleon escapes an attribute value, so the page is the
same, byte for byte, as a fresh rendering. The page refusing a wrong password
("Invalid username or password.") is one too, the username typed a third hole.

The markers carry a random part made at start-up: no value on a page (all of
them are set by the configuration) can contain one by accident or design.
Stencils are kept per process (in the registry), and not at all when templates
reload (development): an edited template then shows at once.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Hashable

from pyramid.registry import Registry
from pyramid.request import Request

_MARK = f"camauth-hole-{secrets.token_hex(12)}-"
_MARKED = re.compile(re.escape(_MARK) + r"([a-z_]+)\.")
_STENCILS = "camauth.stencils"


def hole(name: str) -> str:
    """What to render in place of the value ``name`` (lowercase letters and _)."""
    return f"{_MARK}{name}."


def escape_attribute(value: str) -> str:
    """``value`` escaped as Chameleon (deform's templates) escapes an attribute value."""
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


class Stencil:
    """A rendered page with holes (``hole(name)``) where per-request values go."""

    def __init__(self, html: str) -> None:
        # text, name, text, name, ..., text
        split = _MARKED.split(html)
        self.names = frozenset(split[1::2])
        # The text is encoded once, here: a page with one character beyond ASCII
        # (the "·" in its title) costs several µs to encode whole, per request.
        self._parts = [b"" if index % 2 else text.encode() for index, text in enumerate(split)]
        self._holes = [(index, split[index]) for index in range(1, len(split), 2)]

    def fill(self, **values: str) -> bytes:
        """The page, UTF-8, with ``values`` (one for every hole) put in, escaped."""
        parts = self._parts.copy()
        for index, name in self._holes:
            parts[index] = escape_attribute(values[name]).encode()
        return b"".join(parts)


def stencil(request: Request, key: Hashable, render: Callable[[], str]) -> Stencil:
    """The stencil ``key`` of this application, rendering it (``render``) the first
    time, or every time while templates reload."""
    kept: dict[Hashable, Stencil] | None = request.registry.get(_STENCILS)
    found = kept.get(key) if kept is not None else None
    if found is None:
        found = Stencil(render())
        if kept is not None:
            kept[key] = found
    return found


def keep_stencils(registry: Registry, keep: bool) -> None:
    """Keep stencils in ``registry`` (or, with ``keep`` false, render every time)."""
    registry[_STENCILS] = {} if keep else None
