"""OpenID Connect providers as configured (PRODUCT §18): ``camauth.oidc.NAME.KEY``.

Providers are never hard-coded: each is a group of settings named by the
provider's short name, e.g. ``camauth.oidc.google.issuer``. The client secret
comes from the environment (``CAMAUTH_OIDC_GOOGLE_CLIENT_SECRET``) or, for
development, the ini. A provider with a problem stops the start-up with one
line naming the key, like every other setting.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..settings import PREFIX, SettingsError, parse_bool

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_DOMAIN = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+")
SIGNUP_CHOICES = ("off", "open", "approval")
KEYS = frozenset(
    {
        "issuer",
        "client_id",
        "client_secret",
        "label",
        "scopes",
        "allowed_domains",
        "signup",
        "link_by_email",
        "skip_two_factor",
        "timeout_seconds",
    }
)


@dataclass(frozen=True)
class Provider:
    name: str
    issuer: str
    client_id: str
    client_secret: str
    label: str
    scopes: str = "openid email profile"
    allowed_domains: tuple[str, ...] = ()  # empty: any domain (for sign-up)
    signup: str = "off"
    link_by_email: bool = False
    skip_two_factor: bool = False
    timeout_seconds: float = 5.0  # every request to the provider

    def allows_domain(self, email: str) -> bool:
        domain = email.rpartition("@")[2].lower()
        return not self.allowed_domains or domain in self.allowed_domains


def secret_variable(name: str) -> str:
    return f"CAMAUTH_OIDC_{name.upper().replace('-', '_')}_CLIENT_SECRET"


def _provider(name: str, values: Mapping[str, Any], environ: Mapping[str, str]) -> Provider:
    def key(item: str) -> str:
        return f"{PREFIX}oidc.{name}.{item}"

    unknown = sorted(set(values) - KEYS)
    if unknown:
        raise SettingsError(f"{key(unknown[0])}: not a provider setting")
    # as the provider writes it, a trailing "/" included: ID tokens must name it exactly
    issuer = str(values.get("issuer", "")).strip()
    parts = urlsplit(issuer)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise SettingsError(f"{key('issuer')}: expected the provider's https:// URL")
    client_id = str(values.get("client_id", "")).strip()
    if not client_id:
        raise SettingsError(f"{key('client_id')}: required")
    secret = environ.get(secret_variable(name)) or str(values.get("client_secret", "")).strip()
    if not secret:
        raise SettingsError(f"{key('client_secret')}: required (or {secret_variable(name)})")
    scopes = " ".join(str(values.get("scopes", "openid email profile")).split())
    if "openid" not in scopes.split():
        raise SettingsError(f"{key('scopes')}: must include openid")
    domains = tuple(str(values.get("allowed_domains", "")).lower().replace(",", " ").split())
    for domain in domains:
        if not _DOMAIN.fullmatch(domain):
            raise SettingsError(f"{key('allowed_domains')}: not a domain: {domain!r}")
    signup = str(values.get("signup", "off")).strip().lower()
    if signup not in SIGNUP_CHOICES:
        raise SettingsError(f"{key('signup')}: expected one of {', '.join(SIGNUP_CHOICES)}")
    try:
        timeout = float(values.get("timeout_seconds", 5))
    except ValueError:
        raise SettingsError(f"{key('timeout_seconds')}: expected a number of seconds") from None
    if not 0 < timeout <= 60:
        raise SettingsError(f"{key('timeout_seconds')}: expected more than 0 and at most 60")
    label = " ".join(str(values.get("label", "")).split()) or f"Log in with {name}"
    return Provider(
        name=name,
        issuer=issuer,
        client_id=client_id,
        client_secret=secret,
        label=label[:100],
        scopes=scopes,
        allowed_domains=domains,
        signup=signup,
        link_by_email=parse_bool(f"oidc.{name}.link_by_email", values.get("link_by_email", False)),
        skip_two_factor=parse_bool(
            f"oidc.{name}.skip_two_factor", values.get("skip_two_factor", False)
        ),
        timeout_seconds=timeout,
    )


def providers_from_settings(
    raw: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> dict[str, Provider]:
    """Every configured provider by name, in the order their names sort."""
    environ = os.environ if environ is None else environ
    grouped: dict[str, dict[str, Any]] = {}
    start = f"{PREFIX}oidc."
    for full_key, value in raw.items():
        if not full_key.startswith(start):
            continue
        name, _, item = full_key[len(start) :].partition(".")
        if not _NAME.fullmatch(name) or not item:
            raise SettingsError(
                f"{full_key}: expected {start}NAME.KEY, NAME in lower-case letters, digits, - and _"
            )
        grouped.setdefault(name, {})[item] = value
    return {name: _provider(name, grouped[name], environ) for name in sorted(grouped)}
