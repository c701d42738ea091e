"""The client side of an OpenID Connect login, with Authlib (PRODUCT §18).

Authorization code flow with PKCE (S256); ``state`` and ``nonce`` are made here
and kept by the caller in the browser's session. Discovery and the provider's
keys are fetched once and cached; the keys are fetched again when a token names
a key id they do not hold (the provider rotated its keys), at most once per
``KEYS_REFRESH_SECONDS``. Every request to the provider has a timeout: a provider
that is down or slow ends the login with :class:`ProviderError`, in bounded time.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session

with warnings.catch_warnings():
    # Authlib 1.9 points to joserfc, its successor, for JOSE; this API stays until 2.0
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.jose import JsonWebKey, JsonWebToken, KeySet
    from authlib.jose.errors import JoseError
    from authlib.oidc.core import CodeIDToken

from .oidc_providers import Provider

# an unknown key id refetches the keys, at most this often: a rotation is picked up
# at once, and tokens naming made-up key ids cannot make camauth hammer the provider
KEYS_REFRESH_SECONDS = 10
LEEWAY_SECONDS = 60  # clock difference allowed for exp and iat
FAILURE_SECONDS = 30  # a discovery that failed is not tried again for this long
# ID tokens are signed with the provider's private key: never an HMAC with a
# public key as the secret, never "none"
_JWT = JsonWebToken(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"])
_REASON = re.compile(r"[a-z_]{1,40}")


class LoginRefused(Exception):
    """The login through the provider did not succeed.

    ``reason`` is for the audit log (short, stable); the message is for the person."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ProviderError(LoginRefused):
    """The provider could not be reached, was too slow, or answered nonsense."""


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str  # where to send the browser
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class VerifiedIdentity:
    issuer: str
    subject: str
    email: str  # "" when the provider gave none
    email_verified: bool
    name: str


class ProviderClient:
    """One configured provider; shared by every request (thread-safe caches)."""

    def __init__(self, provider: Provider, clock: Callable[[], float] = time.time) -> None:
        self.provider = provider
        self._clock = clock
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._refreshed_at: float | None = None
        self._failed_until = 0.0
        self._unreachable = (
            f"{provider.label}: the provider did not answer properly. Try again in a "
            "moment, or log in with your password."
        )

    # --- what the provider publishes --------------------------------------------

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = requests.get(url, timeout=self.provider.timeout_seconds)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as error:
            raise ProviderError("provider_unreachable", self._unreachable) from error
        if not isinstance(document, dict):
            raise ProviderError("provider_unreachable", "The provider answered nonsense.")
        return document

    def metadata(self) -> dict[str, Any]:
        """The discovery document. A failure is remembered for FAILURE_SECONDS: while a
        provider is down, each press of its button answers at once instead of holding
        one of the server's threads for the whole timeout."""
        with self._lock:
            if self._metadata is not None:
                return self._metadata
            if self._clock() < self._failed_until:
                raise ProviderError("provider_unreachable", self._unreachable)
        try:
            document = self._discover()
        except ProviderError:
            with self._lock:
                self._failed_until = self._clock() + FAILURE_SECONDS
            raise
        with self._lock:
            self._metadata = document
        return document

    def _discover(self) -> dict[str, Any]:
        issuer = self.provider.issuer
        document = self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        # exactly the configured issuer (OpenID Connect Discovery 4.3): some end in "/"
        if document.get("issuer") != issuer:
            raise ProviderError("issuer_mismatch", "The provider's discovery names another issuer.")
        for needed in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(needed), str):
                raise ProviderError("bad_discovery", f"The provider's discovery lacks {needed}.")
        return document

    def _key_set(self, refresh: bool = False) -> KeySet:
        now = self._clock()
        with self._lock:
            keys, refreshed_at = self._keys, self._refreshed_at
        if keys is not None:
            if not refresh:
                return keys
            if refreshed_at is not None and now - refreshed_at < KEYS_REFRESH_SECONDS:
                return keys  # refreshed a moment ago: the key id is unknown indeed
        if refresh:  # a failed refresh counts too: no refetching in a loop
            with self._lock:
                self._refreshed_at = now
        document = self._get_json(self.metadata()["jwks_uri"])
        try:
            fetched = JsonWebKey.import_key_set(document)
        except (ValueError, JoseError) as error:
            raise ProviderError("bad_keys", "The provider's keys could not be read.") from error
        with self._lock:
            self._keys = fetched
        return fetched

    # --- the flow ----------------------------------------------------------------

    def _session(self, redirect_uri: str) -> OAuth2Session:
        provider = self.provider
        return OAuth2Session(
            provider.client_id,
            provider.client_secret,
            scope=provider.scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
        )

    def authorization_request(self, redirect_uri: str) -> AuthorizationRequest:
        endpoint = self.metadata()["authorization_endpoint"]
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        with self._session(redirect_uri) as session:
            url, _ = session.create_authorization_url(
                endpoint, state=state, nonce=nonce, code_verifier=verifier
            )
        return AuthorizationRequest(url, state, nonce, verifier)

    def finish(self, redirect_uri: str, code: str, verifier: str, nonce: str) -> VerifiedIdentity:
        """Exchange the code and check the ID token; the identity it vouches for."""
        endpoint = self.metadata()["token_endpoint"]
        try:
            with self._session(redirect_uri) as session:
                token = session.fetch_token(
                    endpoint,
                    code=code,
                    code_verifier=verifier,
                    timeout=self.provider.timeout_seconds,
                )
        except requests.RequestException as error:
            raise ProviderError(
                "provider_unreachable",
                f"{self.provider.label}: the provider did not answer in time. Try again.",
            ) from error
        except (AuthlibBaseError, ValueError) as error:
            raise LoginRefused(
                "token_refused", "The provider refused to finish the login."
            ) from error
        id_token = token.get("id_token") if isinstance(token, dict) else None
        if not isinstance(id_token, str):
            raise LoginRefused("no_id_token", "The provider sent no identity token.")
        identity = self.verify_id_token(id_token, nonce)
        if identity.email or not isinstance(token.get("access_token"), str):
            return identity
        return self._with_userinfo(identity, token["access_token"])

    def _with_userinfo(self, identity: VerifiedIdentity, access_token: str) -> VerifiedIdentity:
        """Some providers put the address only in the userinfo answer: asked when the
        ID token has none. Only an answer about the same subject counts; an answer
        that does not come is no address (the ID token alone stands)."""
        endpoint = self.metadata().get("userinfo_endpoint")
        if not isinstance(endpoint, str):
            return identity
        try:
            response = requests.get(
                endpoint,
                headers={"Authorization": f"Bearer {access_token}"},
                timeout=self.provider.timeout_seconds,
            )
            response.raise_for_status()
            info = response.json()
        except (requests.RequestException, ValueError):
            return identity
        if not isinstance(info, dict) or info.get("sub") != identity.subject:
            return identity
        email = info.get("email")
        return replace(
            identity,
            email=email.strip() if isinstance(email, str) else "",
            email_verified=info.get("email_verified") is True,
            name=identity.name or str(info.get("name") or "")[:200],
        )

    def verify_id_token(self, id_token: str, nonce: str) -> VerifiedIdentity:
        """Signature (refetching rotated keys), iss, aud, exp, iat and nonce."""
        provider = self.provider
        options = {
            "iss": {"essential": True, "value": provider.issuer},
            "aud": {"essential": True, "value": provider.client_id},
            "nonce": {"essential": True},
        }
        params = {"nonce": nonce, "client_id": provider.client_id}
        try:
            try:
                claims = _JWT.decode(
                    id_token,
                    self._key_set(),
                    claims_cls=CodeIDToken,
                    claims_options=options,
                    claims_params=params,
                )
            except ValueError:  # a key id the cached keys do not hold: rotated?
                claims = _JWT.decode(
                    id_token,
                    self._key_set(refresh=True),
                    claims_cls=CodeIDToken,
                    claims_options=options,
                    claims_params=params,
                )
            claims.validate(now=int(self._clock()), leeway=LEEWAY_SECONDS)
        except ProviderError:
            raise
        except Exception as error:  # a token made to fail: any error is a refusal, not a 500
            reason = str(getattr(error, "error", ""))
            raise LoginRefused(
                "id_token_" + (reason if _REASON.fullmatch(reason) else "bad"),
                "The provider's answer could not be verified, so you are not logged in.",
            ) from error
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 255 or "\x00" in subject:
            raise LoginRefused("id_token_bad_sub", "The provider's answer names nobody.")
        email = claims.get("email")
        if isinstance(email, str) and "\x00" in email:
            email = None
        return VerifiedIdentity(
            issuer=provider.issuer,
            subject=subject,
            email=email.strip() if isinstance(email, str) else "",
            email_verified=claims.get("email_verified") is True,
            name=str(claims.get("name") or "")[:200],
        )
