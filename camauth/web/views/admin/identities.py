"""``/admin/users/{id}/identities/{identity_id}/unlink``: an administrator unlinks
one of a user's logins at another provider (PRODUCT §18), asked on a page of its
own first. Never the person's last way to log in: the service refuses that, and
the page says why (400). An identity that is not the user's is a 404."""

from __future__ import annotations

import deform
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ....models import ExternalIdentity, User
from ....services import external_login
from ....services.accounts import AccountError
from ...forms import DESTRUCTIVE, confirm_schema, form_controls, make_form
from ...navigation import RecordNotFound, see_other
from ...rendering import form_html
from ...security import ADMIN
from .common import confirm_page, id_from_url, target_user, user_url

UNLINK = "camauth.admin.user.identity.unlink"
UNLINK_PATTERN = r"/admin/users/{id:\d{1,10}}/identities/{identity_id:\d{1,10}}/unlink"
NOT_LINKED = "There is no such provider login on this account: it may have been unlinked."


def _identity(request: Request, user: User) -> ExternalIdentity:
    identity = external_login.identity_of(
        request.camauth, user, id_from_url(request, "identity_id", NOT_LINKED)
    )
    if identity is None:
        raise RecordNotFound(NOT_LINKED)
    return identity


def _form(request: Request, user: User, identity_id: int) -> deform.Form:
    url = request.route_path(UNLINK, id=user.id, identity_id=identity_id)
    return make_form(
        confirm_schema(request), "Unlink", "unlink-identity", url, button_class=DESTRUCTIVE
    )


def _page(
    request: Request, user: User, identity: ExternalIdentity, status: int = 200, error: str = ""
) -> Response:
    label = identity.provider  # the name it is configured under
    account = f" ({identity.email})" if identity.email else ""
    return confirm_page(
        request,
        "users",
        f"Unlink the {label} login{account} from {user.username}?",
        f"{user.username} can no longer log in with this {label} login (subject "
        f"{identity.subject}); the other ways they log in stay as they are.",
        "" if error else form_html(_form(request, user, identity.id).render()),
        user_url(request, user),
        f"Back to {user.username}",
        status,
        error,
    )


@view_config(route_name=UNLINK, request_method="GET", permission=ADMIN)
def unlink_page(request: Request) -> Response:
    user = target_user(request)
    return _page(request, user, _identity(request, user))


@view_config(route_name=UNLINK, request_method="POST", permission=ADMIN)
def unlink_submit(request: Request) -> Response:
    user = target_user(request)
    identity_id = id_from_url(request, "identity_id", NOT_LINKED)
    try:
        _form(request, user, identity_id).validate(form_controls(request))
    except deform.ValidationFailure:
        return _page(request, user, _identity(request, user), 400, "The form was not complete.")
    # not loaded before the service locks the user and reads it: of two requests
    # at once (a double click) the second then finds it gone
    try:
        identity = external_login.unlink(request.camauth, user, identity_id, by_administrator=True)
    except AccountError as refused:
        # unlinked meanwhile, never linked, another's: 404; the last way to log in: 400
        return _page(request, user, _identity(request, user), 400, str(refused))
    request.session.flash(f"The {identity.provider} login was unlinked from {user.username}.")
    return see_other(user_url(request, user))
