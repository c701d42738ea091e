"""Passkeys: registration and authentication with the `webauthn` package (PRODUCT §19).

No CBOR, COSE or attestation parsing here: the package verifies what the
browser sends. This module decides the rest: the relying party (from the public
URL), which credentials a user may use, the random user handle, and the sign
counter (a counter that goes back means a copied authenticator: refused and
audited as ``passkey_clone_suspected``). Challenges are made here and kept by the
caller (the browser's session), used once, for ``CHALLENGE_MINUTES``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from ..models import User
from ..models.passkey import NAME_LENGTH, Passkey
from . import audit, serial
from .audit import Event
from .context import Context

CHALLENGE_MINUTES = 5
DEVELOPMENT_ORIGIN = "http://localhost:6543"
MAX_RESPONSE_CHARACTERS = 64_000  # a real one is a few kB


class PasskeyError(ValueError):
    """A passkey ceremony that did not succeed; the message is for the person."""


@dataclass(frozen=True)
class RelyingParty:
    id: str  # the host name
    origin: str  # scheme://host[:port], as the browser reports it
    name: str

    @classmethod
    def from_public_url(cls, public_url: str, name: str) -> RelyingParty:
        """The origin as browsers report it: lower-case scheme and host, no default
        port, no path (``https://Login.Example.org:443/`` is ``https://login.example.org``)."""
        parts = urlsplit(public_url or DEVELOPMENT_ORIGIN)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "localhost").lower()
        default_port = {"https": 443, "http": 80}.get(scheme)
        port = f":{parts.port}" if parts.port and parts.port != default_port else ""
        return cls(id=host, origin=f"{scheme}://{host}{port}", name=name)


def passkeys_of(ctx: Context, user: User) -> Sequence[Passkey]:
    return ctx.db.scalars(
        select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.id)
    ).all()


def _user_handle(user: User) -> str:
    """The user's handle, made (and kept on their row) the first time it is needed:
    the options and the stored passkey must name the same one."""
    if user.webauthn_user_handle is None:
        user.webauthn_user_handle = bytes_to_base64url(secrets.token_bytes(32))
    return user.webauthn_user_handle


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    transports = []
    for name in passkey.transports.split():
        try:
            transports.append(AuthenticatorTransport(name))
        except ValueError:
            continue  # a transport newer than this package
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(passkey.credential_id), transports=transports or None
    )


def registration_options(ctx: Context, rp: RelyingParty, user: User) -> tuple[str, str]:
    """(options JSON for the page's script, the challenge to keep in the session)."""
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=base64url_to_bytes(_user_handle(user)),
        user_name=user.username,
        user_display_name=user.full_name or user.username,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[_descriptor(passkey) for passkey in passkeys_of(ctx, user)],
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


def _checked_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise PasskeyError("Give the passkey a name, such as the device it is on.")
    if len(name) > NAME_LENGTH or not name.isprintable():
        raise PasskeyError(f"A passkey name has at most {NAME_LENGTH} printable characters.")
    return name


def _response(raw: str) -> str:
    if not isinstance(raw, str) or not raw or len(raw) > MAX_RESPONSE_CHARACTERS:
        raise PasskeyError("The browser's answer was missing or too large. Try again.")
    return raw


def register(
    ctx: Context, rp: RelyingParty, user: User, raw_response: str, challenge: str, name: str
) -> Passkey:
    """Verify the browser's answer to ``registration_options`` and keep the passkey.

    The user's row is held first, as removals hold it: a registration and the
    removal of the last passkey at the same moment leave ``passkeys_since`` right."""
    name = _checked_name(name)
    serial.hold_row(ctx, user, key_share=True)
    try:
        credential = parse_registration_credential_json(_response(raw_response))
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise PasskeyError(f"The passkey could not be registered: {error}") from None
    credential_id = bytes_to_base64url(verified.credential_id)
    if ctx.db.scalar(select(Passkey.id).where(Passkey.credential_id == credential_id)):
        raise PasskeyError("This passkey is registered already.")
    transports = credential.response.transports or []
    passkey = Passkey(
        user_id=user.id,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=" ".join(str(getattr(t, "value", t)) for t in transports)[:200],
        user_handle=_user_handle(user),
        name=name,
        created_at=ctx.clock(),
    )
    ctx.db.add(passkey)
    if user.passkeys_since is None:
        user.passkeys_since = passkey.created_at
    ctx.db.flush()
    audit.record(ctx, Event.PASSKEY_ADDED, target=user, details={"name": name})
    return passkey


def authentication_options(
    ctx: Context,
    rp: RelyingParty,
    user: User | None = None,
    *,
    require_verification: bool | None = None,
) -> tuple[str, str]:
    """Options for a second step (``user``'s passkeys only) or, without a user, for a
    passwordless login (any discoverable passkey for this site). User verification
    (``require_verification``) is required without a user, preferred with one,
    unless said."""
    allowed = [_descriptor(passkey) for passkey in passkeys_of(ctx, user)] if user else []
    required = user is None if require_verification is None else require_verification
    options = generate_authentication_options(
        rp_id=rp.id,
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.REQUIRED
        if required
        else UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


_CREDENTIAL_ID = re.compile(r"[A-Za-z0-9_-]{1,1400}")


def _parsed_assertion(raw_response: str) -> Any:
    unreadable = PasskeyError("The browser's answer could not be read. Try again.")
    try:
        credential = parse_authentication_credential_json(_response(raw_response))
    except (WebAuthnException, ValueError, TypeError, KeyError, RecursionError):
        raise unreadable from None
    # looked up by id next: base64url only (a NUL is no text PostgreSQL stores)
    if not isinstance(credential.id, str) or not _CREDENTIAL_ID.fullmatch(credential.id):
        raise unreadable
    return credential


def owner_of(ctx: Context, raw_response: str) -> int | None:
    """The id of the user whose passkey signed ``raw_response`` (not yet verified),
    or None for a passkey nobody registered here."""
    credential = _parsed_assertion(raw_response)
    return ctx.db.scalar(select(Passkey.user_id).where(Passkey.credential_id == credential.id))


def authenticate(
    ctx: Context,
    rp: RelyingParty,
    raw_response: str,
    challenge: str,
    user: User | None = None,
    *,
    require_verification: bool | None = None,
) -> Passkey:
    """The passkey that signed the browser's answer, verified and its counter moved on.

    With ``user`` (the second step) it must be one of theirs; without (passwordless)
    user verification is required and the passkey names its user."""
    credential = _parsed_assertion(raw_response)
    # locked to the end of the transaction: two answers at once (from two devices'
    # scopes, which no lock row orders) compare their counters one after the other
    found = select(Passkey).where(Passkey.credential_id == credential.id).with_for_update()
    passkey = ctx.db.scalar(found.execution_options(populate_existing=True))
    if passkey is None or (user is not None and passkey.user_id != user.id):
        raise PasskeyError("This passkey is not registered for this account.")
    handle = credential.response.user_handle
    if handle is not None and bytes_to_base64url(handle) != passkey.user_handle:
        # the authenticator says the credential belongs to someone else's handle
        raise PasskeyError("This passkey is not registered for this account.")
    try:
        # the counter is compared below, after the signature is known to be good
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=0,
            require_user_verification=(
                user is None if require_verification is None else require_verification
            ),
        )
    except (WebAuthnException, ValueError, TypeError, KeyError):
        raise PasskeyError("The passkey's answer could not be verified.") from None
    if _went_back(passkey.sign_count, verified.new_sign_count):
        owner = ctx.db.get(User, passkey.user_id)
        details: dict[str, Any] = {
            "name": passkey.name,
            "stored_count": passkey.sign_count,
            "sent_count": verified.new_sign_count,
        }
        audit.record(ctx, Event.PASSKEY_CLONE_SUSPECTED, target=owner, details=details)
        raise PasskeyError(
            "This passkey's counter went back, which a copied passkey does: it was refused. "
            "Use another way to log in, and tell an administrator."
        )
    passkey.sign_count = verified.new_sign_count
    passkey.last_used_at = ctx.clock()
    return passkey


def _went_back(stored: int, sent: int) -> bool:
    # authenticators without a counter always send 0: nothing to compare
    return (stored > 0 or sent > 0) and sent <= stored


def rename(ctx: Context, user: User, passkey_id: int, name: str) -> Passkey:
    passkey = _own(ctx, user, passkey_id)
    passkey.name = _checked_name(name)
    return passkey


def remove(ctx: Context, user: User, passkey_id: int) -> None:
    serial.hold_row(ctx, user, key_share=True)  # two removals at once: see _forget_if_none
    passkey = _own(ctx, user, passkey_id)
    ctx.db.delete(passkey)
    ctx.db.flush()
    _forget_if_none(ctx, user)
    audit.record(ctx, Event.PASSKEY_REMOVED, target=user, details={"name": passkey.name})


def remove_all(ctx: Context, user: User) -> int:
    """Every passkey of ``user`` (an administrator's remove-two-factor)."""
    removed = 0
    for passkey in passkeys_of(ctx, user):
        ctx.db.delete(passkey)
        removed += 1
    user.passkeys_since = None
    if removed:
        ctx.db.flush()
        audit.record(ctx, Event.PASSKEY_REMOVED, target=user, details={"count": removed})
    return removed


def _forget_if_none(ctx: Context, user: User) -> None:
    """Clear ``passkeys_since`` once the last passkey is gone. The caller holds the
    user's row, so of two requests removing the last two passkeys the second sees
    the first's removal and clears it (without the lock each would see one left)."""
    if not passkeys_of(ctx, user):
        user.passkeys_since = None


def _own(ctx: Context, user: User, passkey_id: int) -> Passkey:
    passkey = ctx.db.get(Passkey, passkey_id)
    if passkey is None or passkey.user_id != user.id:
        raise PasskeyError("There is no such passkey on this account.")
    return passkey
