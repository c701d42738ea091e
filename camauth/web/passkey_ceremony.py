"""The web side of a passkey ceremony (PRODUCT §19): the relying party, the
challenge, and the JSON the page's script (static/passkeys.js) exchanges.

A challenge is kept in the browser's session for ``CHALLENGE_MINUTES`` and is
taken out of the session's row, locked, when the answer comes: of two answers
sent at once (a replay, a double click) the second finds no challenge. Each
ceremony has its own slot (``purpose``), and asking for new options replaces
the slot's challenge, so only the newest ceremony of a kind can finish.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pyramid.request import Request
from pyramid.response import Response

from ..services.passkeys import CHALLENGE_MINUTES, RelyingParty
from .context import app_settings
from .json_errors import json_error

PREFIX = "_passkey."
MAX_BODY_BYTES = 100_000  # an answer is a few kB; anything near this is garbage
EXPIRED = "The passkey request has expired or was already used. Try again."
CREDENTIAL = "credential"  # the browser's answer: an object, passed on as JSON text


def relying_party(request: Request) -> RelyingParty:
    settings = app_settings(request.registry)
    return RelyingParty.from_public_url(settings.public_url, settings.site_name)


def keep_challenge(request: Request, purpose: str, challenge: str) -> None:
    now: datetime = request.registry["camauth.clock"]()
    until = now + timedelta(minutes=CHALLENGE_MINUTES)
    request.session.put_expiring(PREFIX + purpose, challenge, until)


def take_challenge(request: Request, purpose: str) -> str | None:
    """The challenge kept for ``purpose``, once; None if none is live."""
    challenge = request.session.take_expiring(PREFIX + purpose)
    return challenge if isinstance(challenge, str) else None


class BadAnswer(Exception):
    """The script's request body was not what it sends."""


def answer_fields(request: Request, *names: str) -> dict[str, str]:
    """The named fields of the JSON object posted, each a string. The credential
    (an object) is passed on as JSON text for the ``webauthn`` package to parse."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise BadAnswer("The request is too large.")
    body = request.body_file.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise BadAnswer("The request is too large.")
    try:
        posted = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadAnswer("The request is not JSON.") from None
    if not isinstance(posted, dict):
        raise BadAnswer("The request is not a JSON object.")
    fields: dict[str, str] = {}
    for name in names:
        value: Any = posted.get(name)
        if isinstance(value, dict) and name == CREDENTIAL:  # only the credential is an object
            try:
                value = json.dumps(value)
            except RecursionError:
                raise BadAnswer(f"The request's {name} is nested too deeply.") from None
        if not isinstance(value, str):
            raise BadAnswer(f"The request has no {name}.")
        fields[name] = value
    return fields


@dataclass(frozen=True)
class Answer:
    fields: dict[str, str]  # the named fields posted
    challenge: str  # the one kept for this ceremony, now taken


def answer(request: Request, purpose: str, *names: str) -> Answer | Response:
    """The script's answer to a ``purpose`` ceremony and its challenge (taken, so
    used once), or the 400 to send: a body that is not what the script sends, or
    no live challenge (expired, already used, never asked for)."""
    try:
        fields = answer_fields(request, *names)
    except BadAnswer as bad:
        return refused(400, str(bad))
    challenge = take_challenge(request, purpose)
    if challenge is None:
        return refused(400, EXPIRED)
    return Answer(fields, challenge)


def options_response(options_json: str) -> Response:
    return Response(body=options_json.encode(), content_type="application/json")


def go_to(target: str) -> Response:
    """Success: the script moves the browser on to ``target``."""
    return Response(json_body={"redirect": target})


def refused(status: int, message: str) -> Response:
    return json_error(status, message)
