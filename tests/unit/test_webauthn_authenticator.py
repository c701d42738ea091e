"""The software authenticator against the real ``webauthn`` package (3.x)."""

from __future__ import annotations

import json

import pytest
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidRegistrationResponse,
)
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from tests.webauthn_authenticator import (
    InvalidStateError,
    NotAllowedError,
    SoftAuthenticator,
)

RP_ID = "localhost"
ORIGIN = "http://localhost:6543"
USER_ID = b"user-handle-0001"


def registration_options(exclude: list[bytes] | None = None):
    return generate_registration_options(
        rp_id=RP_ID,
        rp_name="camauth",
        user_id=USER_ID,
        user_name="alice",
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=i) for i in exclude or []],
    )


def authentication_options(allow: list[bytes] | None = None):
    return generate_authentication_options(
        rp_id=RP_ID,
        allow_credentials=[PublicKeyCredentialDescriptor(id=i) for i in allow or []],
        user_verification=UserVerificationRequirement.REQUIRED,
    )


def register(authenticator: SoftAuthenticator):
    options = registration_options()
    response = authenticator.register(options_to_json(options))
    return verify_registration_response(
        credential=response,
        expected_challenge=options.challenge,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
        require_user_verification=True,
    )


def authenticate(response: dict, options, registered, *, current_sign_count: int = 0, **kw):
    return verify_authentication_response(
        credential=response,
        expected_challenge=kw.get("challenge", options.challenge),
        expected_rp_id=RP_ID,
        expected_origin=kw.get("origin", ORIGIN),
        credential_public_key=registered.credential_public_key,
        credential_current_sign_count=current_sign_count,
        require_user_verification=True,
    )


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator()


def test_registration_round_trip(authenticator: SoftAuthenticator) -> None:
    options = registration_options()
    response = authenticator.register(options_to_json(options))

    assert response["type"] == "public-key"
    assert response["authenticatorAttachment"] == "platform"
    assert response["clientExtensionResults"] == {}
    assert "=" not in response["id"] + response["response"]["attestationObject"]
    client_data = json.loads(base64url_to_bytes(response["response"]["clientDataJSON"]))
    assert client_data == {
        "type": "webauthn.create",
        "challenge": bytes_to_base64url(options.challenge),
        "origin": ORIGIN,
        "crossOrigin": False,
    }

    verified = verify_registration_response(
        credential=response,
        expected_challenge=options.challenge,
        expected_rp_id=RP_ID,
        expected_origin=ORIGIN,
        require_user_verification=True,
    )
    [cred] = authenticator.credentials
    assert verified.credential_id == cred.id
    assert verified.credential_public_key == cred.public_key_cose
    assert verified.sign_count == 0
    assert verified.user_verified is True
    assert verified.fmt == "none"
    assert verified.aaguid == "00000000-0000-0000-0000-000000000000"
    assert cred.user_handle == USER_ID
    assert cred.sign_count == 0


def test_registration_accepts_a_dict_and_the_dataclass(authenticator: SoftAuthenticator) -> None:
    for shape in (lambda o: json.loads(options_to_json(o)), lambda o: o):
        options = registration_options()
        verify_registration_response(
            credential=authenticator.register(shape(options)),
            expected_challenge=options.challenge,
            expected_rp_id=RP_ID,
            expected_origin=ORIGIN,
            require_user_verification=True,
        )


def test_registration_wrong_origin_wrong_challenge_or_no_uv_fails(
    authenticator: SoftAuthenticator,
) -> None:
    options = registration_options()

    def verify(response: dict, challenge: bytes = options.challenge) -> None:
        verify_registration_response(
            credential=response,
            expected_challenge=challenge,
            expected_rp_id=RP_ID,
            expected_origin=ORIGIN,
            require_user_verification=True,
        )

    with pytest.raises(InvalidRegistrationResponse, match="origin"):
        verify(authenticator.register(options_to_json(options), origin="https://evil.example"))
    with pytest.raises(InvalidRegistrationResponse, match="challenge"):
        verify(authenticator.register(options_to_json(options)), challenge=b"another challenge")
    with pytest.raises(InvalidRegistrationResponse, match="verif"):
        verify(authenticator.register(options_to_json(options), user_verified=False))


def test_exclude_credentials_is_refused_like_a_browser(authenticator: SoftAuthenticator) -> None:
    register(authenticator)
    own = authenticator.credentials[0].id
    with pytest.raises(InvalidStateError):
        authenticator.register(options_to_json(registration_options(exclude=[own])))
    # someone else's credential id in the list does not matter
    authenticator.register(options_to_json(registration_options(exclude=[b"x" * 32])))


def test_authentication_round_trip_discoverable(authenticator: SoftAuthenticator) -> None:
    registered = register(authenticator)
    options = authentication_options()
    response = authenticator.assert_(options_to_json(options))

    assert response["id"] == bytes_to_base64url(registered.credential_id)
    assert base64url_to_bytes(response["response"]["userHandle"]) == USER_ID
    client_data = json.loads(base64url_to_bytes(response["response"]["clientDataJSON"]))
    assert client_data["type"] == "webauthn.get"

    verified = authenticate(response, options, registered)
    assert verified.new_sign_count == 1
    assert verified.user_verified is True
    assert verified.credential_id == registered.credential_id

    # the next assertion counts on
    options = authentication_options(allow=[registered.credential_id])
    verified = authenticate(
        authenticator.assert_(options_to_json(options)), options, registered, current_sign_count=1
    )
    assert verified.new_sign_count == 2


def test_authentication_with_a_named_credential(authenticator: SoftAuthenticator) -> None:
    first = register(authenticator)
    second = register(SoftAuthenticator())  # another device, same user
    options = authentication_options(allow=[second.credential_id, first.credential_id])
    response = authenticator.assert_(options_to_json(options), credential_id=first.credential_id)
    assert authenticate(response, options, first).new_sign_count == 1

    with pytest.raises(NotAllowedError):
        authenticator.assert_(options_to_json(authentication_options(allow=[b"y" * 32])))


def test_authentication_wrong_origin_fails(authenticator: SoftAuthenticator) -> None:
    registered = register(authenticator)
    options = authentication_options()
    response = authenticator.assert_(options_to_json(options), origin="https://evil.example")
    with pytest.raises(InvalidAuthenticationResponse, match="origin"):
        authenticate(response, options, registered)


def test_authentication_wrong_challenge_fails(authenticator: SoftAuthenticator) -> None:
    registered = register(authenticator)
    options = authentication_options()
    response = authenticator.assert_(options_to_json(options))
    with pytest.raises(InvalidAuthenticationResponse, match="challenge"):
        authenticate(response, options, registered, challenge=authentication_options().challenge)


def test_authentication_without_user_verification_fails(authenticator: SoftAuthenticator) -> None:
    registered = register(authenticator)
    options = authentication_options()
    response = authenticator.assert_(options_to_json(options), user_verified=False)
    with pytest.raises(InvalidAuthenticationResponse, match="verif"):
        authenticate(response, options, registered)


def test_sign_count_that_does_not_go_up_is_refused(authenticator: SoftAuthenticator) -> None:
    """webauthn 3: refused when either counter is non-zero and the new one is not greater."""
    registered = register(authenticator)
    options = authentication_options()
    authenticate(authenticator.assert_(options_to_json(options)), options, registered)

    # replay: same count as the server stored
    options = authentication_options()
    response = authenticator.assert_(options_to_json(options), sign_count=1)
    with pytest.raises(InvalidAuthenticationResponse, match="sign count"):
        authenticate(response, options, registered, current_sign_count=1)

    # a counter that goes back (a clone)
    options = authentication_options()
    response = authenticator.assert_(options_to_json(options), sign_count=3)
    with pytest.raises(InvalidAuthenticationResponse, match="sign count"):
        authenticate(response, options, registered, current_sign_count=7)

    # both zero: an authenticator without a counter is accepted
    options = authentication_options()
    response = authenticator.assert_(options_to_json(options), sign_count=0)
    assert authenticate(response, options, registered).new_sign_count == 0


def test_tampered_signature_fails(authenticator: SoftAuthenticator) -> None:
    registered = register(authenticator)
    options = authentication_options()
    response = authenticator.assert_(options_to_json(options))
    signature = bytearray(base64url_to_bytes(response["response"]["signature"]))
    signature[-1] ^= 0x01
    response["response"]["signature"] = bytes_to_base64url(bytes(signature))
    with pytest.raises(InvalidAuthenticationResponse, match="signature"):
        authenticate(response, options, registered)


def test_signature_from_another_key_fails(authenticator: SoftAuthenticator) -> None:
    registered = register(authenticator)
    other = SoftAuthenticator()
    register(other)
    options = authentication_options()
    response = other.assert_(options_to_json(options))
    with pytest.raises(InvalidAuthenticationResponse, match="signature"):
        authenticate(response, options, registered)
