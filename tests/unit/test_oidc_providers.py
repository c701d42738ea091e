"""Providers as configured: ``camauth.oidc.NAME.KEY`` (services/oidc_providers.py)."""

from __future__ import annotations

import pytest

from camauth.services.oidc_providers import providers_from_settings, secret_variable
from camauth.settings import SettingsError

BASE = {
    "camauth.oidc.google.issuer": "https://accounts.google.com",
    "camauth.oidc.google.client_id": "abc.apps.googleusercontent.com",
    "camauth.oidc.google.client_secret": "from-the-ini",
}


def test_a_provider_with_its_defaults() -> None:
    [(name, provider)] = providers_from_settings(BASE, environ={}).items()
    assert name == "google"
    assert provider.issuer == "https://accounts.google.com"
    assert provider.client_secret == "from-the-ini"
    assert provider.label == "Log in with google"
    assert provider.scopes == "openid email profile"
    assert (provider.signup, provider.link_by_email, provider.skip_two_factor) == (
        "off",
        False,
        False,
    )
    assert provider.allowed_domains == ()
    assert provider.allows_domain("anyone@anywhere.org")


def test_the_environment_secret_wins_and_settings_are_read() -> None:
    settings = BASE | {
        "camauth.oidc.google.label": "  Log in with   Google ",
        "camauth.oidc.google.allowed_domains": "Example.org, research.example.net",
        "camauth.oidc.google.signup": "approval",
        "camauth.oidc.google.link_by_email": "true",
        "camauth.oidc.google.skip_two_factor": "yes",
    }
    environ = {secret_variable("google"): "from-the-environment"}
    provider = providers_from_settings(settings, environ=environ)["google"]
    assert secret_variable("my-idp") == "CAMAUTH_OIDC_MY_IDP_CLIENT_SECRET"
    assert provider.client_secret == "from-the-environment"
    assert provider.label == "Log in with Google"
    assert provider.allowed_domains == ("example.org", "research.example.net")
    assert provider.allows_domain("Ann@EXAMPLE.org") and not provider.allows_domain("a@evil.org")
    assert (provider.signup, provider.link_by_email, provider.skip_two_factor) == (
        "approval",
        True,
        True,
    )


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"camauth.oidc.google.issuer": "accounts.google.com"}, "google.issuer"),
        ({"camauth.oidc.google.client_id": ""}, "google.client_id"),
        ({"camauth.oidc.google.client_secret": ""}, "google.client_secret"),
        ({"camauth.oidc.google.signup": "maybe"}, "google.signup"),
        ({"camauth.oidc.google.scopes": "email profile"}, "google.scopes"),
        ({"camauth.oidc.google.allowed_domains": "not a domain!"}, "google.allowed_domains"),
        ({"camauth.oidc.google.link_by_email": "perhaps"}, "google.link_by_email"),
        ({"camauth.oidc.google.timeout_seconds": "0"}, "google.timeout_seconds"),
        ({"camauth.oidc.google.timeout_seconds": "soon"}, "google.timeout_seconds"),
        ({"camauth.oidc.google.colour": "blue"}, "google.colour"),
        ({"camauth.oidc.Bad Name.issuer": "https://x.org"}, "Bad Name"),
        ({"camauth.oidc.google": "x"}, "camauth.oidc.google"),
    ],
)
def test_a_bad_provider_setting_names_its_key(change: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named.replace(".", r"\.")):
        providers_from_settings(BASE | change, environ={})


def test_an_issuer_is_kept_exactly_as_written() -> None:
    # Auth0's issuer ends in "/", and its ID tokens name it so
    settings = BASE | {"camauth.oidc.google.issuer": "https://tenant.auth0.com/"}
    assert providers_from_settings(settings, environ={})["google"].issuer == (
        "https://tenant.auth0.com/"
    )


def test_no_provider_no_buttons() -> None:
    assert providers_from_settings({"camauth.site_name": "x"}, environ={}) == {}
