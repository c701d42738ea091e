"""What the roles and groups pages share: the name in their URLs, and one way to
take a form's POST (validate, call the service, redirect; or say why not).

Refusals come back on the page the form is on: a form's own errors at its fields
(400), a service's refusal (a name taken, say) above it (400), something deleted
meanwhile by someone else (409); the role or group of the URL deleted meanwhile
is a 404 page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import deform
from pyramid.request import Request
from pyramid.response import Response

from ....models import User
from ....services import accounts
from ....services.permissions import AccessError
from ....services.roles import Gone
from ...forms import form_controls
from ...navigation import RecordNotFound, see_other

# a role's or group's name (services/roles.py): anything else in the URL is a 404
NAME = r"{name:[a-z0-9][a-z0-9._-]{0,63}}"

# a button's hidden field did not hold what the page gave it
BAD_BUTTON = "That button's form was not one this page gave; reload the page and try again."


class PageAgain(Protocol):
    """The page a form is on, shown again: with a status, an error above the
    forms, and some of its forms as they were posted (by their key)."""

    def __call__(
        self, status: int, error: str = "", rendered: dict[str, str] | None = None
    ) -> Response: ...


def submit(
    request: Request,
    form: deform.Form,
    page: PageAgain,
    run: Callable[[dict[str, Any]], tuple[str, str]],
    still_there: Callable[[], bool],
    key: str | None = None,
) -> Response:
    """Validate ``form``, then ``run(values)``: the message to flash and where to go.

    ``key`` names the form on the page to show again with its errors; None for a
    button (hidden fields only). ``still_there`` says whether the role or group
    of the URL still exists, after a service found something gone.
    """
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        if key is None:
            return page(400, BAD_BUTTON)
        return page(400, "", {key: failure.render()})
    try:
        message, where = run(values)
    except Gone as gone:
        if not still_there():
            raise RecordNotFound(str(gone)) from None
        return page(409, str(gone))
    except AccessError as refused:
        return page(400, str(refused), {key: form.render(values)} if key else None)
    request.session.flash(message)
    return see_other(where)


def user_named(request: Request, username: str) -> User:
    """The user a form names (the form checked it exists: gone since, if not)."""
    user = accounts.find_user(request.camauth, username)
    if user is None:
        raise Gone("That user was deleted meanwhile.")
    return user


def user_numbered(request: Request, user_id: int) -> User:
    """The user a button names by id."""
    user = accounts.get_user(request.camauth, user_id)
    if user is None:
        raise Gone("That user was deleted meanwhile.")
    return user
