"""A software WebAuthn authenticator (and the browser around it) for tests.

``SoftAuthenticator`` answers the options the ``webauthn`` package makes
(``generate_registration_options`` / ``generate_authentication_options``, as the
dataclass, a dict, or the JSON string of ``options_to_json``) with the JSON a
browser's ``navigator.credentials.create()`` / ``.get()`` result serialises to,
so server code built on ``verify_registration_response`` /
``verify_authentication_response`` can be exercised without a browser.

It holds resident (discoverable) ES256 credentials on P-256 keys, attests with
format "none", and signs ``authenticatorData + sha256(clientDataJSON)``.
Everything binary in the output is base64url without padding.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, options_to_json

ES256 = -7

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_AT = 0x40


class WebAuthnClientError(Exception):
    """What the browser's promise would reject with; ``name`` is the DOMException name."""

    name = "Error"


class InvalidStateError(WebAuthnClientError):
    """create(): the authenticator already holds a credential from excludeCredentials."""

    name = "InvalidStateError"


class NotAllowedError(WebAuthnClientError):
    """get(): no credential of this authenticator can answer."""

    name = "NotAllowedError"


class NotSupportedError(WebAuthnClientError):
    """create(): none of pubKeyCredParams is ES256."""

    name = "NotSupportedError"


@dataclass
class SoftCredential:
    """One resident credential."""

    id: bytes
    rp_id: str
    user_handle: bytes
    user_name: str
    private_key: ec.EllipticCurvePrivateKey
    sign_count: int = 0
    transports: list[str] = field(default_factory=lambda: ["internal", "hybrid"])

    @property
    def public_key_cose(self) -> bytes:
        """The COSE_Key (EC2, P-256, ES256) as the server stores it after registration."""
        numbers = self.private_key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: ES256,  # alg
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    @property
    def public_key_spki(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def _as_dict(options: Any) -> dict[str, Any]:
    if isinstance(options, str | bytes):
        return json.loads(options)
    if isinstance(options, dict):
        return options
    # a PublicKeyCredential{Creation,Request}Options dataclass
    return json.loads(options_to_json(options))


def _as_bytes(value: Any) -> bytes:
    """Options fields that are binary: bytes as they are, strings as base64url."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return base64url_to_bytes(value)
    raise TypeError(f"expected bytes or a base64url string, got {type(value).__name__}")


def _client_data(kind: str, challenge: bytes, origin: str) -> bytes:
    return json.dumps(
        {
            "type": kind,
            "challenge": bytes_to_base64url(challenge),
            "origin": origin,
            "crossOrigin": False,
        },
        separators=(",", ":"),
    ).encode()


def _flags(user_verified: bool, attested: bool = False) -> int:
    flags = FLAG_UP
    if user_verified:
        flags |= FLAG_UV
    if attested:
        flags |= FLAG_AT
    return flags


class SoftAuthenticator:
    """A platform authenticator holding resident (discoverable) ES256 credentials."""

    def __init__(
        self,
        rp_id: str = "localhost",
        origin: str = "http://localhost:6543",
        aaguid: bytes = bytes(16),
    ) -> None:
        if len(aaguid) != 16:
            raise ValueError("aaguid must be 16 bytes")
        self.rp_id = rp_id
        self.origin = origin
        self.aaguid = aaguid
        self.credentials: list[SoftCredential] = []

    def credential(self, credential_id: bytes) -> SoftCredential:
        for cred in self.credentials:
            if cred.id == credential_id:
                return cred
        raise KeyError(credential_id)

    # navigator.credentials.create()
    def register(
        self,
        options: dict | str,
        *,
        user_verified: bool = True,
        origin: str | None = None,
    ) -> dict:
        """Make a new credential for PublicKeyCredentialCreationOptions; return the
        JSON-ready registration response (attestation "none", UP [+UV] +AT, count 0).

        Raises InvalidStateError if an excludeCredentials entry is one of ours and
        NotSupportedError if pubKeyCredParams is non-empty and lacks ES256.
        """
        opts = _as_dict(options)
        rp_id = (opts.get("rp") or {}).get("id") or self.rp_id
        user = opts["user"]

        excluded = {_as_bytes(d["id"]) for d in opts.get("excludeCredentials") or []}
        if any(c.id in excluded and c.rp_id == rp_id for c in self.credentials):
            raise InvalidStateError("The authenticator already holds an excluded credential")
        params = opts.get("pubKeyCredParams") or []
        if params and not any(p.get("alg") == ES256 for p in params):
            raise NotSupportedError("No supported pubKeyCredParams (only ES256)")

        user_handle = _as_bytes(user["id"])
        # a resident credential replaces the one this rp already had for this user
        self.credentials = [
            c for c in self.credentials if not (c.rp_id == rp_id and c.user_handle == user_handle)
        ]
        cred = SoftCredential(
            id=secrets.token_bytes(32),
            rp_id=rp_id,
            user_handle=user_handle,
            user_name=user.get("name", ""),
            private_key=ec.generate_private_key(ec.SECP256R1()),
        )
        self.credentials.append(cred)

        client_data = _client_data(
            "webauthn.create", _as_bytes(opts["challenge"]), origin or self.origin
        )
        attested = self.aaguid + struct.pack(">H", len(cred.id)) + cred.id + cred.public_key_cose
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([_flags(user_verified, attested=True)])
            + struct.pack(">I", cred.sign_count)
            + attested
        )
        attestation_object = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        raw_id = bytes_to_base64url(cred.id)
        return {
            "id": raw_id,
            "rawId": raw_id,
            "type": "public-key",
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "attestationObject": bytes_to_base64url(attestation_object),
                "transports": list(cred.transports),
                "authenticatorData": bytes_to_base64url(auth_data),
                "publicKey": bytes_to_base64url(cred.public_key_spki),
                "publicKeyAlgorithm": ES256,
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    # navigator.credentials.get()
    def assert_(
        self,
        options: dict | str,
        *,
        credential_id: bytes | None = None,
        user_verified: bool = True,
        origin: str | None = None,
        sign_count: int | None = None,
    ) -> dict:
        """Sign an assertion for PublicKeyCredentialRequestOptions; return the
        JSON-ready authentication response.

        The credential is ``credential_id`` if given (used even when allowCredentials
        does not list it, so tests can present a credential the server did not ask
        for), else the first of ours listed in allowCredentials, else (empty
        allowCredentials) the first discoverable one for the rp. Its sign count goes
        up by one, or is set to ``sign_count`` (kept for later assertions).
        Raises NotAllowedError if there is no such credential.
        """
        opts = _as_dict(options)
        rp_id = opts.get("rpId") or self.rp_id

        if credential_id is not None:
            try:
                cred = self.credential(credential_id)
            except KeyError:
                raise NotAllowedError("Unknown credential") from None
        else:
            allowed = [_as_bytes(d["id"]) for d in opts.get("allowCredentials") or []]
            mine = [c for c in self.credentials if c.rp_id == rp_id]
            if allowed:
                mine = [c for c in mine if c.id in allowed]
            if not mine:
                raise NotAllowedError("No credential for this request")
            cred = mine[0]

        cred.sign_count = cred.sign_count + 1 if sign_count is None else sign_count
        client_data = _client_data(
            "webauthn.get", _as_bytes(opts["challenge"]), origin or self.origin
        )
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([_flags(user_verified)])
            + struct.pack(">I", cred.sign_count)
        )
        signature = cred.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        raw_id = bytes_to_base64url(cred.id)
        return {
            "id": raw_id,
            "rawId": raw_id,
            "type": "public-key",
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "authenticatorData": bytes_to_base64url(auth_data),
                "signature": bytes_to_base64url(signature),
                "userHandle": bytes_to_base64url(cred.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }
