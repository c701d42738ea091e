"""``/account/reauthenticate`` with a passkey (PRODUCT §19): the JSON endpoints of
the page's **Confirm with a passkey** button. For someone whose second factor is
a passkey this is the only way to confirm it is them: a password alone is one
factor (``authentication.reauthenticate`` refuses it)."""

from __future__ import annotations

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...models import UNTRUSTED_SCOPE
from ...services import passkey_login, passkeys
from ...services.authentication import Outcome
from .. import passkey_ceremony as ceremony
from ..device import trusted_device_for
from ..navigation import commit_anyway, home_path, safe_next
from ..security import SIGNED_IN
from .login import STATUS, refusal_message

PURPOSE = "reauthenticate"
NO_PASSKEY = "Your account has no passkey."


@view_config(
    route_name="camauth.reauthenticate.passkey.options", request_method="POST", permission=SIGNED_IN
)
def reauthentication_options(request: Request) -> Response:
    user = request.user
    if not user.has_passkeys:
        return ceremony.refused(400, NO_PASSKEY)
    options, challenge = passkeys.authentication_options(
        request.camauth, ceremony.relying_party(request), user, require_verification=True
    )
    ceremony.keep_challenge(request, PURPOSE, challenge)
    return ceremony.options_response(options)


@view_config(
    route_name="camauth.reauthenticate.passkey", request_method="POST", permission=SIGNED_IN
)
def reauthenticate(request: Request) -> Response:
    answer = ceremony.answer(request, PURPOSE, "credential")
    if isinstance(answer, Response):
        return answer
    user = request.user
    result = passkey_login.reauthenticate(
        request.camauth,
        ceremony.relying_party(request),
        user,
        answer.fields["credential"],
        answer.challenge,
        scope=trusted_device_for(request, user) or UNTRUSTED_SCOPE,
    )
    if result.outcome is not Outcome.OK:
        status = STATUS.get(result.outcome, 403)
        return commit_anyway(ceremony.refused(status, refusal_message(result)))
    request.session.mark_authenticated()
    return ceremony.go_to(safe_next(request.GET.get("next")) or home_path(request))
