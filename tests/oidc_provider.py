"""A loopback OpenID Connect provider for tests: the "outside identity provider".

It serves discovery, JWKS, ``/authorize`` (consents at once as the user set with
``will_log_in``), ``/token`` and ``/userinfo`` on 127.0.0.1, with real RS256
ID tokens signed by Authlib's JOSE. Knobs make it misbehave on purpose:
``claims_override`` and ``sign_with`` (next token response only),
``rotate_key``, ``down`` (503 everywhere) and ``hold_requests``/``release``.

Use the ``fake_provider`` fixture (registered for the whole suite by
``pytest_plugins`` in tests/conftest.py) or ``FakeProvider`` directly.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from socketserver import TCPServer, ThreadingMixIn
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from authlib.deprecate import AuthlibDeprecationWarning

with warnings.catch_warnings():
    # Authlib 1.x announces joserfc as the successor of authlib.jose; still supported.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.jose import JsonWebKey, jwt

StartResponse = Callable[..., Any]

# RSA key generation is slow: each named key is made once per process and reused.
_KEYS: dict[str, Any] = {}
_KEYS_LOCK = threading.Lock()


def _rsa_key(name: str) -> Any:
    with _KEYS_LOCK:
        key = _KEYS.get(name)
        if key is None:
            key = JsonWebKey.generate_key("RSA", 2048, is_private=True)
            _KEYS[name] = key
        return key


def s256(verifier: str) -> str:
    """The PKCE S256 code challenge of a code verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class _User:
    sub: str
    email: str | None
    email_verified: bool
    name: str

    def claims(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sub": self.sub, "name": self.name}
        if self.email is not None:
            out["email"] = self.email
            out["email_verified"] = self.email_verified
        return out


@dataclass
class _Grant:
    user: _User
    nonce: str
    redirect_uri: str
    challenge: str
    scope: str


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def get_stderr(self) -> io.StringIO:  # wsgiref's tracebacks go nowhere
        return io.StringIO()


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look up the host's FQDN (slow without DNS).
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # e.g. a client that timed out and hung up: not worth a traceback


class FakeProvider:
    """A loopback OIDC provider: discovery, JWKS, authorize (consents at once), token, userinfo."""

    client_id = "camauth-test"
    client_secret = "test-client-secret"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {"key-1": _rsa_key("key-1")}  # published in the JWKS
        self._current_kid = "key-1"
        self._user: _User | None = None
        self._codes: dict[str, _Grant] = {}
        self._access_tokens: dict[str, _User] = {}
        self._released = threading.Event()
        self._released.set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.claims_override: dict[str, Any] = {}
        self.sign_with = "key-1"
        self.down = False
        self.requests: list[tuple[str, dict[str, str]]] = []

    # -- life cycle -------------------------------------------------------

    def start(self) -> None:
        self._server = make_server(
            "127.0.0.1", 0, self._app, server_class=_Server, handler_class=_QuietHandler
        )
        # A short poll interval keeps stop() (shutdown) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-oidc-provider",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._released.set()  # never leave a handler blocked
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    @property
    def issuer(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeProvider is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    # -- knobs ------------------------------------------------------------

    def will_log_in(
        self, sub: str, email: str | None = None, email_verified: bool = True, name: str = ""
    ) -> None:
        """Who logs in at /authorize from now on (auto-consent)."""
        with self._lock:
            self._user = _User(sub, email, email_verified, name)

    def rotate_key(self) -> str:
        with self._lock:
            kid = f"key-{len(self._keys) + 1}"
            self._keys[kid] = _rsa_key(kid)
            self._current_kid = kid
            self.sign_with = kid
            return kid

    def hold_requests(self) -> None:
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    @property
    def jwks(self) -> dict[str, Any]:
        """The public JWK set, as served at /jwks."""
        with self._lock:
            keys = list(self._keys.items())
        return {"keys": [self._public_jwk(kid, key) for kid, key in keys]}

    @staticmethod
    def _public_jwk(kid: str, key: Any) -> dict[str, Any]:
        return {**key.as_dict(is_private=False), "kid": kid, "use": "sig", "alg": "RS256"}

    # -- WSGI -------------------------------------------------------------

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        params = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length).decode("utf-8")
            params.update(parse_qsl(body, keep_blank_values=True))
        recorded = dict(params)
        if path == "/token":
            recorded["_client_auth"] = self._auth_method(environ, params)
        with self._lock:
            self.requests.append((path, recorded))

        self._released.wait()
        if self.down:
            return _json(start_response, 503, {"error": "temporarily_unavailable"})

        routes: dict[tuple[str, str], Callable[..., Iterable[bytes]]] = {
            ("GET", "/.well-known/openid-configuration"): self._discovery,
            ("GET", "/jwks"): self._jwks,
            ("GET", "/authorize"): self._authorize,
            ("POST", "/token"): self._token,
            ("GET", "/userinfo"): self._userinfo,
            ("POST", "/userinfo"): self._userinfo,
        }
        handler = routes.get((method, path))
        if handler is None:
            return _json(start_response, 404, {"error": "not_found"})
        return handler(environ, params, start_response)

    def _discovery(
        self, environ: dict[str, Any], params: dict[str, str], start_response: StartResponse
    ) -> Iterable[bytes]:
        iss = self.issuer
        return _json(
            start_response,
            200,
            {
                "issuer": iss,
                "authorization_endpoint": f"{iss}/authorize",
                "token_endpoint": f"{iss}/token",
                "userinfo_endpoint": f"{iss}/userinfo",
                "jwks_uri": f"{iss}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "grant_types_supported": ["authorization_code"],
                "claims_supported": [
                    "iss",
                    "sub",
                    "aud",
                    "exp",
                    "iat",
                    "nonce",
                    "email",
                    "email_verified",
                    "name",
                ],
            },
        )

    def _jwks(
        self, environ: dict[str, Any], params: dict[str, str], start_response: StartResponse
    ) -> Iterable[bytes]:
        return _json(start_response, 200, self.jwks)

    def _authorize(
        self, environ: dict[str, Any], params: dict[str, str], start_response: StartResponse
    ) -> Iterable[bytes]:
        def bad(why: str) -> Iterable[bytes]:
            return _json(
                start_response, 400, {"error": "invalid_request", "error_description": why}
            )

        if params.get("response_type") != "code":
            return bad("response_type must be code")
        if params.get("client_id") != self.client_id:
            return bad("unknown client_id")
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri:
            return bad("redirect_uri missing")
        for name in ("state", "nonce", "code_challenge"):
            if not params.get(name):
                return bad(f"{name} missing")
        if params.get("code_challenge_method") != "S256":
            return bad("code_challenge_method must be S256")
        state = params["state"]
        with self._lock:
            user = self._user
            if user is None:
                reply = {"error": "access_denied", "state": state}
            else:
                code = secrets.token_urlsafe(24)
                self._codes[code] = _Grant(
                    user=user,
                    nonce=params["nonce"],
                    redirect_uri=redirect_uri,
                    challenge=params["code_challenge"],
                    scope=params.get("scope", "openid"),
                )
                reply = {"code": code, "state": state}
        start_response("302 Found", [("Location", _add_query(redirect_uri, reply))])
        return [b""]

    @staticmethod
    def _basic_credentials(environ: dict[str, Any]) -> tuple[str, str] | None:
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            raw = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except ValueError:
            return None
        user, sep, password = raw.partition(":")
        if not sep:
            return None
        # RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
        return unquote_plus(user), unquote_plus(password)

    def _auth_method(self, environ: dict[str, Any], params: dict[str, str]) -> str:
        if self._basic_credentials(environ) is not None:
            return "client_secret_basic"
        if "client_secret" in params:
            return "client_secret_post"
        return "none"

    def _token(
        self, environ: dict[str, Any], params: dict[str, str], start_response: StartResponse
    ) -> Iterable[bytes]:
        def error(status: int, code: str, why: str) -> Iterable[bytes]:
            return _json(start_response, status, {"error": code, "error_description": why})

        basic = self._basic_credentials(environ)
        if basic is not None and "client_secret" in params:
            return error(400, "invalid_request", "more than one client authentication")
        if basic is None:
            basic = (params.get("client_id", ""), params.get("client_secret", ""))
        client_id, secret = basic
        if not (
            secrets.compare_digest(client_id.encode(), self.client_id.encode())
            and secrets.compare_digest(secret.encode(), self.client_secret.encode())
        ):
            return error(401, "invalid_client", "client authentication failed")
        if params.get("grant_type") != "authorization_code":
            return error(400, "unsupported_grant_type", "only authorization_code")
        with self._lock:
            grant = self._codes.pop(params.get("code", ""), None)  # single use
        if grant is None:
            return error(400, "invalid_grant", "unknown or used code")
        if params.get("redirect_uri") != grant.redirect_uri:
            return error(400, "invalid_grant", "redirect_uri does not match")
        verifier = params.get("code_verifier", "")
        if not verifier or not secrets.compare_digest(s256(verifier), grant.challenge):
            return error(400, "invalid_grant", "code_verifier does not match")

        with self._lock:
            override, self.claims_override = self.claims_override, {}
            sign_with, self.sign_with = self.sign_with, self._current_kid
            access_token = secrets.token_urlsafe(24)
            self._access_tokens[access_token] = grant.user
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": grant.user.sub,
            "aud": self.client_id,
            "exp": now + 300,
            "iat": now,
            "nonce": grant.nonce,
            **grant.user.claims(),
        }
        for name, value in override.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        id_token = self._sign(claims, sign_with)
        return _json(
            start_response,
            200,
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
                "scope": grant.scope,
            },
        )

    def _sign(self, claims: dict[str, Any], sign_with: str) -> str:
        if sign_with == "unknown":
            kid, key = "key-unknown", _rsa_key("unknown")
        elif sign_with == "forged":
            kid, key = self._current_kid, _rsa_key("forged")
        else:
            with self._lock:
                kid, key = sign_with, self._keys[sign_with]
        header = {"alg": "RS256", "typ": "JWT", "kid": kid}
        token: bytes = jwt.encode(header, claims, key, check=False)
        return token.decode("ascii")

    def _userinfo(
        self, environ: dict[str, Any], params: dict[str, str], start_response: StartResponse
    ) -> Iterable[bytes]:
        header = environ.get("HTTP_AUTHORIZATION", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        with self._lock:
            user = self._access_tokens.get(token)
        if user is None:
            start_response(
                "401 Unauthorized",
                [
                    ("Content-Type", "application/json"),
                    ("WWW-Authenticate", 'Bearer error="invalid_token"'),
                ],
            )
            return [json.dumps({"error": "invalid_token"}).encode()]
        return _json(start_response, 200, user.claims())


def _json(start_response: StartResponse, status: int, body: dict[str, Any]) -> Iterable[bytes]:
    data = json.dumps(body).encode("utf-8")
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [data]


def _add_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(extra)}" if parts.query else urlencode(extra)
    return urlunsplit(parts._replace(query=query))


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    """A started loopback OIDC provider, stopped after the test."""
    provider = FakeProvider()
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()
