"""Route matching that looks only at the routes a path can match.

Pyramid tries every route in order until one matches, so a host application's
route added after camauth's ~60 pays for ~60 failed regular expressions on
every request. A route whose pattern starts with a literal segment
(``/account/...``, ``/admin/...``) can only match paths whose first segment is
that text; this mapper groups routes by it and, for a path, tries only that
group and the routes whose first segment is not literal, still in the order
they were added, so which route wins never changes.
"""

from __future__ import annotations

import re
from typing import Any

from pyramid.config import Configurator
from pyramid.exceptions import URLDecodeError
from pyramid.interfaces import IRoutesMapper
from pyramid.request import Request
from pyramid.urldispatch import Route, RoutesMapper

# what makes a segment a placeholder: {name}, *rest, or the old :name
_PLACEHOLDER = re.compile(r"[{*]|:[_a-zA-Z]")


def literal_first_segment(pattern: str) -> str | None:
    """The first path segment every match of ``pattern`` has, or None when it varies."""
    segment = pattern.lstrip("/").split("/", 1)[0]
    return None if _PLACEHOLDER.search(segment) else segment


def first_segment(path: str) -> str:
    return path[1:].split("/", 1)[0]


class IndexedRoutesMapper(RoutesMapper):
    def __init__(self) -> None:
        super().__init__()
        self._by_segment: dict[str, list[Route]] | None = None
        self._anywhere: list[Route] = []

    def connect(self, *args: Any, **kwargs: Any) -> Route:
        self._by_segment = None  # rebuilt at the next match
        return super().connect(*args, **kwargs)

    def _index(self) -> dict[str, list[Route]]:
        segments = [literal_first_segment(route.pattern) for route in self.routelist]
        by_segment: dict[str, list[Route]] = {
            segment: [
                route
                for route, other in zip(self.routelist, segments, strict=True)
                if other in (segment, None)
            ]
            for segment in {segment for segment in segments if segment is not None}
        }
        self._anywhere = [
            route
            for route, segment in zip(self.routelist, segments, strict=True)
            if segment is None
        ]
        self._by_segment = by_segment
        return by_segment

    def __call__(self, request: Request) -> dict[str, Any]:
        try:
            path = request.path_info or "/"
        except KeyError:
            path = "/"
        except UnicodeDecodeError as error:
            raise URLDecodeError(
                error.encoding, error.object, error.start, error.end, error.reason
            ) from error
        by_segment = self._by_segment if self._by_segment is not None else self._index()
        for route in by_segment.get(first_segment(path), self._anywhere):
            match = route.match(path)
            if match is None:
                continue
            info = {"match": match, "route": route}
            predicates = route.predicates
            if predicates and not all(predicate(info, request) for predicate in predicates):
                continue
            return info
        return {"route": None, "match": None}


def use_indexed_routes(config: Configurator) -> None:
    """Match routes with :class:`IndexedRoutesMapper`, unless routes are already
    being matched by another mapper (a host application's own, or one made by an
    earlier commit): then that one stays."""
    registry = config.registry
    if registry.queryUtility(IRoutesMapper) is None:
        registry.registerUtility(IndexedRoutesMapper(), IRoutesMapper)
