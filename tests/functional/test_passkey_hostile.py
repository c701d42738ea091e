"""Hostile input to the passkey JSON endpoints (PRODUCT §19): whatever is posted,
the answer is a 4xx, JSON ``{"error", "message"}`` (the HTML "Form expired" page
without the CSRF token), never a 500, and nothing is registered and nobody is
logged in.

Three ceremonies, each an options endpoint and an answer endpoint: registering on
/account/passkeys, logging in without a password, and the login's second step."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import webtest
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from ..webauthn_authenticator import SoftAuthenticator
from .conftest import assert_no_traceback, browser, failure_count, table_counts
from .test_passkey_pages import (
    EXPIRED,
    LOGIN,
    LOGIN_OPTIONS,
    NOT_THEIRS,
    OPTIONS,
    PAGE,
    SECOND_OPTIONS,
    SECOND_STEP,
    SECOND_STEP_PAGE,
    csrf_of,
    device,
    post_json,
    refusal,
    signed_in_as,
    stored_passkeys,
    to_second_step,
    user_with_passkey,
)

KINDS = ["register", "passwordless", "second step"]
FORM_EXPIRED = "security token is missing or out of date"
UNKNOWN_PASSKEY = "This passkey is not registered here. Log in with your password."


@dataclass
class Ceremony:
    """One browser part way through a ceremony of ``kind``, as alice (who has one
    passkey) or for her."""

    app: Any
    kind: str
    client: webtest.TestApp
    url: str
    options_url: str
    csrf: str
    respond: Callable[..., dict[str, Any]]  # the authenticator's answer to options
    alices: SoftAuthenticator  # her registered passkey
    fields: dict[str, str] = field(default_factory=dict)

    def options(self) -> str:
        return post_json(self.client, self.options_url, {}, self.csrf).text

    def answer(self, **kw: Any) -> dict[str, Any]:
        return self.respond(self.options(), **kw)

    def send(self, credential: Any, status: Any = "*", **extra: Any) -> webtest.TestResponse:
        body = {**self.fields, "credential": credential, **extra}
        return self.post(body, status)

    def post(self, body: Any, status: Any = "*") -> webtest.TestResponse:
        response = post_json(self.client, self.url, body, self.csrf, status=status)
        assert_no_traceback(response)
        return response

    def refused(self, response: webtest.TestResponse) -> str:
        message = refusal(response)
        self.nothing_done()
        return message

    def nothing_done(self) -> None:
        assert len(stored_passkeys(self.app)) == 1
        if self.kind != "register":
            assert signed_in_as(self.client) is None

    def succeeds(self, response: webtest.TestResponse) -> None:
        assert response.status_int == 200 and "redirect" in response.json
        if self.kind == "register":
            assert len(stored_passkeys(self.app)) == 2
        else:
            assert signed_in_as(self.client) == "alice"


def ceremony(app: Any, kind: str) -> Ceremony:
    _, alices, client = user_with_passkey(app, "alice")
    if kind != "register":
        return login_ceremony(app, kind, alices)
    csrf = csrf_of(client.get(PAGE))
    respond = device().register
    return Ceremony(app, kind, client, PAGE, OPTIONS, csrf, respond, alices, {"name": "Phone"})


def login_ceremony(app: Any, kind: str, alices: SoftAuthenticator) -> Ceremony:
    """A new browser logging in as alice: without a password, or after it."""
    if kind == "passwordless":
        client = browser(app, ip="198.51.100.7")
        csrf = csrf_of(client.get("/login"))
        return Ceremony(app, kind, client, LOGIN, LOGIN_OPTIONS, csrf, alices.assert_, alices)
    client = to_second_step(app, "alice")
    csrf = csrf_of(client.get(SECOND_STEP_PAGE))
    return Ceremony(app, kind, client, SECOND_STEP, SECOND_OPTIONS, csrf, alices.assert_, alices)


@pytest.fixture(params=KINDS)
def started(request: pytest.FixtureRequest, app: Any) -> Ceremony:
    return ceremony(app, request.param)


# --- the CSRF token ---------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "forged-token-0123456789abcdef"])
def test_without_the_csrf_token_nothing_happens(started: Ceremony, token: str | None) -> None:
    c = started
    answer = c.answer()  # to the options asked for with the token
    before = table_counts(c.app)

    for url, body in ((c.options_url, {}), (c.url, {**c.fields, "credential": answer})):
        refused = post_json(c.client, url, body, token, status=400)
        assert refused.content_type == "text/html"
        assert FORM_EXPIRED in refused.text
        assert_no_traceback(refused)
    assert table_counts(c.app) == before
    c.nothing_done()
    # neither request touched the ceremony: the answer still works
    c.succeeds(c.send(answer, status=200))


# --- bodies that are not what the script sends ---------------------------------------


BODIES = {
    "form encoded": b"credential=abc&name=Phone",
    "not JSON": b"{credential: nope",
    "not UTF-8": b'{"credential": "\xff\xfe"}',
    "array": b'[{"credential": {}}]',
    "string": b'"credential"',
    "number": b"42",
    "null": b"null",
    "empty": b"",
    "huge": b'{"credential": "' + b"A" * 100_001 + b'"}',
    "huge name": b'{"name": "' + b"A" * 100_001 + b'", "credential": {}}',
    "no credential": b'{"name": "Phone"}',
    "credential null": b'{"name": "Phone", "credential": null}',
    "credential number": b'{"name": "Phone", "credential": 7}',
    "credential true": b'{"name": "Phone", "credential": true}',
    "credential array": b'{"name": "Phone", "credential": ["a"]}',
    "credential empty object": b'{"name": "Phone", "credential": {}}',
    "credential empty string": b'{"name": "Phone", "credential": ""}',
    "credential not JSON text": b'{"name": "Phone", "credential": "{not json"}',
    "credential too long": b'{"name": "Phone", "credential": "' + b"A" * 64_001 + b'"}',
    "credential wrong shapes": json.dumps(
        {
            "name": "Phone",
            "credential": {
                "id": 5,
                "rawId": ["x"],
                "type": "public-key",
                "response": {"clientDataJSON": {"a": 1}, "signature": None},
            },
        }
    ).encode(),
    "credential id with NUL": json.dumps(
        {"name": "Phone", "credential": {"id": "a\u0000b", "rawId": "a\u0000b", "response": {}}}
    ).encode(),
    "credential bad base64": json.dumps(
        {
            "name": "Phone",
            "credential": {
                "id": "!!!",
                "rawId": "!!!",
                "type": "public-key",
                "response": {
                    "clientDataJSON": "%%%",
                    "attestationObject": "%%%",
                    "authenticatorData": "%%%",
                    "signature": "%%%",
                },
            },
        }
    ).encode(),
}


@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_bodies_that_are_not_the_scripts(started: Ceremony, body: bytes) -> None:
    started.options()
    started.refused(started.post(body))


def test_deeply_nested_json_is_refused(started: Ceremony) -> None:
    started.options()
    nested = b'{"credential": ' + b"[" * 40_000 + b"]" * 40_000 + b"}"
    started.refused(started.post(nested))


def test_answer_parts_swapped_and_garbled(started: Ceremony) -> None:
    answer = started.answer()
    answer["response"]["clientDataJSON"] = answer["response"].get(
        "authenticatorData", answer["response"]["clientDataJSON"][::-1]
    )
    started.refused(started.send(answer))


# --- the passkey's name ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "\t\n",
        "x" * 65,
        "nul\x00byte",
        "bell\x07",
        "escape\x1b[31m",
        "del\x7f",
        "right\u202eto left",
        "zero\u200bwidth",
        5,
        None,
        ["Phone"],
    ],
)
def test_bad_names_are_refused(app: Any, name: Any) -> None:
    c = ceremony(app, "register")
    message = c.refused(c.send(c.answer(), name=name))
    assert ("name" in message) or ("printable" in message)


def test_a_name_that_is_an_object_is_refused(app: Any) -> None:
    # only the credential is an object: a name that is one was once stored as JSON text
    c = ceremony(app, "register")
    c.refused(c.send(c.answer(), name={"a": 1}))
    assert [p.name for p in stored_passkeys(app)] == ["Laptop"]  # the one made in setting up


@pytest.mark.parametrize(
    "name", ["Schlüssel für Ärger", "鍵 🔑", "x" * 64, "<script>alert(1)</script>"]
)
def test_unicode_and_markup_names_are_kept_and_escaped(app: Any, name: str) -> None:
    c = ceremony(app, "register")
    c.succeeds(c.send(c.answer(), name=name))
    assert [p.name for p in stored_passkeys(app)][-1] == name
    page = c.client.get(PAGE, status=200)
    assert "<script>alert" not in page.text
    assert name in [td.get_text() for td in page.html.select("#passkey-list td")]


# --- answers that are well-formed but wrong ---------------------------------------------


def test_an_answer_to_superseded_options_is_refused(started: Ceremony) -> None:
    first = started.options()
    started.options()  # a newer ceremony replaces the challenge
    started.refused(started.send(started.respond(first)))


def test_an_answer_to_a_made_up_challenge_is_refused(started: Ceremony) -> None:
    options = json.loads(started.options())
    options["challenge"] = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo"
    started.refused(started.send(started.respond(json.dumps(options))))


def test_a_refused_answer_uses_up_the_challenge(started: Ceremony) -> None:
    options = started.options()
    started.refused(started.send(started.respond(options, origin="https://evil.example")))
    assert started.refused(started.send(started.respond(options), status=400)) == EXPIRED


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://localhost:6544", "https://localhost:6543"]
)
def test_an_answer_from_another_origin_is_refused(started: Ceremony, origin: str) -> None:
    started.refused(started.send(started.answer(origin=origin)))


def test_an_answer_for_another_relying_party_is_refused(started: Ceremony) -> None:
    options = json.loads(started.options())
    if started.kind == "register":
        options["rp"] = {"id": "evil.example", "name": "evil"}
        answer = started.respond(json.dumps(options))
    else:  # alice's passkey, signing for another site
        options["rpId"] = "evil.example"
        mine = started.alices.credentials[0].id
        answer = started.respond(json.dumps(options), credential_id=mine)
    started.refused(started.send(answer))


def test_an_answer_to_another_ceremony_is_refused(app: Any) -> None:
    # one browser with both login ceremonies open: each has its own challenge, and
    # an answer to one does not finish the other
    c = ceremony(app, "second step")
    to_passwordless = c.alices.assert_(post_json(c.client, LOGIN_OPTIONS, {}, c.csrf).text)
    c.options()
    c.refused(c.send(to_passwordless, status=403))
    to_the_second_step = c.answer()
    refused = post_json(c.client, LOGIN, {"credential": to_the_second_step}, c.csrf, status=403)
    c.refused(refused)


@pytest.mark.parametrize("kind", ["register", "passwordless"])
def test_without_user_verification(app: Any, kind: str) -> None:
    c = ceremony(app, kind)
    c.refused(c.send(c.answer(user_verified=False)))


def test_the_second_step_does_not_insist_on_user_verification(app: Any) -> None:
    # "preferred" there: the password came first (a control for the test above)
    c = ceremony(app, "second step")
    c.succeeds(c.send(c.answer(user_verified=False)))


@pytest.mark.parametrize("kind", ["passwordless", "second step"])
def test_a_replayed_assertion_is_refused(app: Any, kind: str) -> None:
    victim = ceremony(app, kind)
    answer = victim.answer()
    victim.succeeds(victim.send(answer))
    # someone who captured the answer sends it in a ceremony of their own
    attacker = login_ceremony(app, kind, victim.alices)
    attacker.options()
    attacker.refused(attacker.send(answer))
    # and in the victim's browser the challenge is used up
    csrf = csrf_of(victim.client.get("/"))
    replayed = post_json(victim.client, victim.url, {"credential": answer}, csrf, status="*")
    assert refusal(replayed) in (EXPIRED, "Your login was not finished in time. Log in again.")


def stranger_answer(options: str) -> dict[str, Any]:
    """An assertion of a passkey this site never registered."""
    stranger = device()
    stranger.register(
        {
            "rp": {"id": "localhost", "name": "camauth"},
            "user": {"id": "c3RyYW5nZXI", "name": "stranger"},
            "challenge": "c3RyYW5nZXI",
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        }
    )
    return stranger.assert_(options, credential_id=stranger.credentials[0].id)


@pytest.mark.parametrize(
    ("kind", "message"), [("passwordless", UNKNOWN_PASSKEY), ("second step", NOT_THEIRS)]
)
def test_a_passkey_nobody_registered(app: Any, kind: str, message: str) -> None:
    c = ceremony(app, kind)
    refused = c.send(stranger_answer(c.options()), status=403)
    assert c.refused(refused) == message


def flipped_signature(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer with its signature's last byte changed (still well-formed DER)."""
    signature = bytearray(base64url_to_bytes(answer["response"]["signature"]))
    signature[-1] ^= 0x01
    answer["response"]["signature"] = bytes_to_base64url(bytes(signature))
    return answer


@pytest.mark.parametrize("kind", ["passwordless", "second step"])
def test_bad_signatures_count_toward_the_lockout(app_factory: Any, kind: str) -> None:
    app = app_factory(**{"lockout.threshold": "3"})
    c = ceremony(app, kind)
    statuses = []
    for _ in range(3):
        sent = c.send(flipped_signature(c.answer()))
        c.refused(sent)
        statuses.append(sent.status_int)
    assert statuses == [403, 403, 429]
    assert failure_count(app, "alice") == 3
    # alice's own passkey, unchanged, from another browser: locked too
    later = login_ceremony(app, "passwordless", c.alices)
    assert "locked until" in later.refused(later.send(later.answer(), status=429))
