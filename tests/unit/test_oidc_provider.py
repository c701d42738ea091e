"""Self-tests of the loopback OIDC provider in tests/oidc_provider.py."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import warnings
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.deprecate import AuthlibDeprecationWarning

from tests.oidc_provider import FakeProvider

with warnings.catch_warnings():
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.jose import JsonWebKey, jwt
    from authlib.jose.errors import BadSignatureError, JoseError

REDIRECT = "http://127.0.0.1:1/oidc/callback?provider=test"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


def authorize(p: FakeProvider, challenge: str, nonce: str = "n-123", **extra: str) -> str:
    params = {
        "response_type": "code",
        "client_id": p.client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid email profile",
        "state": "s-456",
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    r = requests.get(f"{p.issuer}/authorize", params=params, allow_redirects=False, timeout=5)
    assert r.status_code == 302, r.text
    location = r.headers["Location"]
    assert location.startswith("http://127.0.0.1:1/oidc/callback?")
    query = parse_qs(urlsplit(location).query)
    assert query["provider"] == ["test"]
    assert query["state"] == ["s-456"]
    return query["code"][0]


def exchange(
    p: FakeProvider, code: str, verifier: str, basic: bool = True, **extra: str
) -> requests.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        **extra,
    }
    auth = None
    if basic:
        auth = (p.client_id, p.client_secret)
    else:
        form |= {"client_id": p.client_id, "client_secret": p.client_secret}
    return requests.post(f"{p.issuer}/token", data=form, auth=auth, timeout=5)


def login(p: FakeProvider, nonce: str = "n-123") -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    code = authorize(p, challenge, nonce=nonce)
    r = exchange(p, code, verifier)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def jwks_of(p: FakeProvider) -> Any:
    return JsonWebKey.import_key_set(requests.get(f"{p.issuer}/jwks", timeout=5).json())


def header_of(token: str) -> dict[str, Any]:
    segment = token.split(".")[0]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


def verify(p: FakeProvider, token: str, nonce: str = "n-123") -> Any:
    claims = jwt.decode(
        token,
        jwks_of(p),
        claims_options={
            "iss": {"essential": True, "value": p.issuer},
            "aud": {"essential": True, "value": p.client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "nonce": {"essential": True, "value": nonce},
        },
    )
    claims.validate()
    return claims


def test_discovery_document(fake_provider: FakeProvider) -> None:
    iss = fake_provider.issuer
    assert iss.startswith("http://127.0.0.1:")
    assert not iss.endswith("/")
    doc = requests.get(f"{iss}/.well-known/openid-configuration", timeout=5).json()
    assert doc["issuer"] == iss
    assert doc["authorization_endpoint"] == f"{iss}/authorize"
    assert doc["token_endpoint"] == f"{iss}/token"
    assert doc["userinfo_endpoint"] == f"{iss}/userinfo"
    assert doc["jwks_uri"] == f"{iss}/jwks"
    assert doc["response_types_supported"] == ["code"]
    assert doc["subject_types_supported"] == ["public"]
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"]
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert {"openid", "email", "profile"} <= set(doc["scopes_supported"])
    assert doc["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]
    keys = requests.get(doc["jwks_uri"], timeout=5).json()["keys"]
    assert [k["kid"] for k in keys] == ["key-1"]
    assert keys[0]["kty"] == "RSA"
    assert "d" not in keys[0]  # public only


def test_round_trip_verifies_against_jwks(fake_provider: FakeProvider) -> None:
    p = fake_provider
    p.will_log_in("user-1", email="ada@example.org", name="Ada Lovelace")
    tokens = login(p, nonce="nonce-xyz")
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] > 0
    assert tokens["scope"] == "openid email profile"
    assert header_of(tokens["id_token"]) == {"alg": "RS256", "typ": "JWT", "kid": "key-1"}
    claims = verify(p, tokens["id_token"], nonce="nonce-xyz")
    now = int(time.time())
    assert claims["sub"] == "user-1"
    assert claims["email"] == "ada@example.org"
    assert claims["email_verified"] is True
    assert claims["name"] == "Ada Lovelace"
    assert now - 5 <= claims["iat"] <= now + 1
    assert claims["exp"] == claims["iat"] + 300

    info = requests.get(
        f"{p.issuer}/userinfo",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=5,
    )
    assert info.json() == {
        "sub": "user-1",
        "email": "ada@example.org",
        "email_verified": True,
        "name": "Ada Lovelace",
    }
    bad = requests.get(f"{p.issuer}/userinfo", headers={"Authorization": "Bearer nope"}, timeout=5)
    assert bad.status_code == 401

    paths = [path for path, _ in p.requests]
    assert paths == ["/authorize", "/token", "/jwks", "/userinfo", "/userinfo"]
    authorize_params = p.requests[0][1]
    assert authorize_params["code_challenge_method"] == "S256"
    token_form = p.requests[1][1]
    assert token_form["_client_auth"] == "client_secret_basic"
    assert token_form["code_verifier"]


def test_client_secret_post_and_unverified_email(fake_provider: FakeProvider) -> None:
    p = fake_provider
    p.will_log_in("user-2", email="bob@example.org", email_verified=False)
    verifier, challenge = pkce_pair()
    r = exchange(p, authorize(p, challenge), verifier, basic=False)
    assert r.status_code == 200, r.text
    claims = verify(p, r.json()["id_token"])
    assert claims["email_verified"] is False
    token_form = next(form for path, form in p.requests if path == "/token")
    assert token_form["_client_auth"] == "client_secret_post"
    assert token_form["client_id"] == p.client_id


def test_user_without_email(fake_provider: FakeProvider) -> None:
    fake_provider.will_log_in("user-3")
    claims = verify(fake_provider, login(fake_provider)["id_token"])
    assert "email" not in claims
    assert "email_verified" not in claims


def test_no_user_means_access_denied(fake_provider: FakeProvider) -> None:
    p = fake_provider
    _, challenge = pkce_pair()
    r = requests.get(
        f"{p.issuer}/authorize",
        params={
            "response_type": "code",
            "client_id": p.client_id,
            "redirect_uri": REDIRECT,
            "state": "s",
            "nonce": "n",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
        allow_redirects=False,
        timeout=5,
    )
    assert r.status_code == 302
    query = parse_qs(urlsplit(r.headers["Location"]).query)
    assert query["error"] == ["access_denied"]
    assert query["state"] == ["s"]


@pytest.mark.parametrize(
    "change",
    [
        {"response_type": "token"},
        {"client_id": "someone-else"},
        {"redirect_uri": None},
        {"state": None},
        {"nonce": None},
        {"code_challenge": None},
        {"code_challenge_method": "plain"},
        {"code_challenge_method": None},
    ],
)
def test_authorize_rejects_bad_requests(
    fake_provider: FakeProvider, change: dict[str, str | None]
) -> None:
    p = fake_provider
    p.will_log_in("user-1")
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": p.client_id,
        "redirect_uri": REDIRECT,
        "state": "s",
        "nonce": "n",
        "code_challenge": pkce_pair()[1],
        "code_challenge_method": "S256",
        **change,
    }
    r = requests.get(
        f"{p.issuer}/authorize",
        params={k: v for k, v in params.items() if v is not None},
        allow_redirects=False,
        timeout=5,
    )
    assert r.status_code == 400


def test_code_is_single_use(fake_provider: FakeProvider) -> None:
    p = fake_provider
    p.will_log_in("user-1")
    verifier, challenge = pkce_pair()
    code = authorize(p, challenge)
    assert exchange(p, code, verifier).status_code == 200
    again = exchange(p, code, verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_wrong_verifier_is_refused(fake_provider: FakeProvider) -> None:
    p = fake_provider
    p.will_log_in("user-1")
    _, challenge = pkce_pair()
    r = exchange(p, authorize(p, challenge), pkce_pair()[0])
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"


def test_wrong_redirect_uri_and_client_auth_are_refused(fake_provider: FakeProvider) -> None:
    p = fake_provider
    p.will_log_in("user-1")
    verifier, challenge = pkce_pair()
    r = exchange(p, authorize(p, challenge), verifier, redirect_uri="http://127.0.0.1:1/other")
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"

    code = authorize(p, challenge)
    r = requests.post(
        f"{p.issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        auth=(p.client_id, "wrong-secret"),
        timeout=5,
    )
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


def test_claims_override_applies_to_next_token_only(fake_provider: FakeProvider) -> None:
    p = fake_provider
    p.will_log_in("user-1", email="ada@example.org")
    p.claims_override = {"aud": "someone-else", "nonce": "x", "email": None}
    token = login(p)["id_token"]
    claims = jwt.decode(token, jwks_of(p))  # signature still fine
    assert claims["aud"] == "someone-else"
    assert claims["nonce"] == "x"
    assert "email" not in claims
    with pytest.raises(JoseError):
        verify(p, token)
    assert p.claims_override == {}
    verify(p, login(p)["id_token"])  # back to normal


@pytest.mark.parametrize(
    "override",
    [
        {"iss": "http://evil"},
        {"exp": int(time.time()) - 3600},
        {"iat": int(time.time()) + 3600},
        {"nonce": "x"},
        {"aud": "someone-else"},
    ],
)
def test_each_bad_claim_fails_verification(
    fake_provider: FakeProvider, override: dict[str, Any]
) -> None:
    p = fake_provider
    p.will_log_in("user-1")
    p.claims_override = override
    with pytest.raises(JoseError):
        verify(p, login(p)["id_token"])


def test_sign_with_unknown_key(fake_provider: FakeProvider) -> None:
    p = fake_provider
    p.will_log_in("user-1")
    p.sign_with = "unknown"
    token = login(p)["id_token"]
    assert header_of(token)["kid"] == "key-unknown"
    with pytest.raises(ValueError):  # Authlib: no key in the set for this kid
        jwt.decode(token, jwks_of(p))
    assert p.sign_with == "key-1"
    verify(p, login(p)["id_token"])


def test_sign_with_forged_key(fake_provider: FakeProvider) -> None:
    p = fake_provider
    p.will_log_in("user-1")
    p.sign_with = "forged"
    token = login(p)["id_token"]
    assert header_of(token)["kid"] == "key-1"
    with pytest.raises(BadSignatureError):
        jwt.decode(token, jwks_of(p))
    assert p.sign_with == "key-1"


def test_rotate_key(fake_provider: FakeProvider) -> None:
    p = fake_provider
    p.will_log_in("user-1")
    old_jwks = jwks_of(p)
    kid = p.rotate_key()
    assert kid == "key-2"
    token = login(p)["id_token"]
    assert header_of(token)["kid"] == "key-2"
    with pytest.raises(ValueError):  # a client with the cached old JWKS
        jwt.decode(token, old_jwks)
    verify(p, token)  # after refreshing the JWKS
    kids = [k["kid"] for k in requests.get(f"{p.issuer}/jwks", timeout=5).json()["keys"]]
    assert kids == ["key-1", "key-2"]
    p.sign_with = "key-1"  # the old key still signs when asked
    assert header_of(login(p)["id_token"])["kid"] == "key-1"
    assert header_of(login(p)["id_token"])["kid"] == "key-2"
    assert p.rotate_key() == "key-3"


def test_down_answers_503(fake_provider: FakeProvider) -> None:
    p = fake_provider
    p.down = True
    for path in ("/.well-known/openid-configuration", "/jwks", "/authorize", "/userinfo"):
        assert requests.get(f"{p.issuer}{path}", timeout=5).status_code == 503
    assert requests.post(f"{p.issuer}/token", data={}, timeout=5).status_code == 503
    p.down = False
    assert requests.get(f"{p.issuer}/jwks", timeout=5).status_code == 200


def test_hold_and_release(fake_provider: FakeProvider) -> None:
    p = fake_provider
    p.hold_requests()
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{p.issuer}/jwks", timeout=0.3)

    result: dict[str, int] = {}
    done = threading.Event()

    def fetch() -> None:
        result["status"] = requests.get(f"{p.issuer}/jwks", timeout=5).status_code
        done.set()

    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    assert not done.wait(0.2)  # still held
    p.release()
    assert done.wait(5)
    assert result["status"] == 200
    worker.join()


def test_stop_releases_held_requests() -> None:
    p = FakeProvider()
    p.start()
    p.hold_requests()
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{p.issuer}/jwks", timeout=0.2)
    p.stop()  # must not hang
    with pytest.raises(RuntimeError):
        _ = p.issuer
