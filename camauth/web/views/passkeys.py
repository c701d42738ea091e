"""``/account/passkeys`` (PRODUCT §19): register, list, rename and remove passkeys.

Every change needs a recent authentication. Registering is a ceremony with the
browser: the page's script asks ``/account/passkeys/options`` for the options
(its challenge kept in the session), lets the browser create the passkey, and
posts the answer with its name to ``/account/passkeys``. Someone who owes a
second factor by policy may come here too: a passkey is one.
"""

from __future__ import annotations

from collections.abc import Callable

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...services import passkeys, sessions
from ...services.passkeys import PasskeyError
from ...services.required_actions import Action
from .. import passkey_ceremony as ceremony
from ..context import app_settings
from ..navigation import RecordNotFound, commit_anyway, see_other
from ..reauth import ask_again_unless_recent, reauthenticate_url, recently_authenticated
from ..rendering import render_page
from ..security import action_permission

PAGE = "camauth.account.passkeys"
OPTIONS = "camauth.account.passkeys.options"
RENAME = "camauth.account.passkeys.rename"
REMOVE = "camauth.account.passkeys.remove"
PURPOSE = "register"
# someone who must set up a second factor may add a passkey as theirs
MAY_ADD = action_permission(Action.SET_UP_TWO_FACTOR)
REAUTH_FIRST = "Confirm it is you first: reload this page."


def _page(request: Request, status: int = 200, error: str = "") -> Response:
    return render_page(
        request,
        "account_passkeys.html",
        status=status,
        error=error,
        passkeys=passkeys.passkeys_of(request.camauth, request.user),
        name_length=passkeys.NAME_LENGTH,
        passwordless=app_settings(request.registry).passkeys_passwordless,
    )


@view_config(route_name=PAGE, request_method="GET", permission=MAY_ADD)
def passkeys_page(request: Request) -> Response:
    return ask_again_unless_recent(request) or _page(request)


@view_config(
    route_name="camauth.account.passkeys.options", request_method="POST", permission=MAY_ADD
)
def registration_options(request: Request) -> Response:
    if not recently_authenticated(request):
        return ceremony.refused(403, REAUTH_FIRST)
    options, challenge = passkeys.registration_options(
        request.camauth, ceremony.relying_party(request), request.user
    )
    ceremony.keep_challenge(request, PURPOSE, challenge)
    return ceremony.options_response(options)


@view_config(route_name=PAGE, request_method="POST", permission=MAY_ADD)
def register(request: Request) -> Response:
    if not recently_authenticated(request):
        return ceremony.refused(403, REAUTH_FIRST)
    answer = ceremony.answer(request, PURPOSE, "name", "credential")
    if isinstance(answer, Response):
        return answer
    fields = answer.fields
    user = request.user
    first = not user.has_second_factor
    try:
        passkey = passkeys.register(
            request.camauth,
            ceremony.relying_party(request),
            user,
            fields["credential"],
            answer.challenge,
            fields["name"],
        )
    except PasskeyError as problem:
        # the challenge taken stays taken, even under a host's commit veto
        return commit_anyway(ceremony.refused(400, str(problem)))
    if first:
        # the first second factor: sessions opened without it end, as when an
        # authenticator app is set up
        sessions.end_user_sessions(request.camauth, user, keep_id=request.session.session_id)
    request.session.flash(f"Passkey “{passkey.name}” added.")
    return ceremony.go_to(request.route_path(PAGE))


def _passkey_id(request: Request) -> int:
    try:
        return int(request.matchdict["id"])
    except (KeyError, ValueError):
        raise RecordNotFound("There is no such passkey on your account.") from None


def _changed(request: Request, change: Callable[[int], str]) -> Response:
    """Rename or remove (``change``, given the passkey's id, says what it did),
    after a recent authentication; back to the page with that said."""
    if not recently_authenticated(request):
        return see_other(reauthenticate_url(request, request.route_path(PAGE)))
    try:
        request.session.flash(change(_passkey_id(request)))
    except PasskeyError as problem:
        return _page(request, 400, str(problem))
    return see_other(request.route_path(PAGE))


@view_config(
    route_name="camauth.account.passkeys.rename", request_method="POST", permission=MAY_ADD
)
def rename(request: Request) -> Response:
    def rename_it(passkey_id: int) -> str:
        name = request.POST.get("name", "")
        passkey = passkeys.rename(request.camauth, request.user, passkey_id, name)
        return f"Passkey renamed to “{passkey.name}”."

    return _changed(request, rename_it)


@view_config(
    route_name="camauth.account.passkeys.remove", request_method="POST", permission=MAY_ADD
)
def remove(request: Request) -> Response:
    def remove_it(passkey_id: int) -> str:
        passkeys.remove(request.camauth, request.user, passkey_id)
        return "Passkey removed."

    return _changed(request, remove_it)
