"""What the roles and groups pages share: the name in their URLs, one way to take
a form's POST (validate, call the service, redirect; or say why not), the list
with its form for a new one, renaming, and deleting on a page of its own.

Refusals come back on the page the form is on: a form's own errors at its fields
(400), a service's refusal (a name taken, say) above it (400), something deleted
meanwhile by someone else (409); the role or group of the URL deleted meanwhile
is a 404 page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

import deform
from pyramid.request import Request
from pyramid.response import Response

from ....models import User
from ....models.access import Group, Role
from ....services import accounts, groups, roles
from ....services.context import Context
from ....services.permissions import AccessError
from ....services.roles import Gone, Named
from ...forms import DESTRUCTIVE, confirm_schema, form_controls, make_form
from ...navigation import RecordNotFound, see_other
from ...rendering import form_html
from .access_forms import rename_form
from .common import admin_page, confirm_page

# a role's or group's name (services/roles.py): anything else in the URL is a 404
NAME = r"{name:[a-z0-9][a-z0-9._-]{0,63}}"

T = TypeVar("T")

# a button's hidden field did not hold what the page gave it
BAD_BUTTON = "That button's form was not one this page gave; reload the page and try again."


class PageAgain(Protocol):
    """The page a form is on, shown again: with a status, an error above the
    forms, and some of its forms as they were posted (by their key)."""

    def __call__(
        self, status: int, error: str = "", rendered: dict[str, str] | None = None
    ) -> Response: ...


@dataclass(frozen=True)
class Kind(Generic[Named]):
    """Roles or groups, as their pages see them: the word ("role", "group"), the
    services that find, list, rename and delete one, and its page (called with the
    request, the record, and :class:`PageAgain`'s arguments).

    Their routes are named alike (``admin/__init__.py``): ``camauth.admin.roles``
    the list, ``camauth.admin.role`` a role's page, ``camauth.admin.role.rename``
    and ``camauth.admin.role.delete``; the groups' the same with "group".
    """

    word: str
    find: Callable[[Context, str], Named | None]
    listing: Callable[[Context], Sequence[object]]
    rename: Callable[[Context, Named, str], None]
    delete: Callable[[Context, Named], None]
    page: Callable[..., Response]

    @property
    def section(self) -> str:
        """The console menu's entry, the list's template and its name there."""
        return f"{self.word}s"

    def route(self, action: str = "") -> str:
        """The list's route (``action`` "list"), a record's page's (no ``action``), or
        the route of the form ``action`` names ("rename", "delete")."""
        if action == "list":
            return f"camauth.admin.{self.section}"
        return f"camauth.admin.{self.word}" + (f".{action}" if action else "")

    def url(self, request: Request, name: str, route: str | None = None) -> str:
        url: str = request.route_path(route or self.route(), name=name)
        return url

    def record(self, request: Request) -> Named:
        """The role or group the URL names, or a 404."""
        record = self.find(request.camauth, request.matchdict["name"])
        if record is None:
            word = self.word
            raise RecordNotFound(f"There is no such {word}: it may have been deleted or renamed.")
        return record

    def still_there(self, request: Request) -> bool:
        return self.find(request.camauth, request.matchdict["name"]) is not None


def submit(
    request: Request,
    kind: Kind[Named],
    record: Named,
    form: deform.Form,
    run: Callable[[dict[str, Any]], tuple[str, str]],
    key: str | None = None,
) -> Response:
    """Validate ``form``, then ``run(values)``: the message to flash and where to go.

    ``key`` names the form on the record's page to show again with its errors;
    None for a button (hidden fields only). A service that found something gone
    is a 404 if the role or group of the URL is gone itself.
    """
    page: PageAgain = partial(kind.page, request, record)
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        if key is None:
            return page(400, BAD_BUTTON)
        return page(400, "", {key: failure.render()})
    try:
        message, where = run(values)
    except Gone as gone:
        if not kind.still_there(request):
            raise RecordNotFound(str(gone)) from None
        return page(409, str(gone))
    except AccessError as refused:
        return page(400, str(refused), {key: form.render(values)} if key else None)
    request.session.flash(message)
    return see_other(where)


def _found(record: T | None, what: str) -> T:
    """What a form names, checked when its page was made: gone since, if None."""
    if record is None:
        raise Gone(f"That {what} was deleted meanwhile.")
    return record


def user_named(request: Request, username: str) -> User:
    """The user a form names (the form checked it exists)."""
    return _found(accounts.find_user(request.camauth, username), "user")


def user_numbered(request: Request, user_id: int) -> User:
    """The user a button names by id."""
    return _found(accounts.get_user(request.camauth, user_id), "user")


def role_named(request: Request, name: str) -> Role:
    """The role a form names (from the page's list)."""
    return _found(roles.find_role(request.camauth, name), "role")


def group_named(request: Request, name: str) -> Group:
    """The group a form names (from the page's list)."""
    return _found(groups.find_group(request.camauth, name), "group")


def change_group_grant(ctx: Context, role: Role, group: Group, grant: bool) -> str:
    """Grant ``role`` to ``group`` (or with ``grant`` False revoke it): what to say."""
    if grant and roles.grant_role(ctx, role, group=group):
        return f"The members of {group.name} now have the role {role.name}."
    if grant:
        return f"The group {group.name} had the role {role.name} already."
    if roles.revoke_role(ctx, role, group=group):
        return f"The members of {group.name} no longer have the role {role.name}."
    return f"The group {group.name} did not have the role {role.name}: nothing was changed."


def back_to_page(request: Request, kind: Kind[Named]) -> Response:
    """A form's address opened as a page: the page the form is on."""
    return see_other(kind.url(request, kind.record(request).name))


# --- the list, and a new one --------------------------------------------------------


def list_page(
    request: Request, kind: Kind[Named], rendered: str, status: int = 200, error: str = ""
) -> Response:
    """The list of roles or groups (``roles`` or ``groups`` in the template), with the
    form for a new one (``rendered``)."""
    return admin_page(
        request,
        f"{kind.section}.html",
        kind.section,
        status=status,
        **{kind.section: kind.listing(request.camauth)},
        form=form_html(rendered),
        error=error,
    )


def create_submit(
    request: Request,
    kind: Kind[Named],
    form: deform.Form,
    create: Callable[[dict[str, Any]], Named],
) -> Response:
    """The list's form posted: ``create(values)``, then the new one's page."""
    try:
        values = form.validate(form_controls(request))
    except deform.ValidationFailure as failure:
        return list_page(request, kind, failure.render(), 400)
    try:
        record = create(values)
    except AccessError as refused:
        return list_page(request, kind, form.render(values), 400, str(refused))
    request.session.flash(f"The {kind.word} {record.name} was created.")
    return see_other(kind.url(request, record.name))


# --- rename -------------------------------------------------------------------------


def renaming_form(request: Request, kind: Kind[Named], record: Named) -> deform.Form:
    return rename_form(request, kind.word, kind.url(request, record.name, kind.route("rename")))


def rename_submit(request: Request, kind: Kind[Named]) -> Response:
    record = kind.record(request)
    old = record.name
    word = kind.word

    def run(values: dict[str, Any]) -> tuple[str, str]:
        kind.rename(request.camauth, record, values["name"])
        if record.name == old:
            return f"The {word} is still called {old}: nothing was changed.", kind.url(request, old)
        return f"The {word} {old} is now called {record.name}.", kind.url(request, record.name)

    return submit(request, kind, record, renaming_form(request, kind, record), run, "rename")


# --- delete, asked on a page of its own ---------------------------------------------


def _delete_form(request: Request, kind: Kind[Named], record: Named) -> deform.Form:
    action = kind.url(request, record.name, kind.route("delete"))
    title, formid = f"Delete {kind.word}", f"confirm-delete-{kind.word}"
    return make_form(confirm_schema(request), title, formid, action, button_class=DESTRUCTIVE)


def delete_page(
    request: Request,
    kind: Kind[Named],
    record: Named,
    consequence: str,
    status: int = 200,
    error: str = "",
) -> Response:
    """Asks to delete ``record``, saying what follows (``consequence``)."""
    return confirm_page(
        request,
        kind.section,
        f"Delete the {kind.word} {record.name}?",
        consequence,
        form_html(_delete_form(request, kind, record).render()),
        kind.url(request, record.name),
        f"Back to {record.name}",
        status,
        error,
    )


def delete_submit(
    request: Request, kind: Kind[Named], consequence: Callable[[Request, Named], str]
) -> Response:
    """The delete page's form posted: deleted, and the list."""
    record = kind.record(request)
    try:
        _delete_form(request, kind, record).validate(form_controls(request))
    except deform.ValidationFailure:
        said = consequence(request, record)
        return delete_page(request, kind, record, said, 400, "The form was not complete.")
    name = record.name
    try:
        kind.delete(request.camauth, record)
    except Gone as gone:
        raise RecordNotFound(str(gone)) from None
    request.session.flash(f"The {kind.word} {name} was deleted.")
    return see_other(request.route_path(kind.route("list")))
