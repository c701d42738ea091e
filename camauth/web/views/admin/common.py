"""What the console's views share: the page frame, the user a URL names, and
paging links."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from pyramid.httpexceptions import HTTPBadRequest
from pyramid.request import Request
from pyramid.response import Response

from ....models import User
from ....services.accounts import get_user
from ....services.paging import MAX_ID, BadCursor, Cursor, Page
from ...navigation import RecordNotFound
from ...rendering import render_page


def admin_page(
    request: Request, template: str, section: str, status: int = 200, **values: Any
) -> Response:
    """A console page; ``section`` marks the console menu's current entry."""
    return render_page(request, f"admin/{template}", status=status, section=section, **values)


def confirm_page(
    request: Request,
    section: str,
    heading: str,
    consequence: str,
    form_html: Markup | str,
    back: str,
    back_label: str,
    status: int = 200,
    error: str = "",
) -> Response:
    """A destructive action asked on a page of its own; with ``error``, why it was
    refused instead of the form."""
    return admin_page(
        request,
        "confirm.html",
        section,
        status=status,
        heading=heading,
        consequence=consequence,
        form="" if error else form_html,
        error=error,
        back=back,
        back_label=back_label,
    )


def id_from_url(
    request: Request, key: str = "id", not_found: str = "There is no such user or session."
) -> int:
    """The number in the URL's ``key`` part; a 404 saying ``not_found`` past the id range."""
    number = int(request.matchdict[key])  # the route admits digits only
    if number > MAX_ID:  # the id columns' range: a larger number names nothing
        raise RecordNotFound(not_found)
    return number


def target_user(request: Request) -> User:
    """The user the URL names, or a 404."""
    user = get_user(request.camauth, id_from_url(request))
    if user is None:
        raise RecordNotFound("There is no such user: it may have been deleted.")
    return user


def user_url(request: Request, user: User) -> str:
    url: str = request.route_path("camauth.admin.user", id=user.id)
    return url


def cursor_from(request: Request, types: Sequence[type]) -> Cursor | None:
    """The page a listing's link asks for (``?after=`` or ``?before=``)."""
    for name in ("after", "before"):
        text = request.GET.get(name)
        if text:
            try:
                return Cursor.decode(text, types)
            except BadCursor as error:
                raise HTTPBadRequest(str(error)) from None
    return None


def paging_links(
    request: Request, route: str, page: Page[Any], query: dict[str, str]
) -> dict[str, str | None]:
    """URLs of the pages before and after ``page``, keeping the listing's filters."""
    kept = {key: value for key, value in query.items() if value}

    def link(cursor: Cursor | None) -> str | None:
        if cursor is None:
            return None
        path: str = request.route_path(route)
        return f"{path}?{urlencode({**kept, cursor.direction.value: cursor.encode()})}"

    return {"previous": link(page.previous), "next": link(page.next)}
