"""Logging in with a passkey (PRODUCT §19): the JSON endpoints the login pages'
script calls. ``/login/passkey`` logs in without a password (when
``passkeys.passwordless`` is on); ``/login/two-factor/passkey`` is the second
step after the password. Each has an ``/options`` endpoint that starts the
ceremony and keeps its challenge in the session.
"""

from __future__ import annotations

from pyramid.httpexceptions import HTTPNotFound
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...models import UNTRUSTED_SCOPE, User
from ...services import passkey_login, passkeys
from ...services.authentication import LoginResult, Outcome
from .. import passkey_ceremony as ceremony
from .. import pending_login
from ..context import app_settings, housekeeping_if_due
from ..device import trusted_device_for
from ..navigation import commit_anyway, home_path, safe_next
from .login import STATUS, refusal_message, start_login

PASSWORDLESS = "login"
SECOND_STEP = "two-factor"
NO_PENDING_LOGIN = "Your login was not finished in time. Log in again."


def _passwordless_on(request: Request) -> None:
    if not app_settings(request.registry).passkeys_passwordless:
        raise HTTPNotFound("Logging in with a passkey alone is switched off here.")


def _refusal(result: LoginResult) -> Response:
    return commit_anyway(ceremony.refused(STATUS.get(result.outcome, 403), refusal_message(result)))


@view_config(route_name="camauth.login.passkey.options", request_method="POST")
def passwordless_options(request: Request) -> Response:
    _passwordless_on(request)
    options, challenge = passkeys.authentication_options(
        request.camauth, ceremony.relying_party(request)
    )
    ceremony.keep_challenge(request, PASSWORDLESS, challenge)
    return ceremony.options_response(options)


@view_config(route_name="camauth.login.passkey", request_method="POST")
def passwordless_login(request: Request) -> Response:
    _passwordless_on(request)
    # before this request holds any lock (taking the challenge locks the session's
    # row; on SQLite, the database), which the clean-up's own transaction would wait for
    housekeeping_if_due(request)
    answer = ceremony.answer(request, PASSWORDLESS, "credential")
    if isinstance(answer, Response):
        return answer
    pending_login.clear(request)

    def scope_of(user: User) -> str:
        return trusted_device_for(request, user) or UNTRUSTED_SCOPE

    result = passkey_login.passwordless(
        request.camauth,
        ceremony.relying_party(request),
        answer.fields["credential"],
        answer.challenge,
        scope_of,
    )
    if result.outcome is not Outcome.OK or result.user is None:
        return _refusal(result)
    target = safe_next(request.GET.get("next")) or ""
    start_login(request, result.user)
    return ceremony.go_to(target or home_path(request))


@view_config(route_name="camauth.login.two_factor.passkey.options", request_method="POST")
def second_step_options(request: Request) -> Response:
    pending = pending_login.current_or_none(request)
    user = request.camauth.db.get(User, pending.first.user_id) if pending is not None else None
    if pending is None or user is None or not user.has_passkeys:
        return ceremony.refused(400, NO_PENDING_LOGIN)
    options, challenge = passkeys.authentication_options(
        request.camauth, ceremony.relying_party(request), user
    )
    ceremony.keep_challenge(request, SECOND_STEP, challenge)
    return ceremony.options_response(options)


@view_config(route_name="camauth.login.two_factor.passkey", request_method="POST")
def second_step(request: Request) -> Response:
    pending = pending_login.current_or_none(request)
    if pending is None:
        return ceremony.refused(400, NO_PENDING_LOGIN)
    answer = ceremony.answer(request, SECOND_STEP, "credential")
    if isinstance(answer, Response):
        return answer
    result = passkey_login.second_step(
        request.camauth,
        ceremony.relying_party(request),
        pending.first,
        answer.fields["credential"],
        answer.challenge,
    )
    if result.outcome is Outcome.OK and result.user is not None:
        pending_login.clear(request)
        start_login(request, result.user)
        return ceremony.go_to(pending.next or home_path(request))
    if result.outcome in (Outcome.INVALID, Outcome.LOCKED):
        pending_login.clear(request)  # nothing more can finish this login
    if result.outcome is Outcome.INVALID:
        return commit_anyway(ceremony.refused(400, NO_PENDING_LOGIN))
    return _refusal(result)
