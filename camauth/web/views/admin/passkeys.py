"""``/admin/users/{id}/passkeys/{passkey_id}/remove``: an administrator removes one
of a user's passkeys (PRODUCT §19), asked on a page of its own first. It takes a
credential away, so like remove-two-factor it needs the administrator's recent
authentication. The person's sessions are left as they are (remove-two-factor
removes every passkey and ends them). A passkey that is not the user's is a 404."""

from __future__ import annotations

import deform
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ....models import User
from ....models.passkey import Passkey
from ....services import passkeys, serial
from ....services.passkeys import PasskeyError
from ...forms import DESTRUCTIVE, confirm_schema, form_controls, make_form
from ...navigation import RecordNotFound, see_other
from ...reauth import ask_again_unless_recent
from ...rendering import form_html
from ...security import ADMIN
from .common import confirm_page, id_from_url, target_user, user_url

REMOVE = "camauth.admin.user.passkey.remove"
REMOVE_PATTERN = r"/admin/users/{id:\d{1,10}}/passkeys/{passkey_id:\d{1,10}}/remove"
NOT_THERE = "There is no such passkey on this account: it may have been removed."


def _passkey(request: Request, user: User) -> Passkey:
    passkey = request.camauth.db.get(Passkey, id_from_url(request, "passkey_id", NOT_THERE))
    if passkey is None or passkey.user_id != user.id:
        raise RecordNotFound(NOT_THERE)
    return passkey


def _url(request: Request, user: User, passkey_id: int) -> str:
    url: str = request.route_path(REMOVE, id=user.id, passkey_id=passkey_id)
    return url


def _form(request: Request, user: User, passkey_id: int) -> deform.Form:
    url = _url(request, user, passkey_id)
    return make_form(
        confirm_schema(request), "Remove", "remove-passkey", url, button_class=DESTRUCTIVE
    )


def _page(
    request: Request, user: User, passkey: Passkey, status: int = 200, error: str = ""
) -> Response:
    return confirm_page(
        request,
        "users",
        f"Remove the passkey “{passkey.name}” from {user.username}?",
        f"{user.username} can no longer log in or confirm a login with this passkey; "
        "their other passkeys, their password and their sessions stay as they are.",
        "" if error else form_html(_form(request, user, passkey.id).render()),
        user_url(request, user),
        f"Back to {user.username}",
        status,
        error,
    )


@view_config(route_name=REMOVE, request_method="GET", permission=ADMIN)
def remove_page(request: Request) -> Response:
    user = target_user(request)
    passkey = _passkey(request, user)
    return ask_again_unless_recent(request) or _page(request, user, passkey)


@view_config(route_name=REMOVE, request_method="POST", permission=ADMIN)
def remove_submit(request: Request) -> Response:
    user = target_user(request)
    passkey_id = id_from_url(request, "passkey_id", NOT_THERE)
    try:
        _form(request, user, passkey_id).validate(form_controls(request))
    except deform.ValidationFailure:
        return _page(request, user, _passkey(request, user), 400, "The form was not complete.")
    ask_again = ask_again_unless_recent(request, _url(request, user, passkey_id))
    if ask_again is not None:
        return ask_again
    # the passkey is read only after the user's row is held: of two requests at
    # once (a double click) the second waits, then finds it gone (404)
    if not serial.hold_row(request.camauth, user, key_share=True):
        raise RecordNotFound("There is no such user: it may have been deleted.")
    passkey = _passkey(request, user)
    name = passkey.name
    try:
        passkeys.remove(request.camauth, user, passkey.id)
    except PasskeyError:
        raise RecordNotFound(NOT_THERE) from None
    request.session.flash(f"The passkey “{name}” was removed from {user.username}.")
    return see_other(user_url(request, user))
