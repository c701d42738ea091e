"""One typed, validated view of camauth's ini settings.

Every number in PRODUCT.md is a setting under the ``camauth.`` prefix. They are
parsed once at start-up; a bad value raises :class:`SettingsError` whose message
is one line naming the key and what is allowed, so ``pserve`` and the command
line can stop with that line and nothing else.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import timedelta
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from .permission_names import parse_declarations
from .time_zones import zone

PREFIX = "camauth."


class SettingsError(ValueError):
    """A setting has a value camauth cannot use."""


# Large enough for any sensible value (about 19 years in minutes), small enough that
# time arithmetic cannot overflow: a lock that fails to compute would lock nobody.
DEFAULT_MAXIMUM = 10_000_000
MAX_DAYS = 36_500  # a century: day counts added to dates must stay within year 9999


def _int(minimum: int, maximum: int = DEFAULT_MAXIMUM) -> Callable[[str, Any], int]:
    def parse(key: str, raw: Any) -> int:
        allowed = f"expected a whole number from {minimum} to {maximum}, got {raw!r}"
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise SettingsError(f"{PREFIX}{key}: {allowed}") from None
        if not minimum <= value <= maximum:
            raise SettingsError(f"{PREFIX}{key}: {allowed}")
        return value

    return parse


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def parse_bool(key: str, raw: Any) -> bool:
    """A boolean setting (``key`` without the camauth. prefix); SettingsError naming it."""
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SettingsError(f"{PREFIX}{key}: expected true or false, got {raw!r}")


def _choice(*allowed: str) -> Callable[[str, Any], str]:
    def parse(key: str, raw: Any) -> str:
        value = str(raw).strip().lower()
        if value not in allowed:
            raise SettingsError(f"{PREFIX}{key}: expected one of {', '.join(allowed)}, got {raw!r}")
        return value

    return parse


def _text(key: str, raw: Any) -> str:
    return str(raw).strip()


_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,64}")


def _scopes(key: str, raw: Any) -> tuple[str, ...]:
    """Space-separated OAuth scope names (printable ASCII without quote or backslash)."""
    names = tuple(dict.fromkeys(str(raw).split()))
    if not names or not all(_SCOPE_TOKEN.fullmatch(name) for name in names):
        raise SettingsError(
            f"{PREFIX}{key}: expected space-separated scope names such as 'api read', got {raw!r}"
        )
    return names


def _name(key: str, raw: Any) -> str:
    """A name shown on every page, in mails and in authenticator apps."""
    value = " ".join(str(raw).split())
    if not value or len(value) > 60 or not value.isprintable():
        raise SettingsError(
            f"{PREFIX}{key}: expected a name of 1 to 60 printable characters, got {raw!r}"
        )
    return value


def _asset(key: str, raw: Any) -> str:
    """Where the browser fetches an image: a path on this site (the pages' Content
    Security Policy allows images from the site itself only)."""
    value = str(raw).strip()
    if not value:
        return ""
    if not value.startswith("/") or value.startswith("//") or any(c in value for c in '"<> \\'):
        raise SettingsError(
            f"{PREFIX}{key}: expected a path on this site such as /static/logo.svg, got {raw!r}"
        )
    return value


def _time_zone(key: str, raw: Any) -> str:
    value = str(raw).strip()
    if zone(value) is None:
        raise SettingsError(
            f"{PREFIX}{key}: expected a time zone name such as UTC or Europe/London, got {raw!r}"
        )
    return value


def _origin(key: str, raw: Any) -> str:
    """``https://host[:port]`` (or empty): where the links in mails point."""
    value = str(raw).strip().rstrip("/")
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
        raise SettingsError(
            f"{PREFIX}{key}: expected the site's scheme and host such as "
            f"https://auth.example.org, got {raw!r}"
        )
    return value


@dataclass(frozen=True)
class Settings:
    session_idle_timeout_minutes: int = 30
    session_absolute_timeout_hours: int = 12
    session_touch_interval_seconds: int = 60
    session_bind_ip: bool = False
    session_one_per_user: bool = True
    session_cookie_secure: bool = True
    lockout_threshold: int = 10
    lockout_increment_minutes: int = 10
    lockout_max_lockout_minutes: int = 1440
    lockout_failure_window_hours: int = 24
    lockout_ip_threshold: int = 50
    lockout_ip_window_minutes: int = 15
    lockout_unknown_user_retention_days: int = 7
    password_min_length: int = 12
    password_max_length: int = 1024
    password_min_score: int = 3
    password_max_age_days: int = 0
    password_argon2_memory_kib: int = 19456
    password_argon2_time_cost: int = 2
    password_argon2_parallelism: int = 1
    password_reset_minutes: int = 30
    password_invite_hours: int = 72
    terms_revision: str = ""
    mfa_required_for: str = "admins"
    mfa_issuer: str = "camauth"
    mfa_pending_minutes: int = 5
    registration: str = "closed"
    registration_verify_hours: int = 24
    registration_unconfirmed_days: int = 7
    reauth_minutes: int = 5
    device_cookie_days: int = 365
    device_expires_minutes: int = 10
    device_interval_seconds: int = 5
    device_report_block_minutes: int = 60
    api_scopes: tuple[str, ...] = ("api",)
    # "Log in with a passkey" on /login (PRODUCT §19)
    passkeys_passwordless: bool = True
    api_idle_timeout_days: int = 30
    api_absolute_timeout_days: int = 90
    mail_transport: str = "smtp"
    mail_directory: str = "var/mail"
    mail_sender: str = "camauth@localhost"
    mail_smtp_host: str = "localhost"
    mail_smtp_port: int = 25
    mail_smtp_username: str = ""
    mail_smtp_password: str = ""
    mail_smtp_starttls: bool = False
    mail_smtp_ssl: bool = False
    mail_account_limit_per_hour: int = 3
    mail_ip_limit_per_hour: int = 10
    public_url: str = ""
    site_name: str = "camauth"
    timezone: str = "UTC"
    logo_path: str = ""
    favicon_path: str = ""
    templates_directory: str = ""
    secret: str = ""
    # "name = description" lines: the host application's permissions (PRODUCT §17)
    permissions: str = ""

    @cached_property
    def cookie_prefix(self) -> str:
        """``__Host-`` for Secure cookies: a browser then accepts such a cookie only
        from this very host, over https, for path ``/`` (no subdomain or plain-http
        page can plant or overwrite it)."""
        return "__Host-" if self.session_cookie_secure else ""

    # asked for on every request with a session: worked out once
    @cached_property
    def session_touch_interval(self) -> timedelta:
        return timedelta(seconds=self.session_touch_interval_seconds)

    @cached_property
    def browser_session_timeouts(self) -> tuple[timedelta, timedelta]:
        """(idle, absolute)"""
        return (
            timedelta(minutes=self.session_idle_timeout_minutes),
            timedelta(hours=self.session_absolute_timeout_hours),
        )

    @cached_property
    def api_session_timeouts(self) -> tuple[timedelta, timedelta]:
        # API sessions belong to tools a person approved once: days, not hours
        return (
            timedelta(days=self.api_idle_timeout_days),
            timedelta(days=self.api_absolute_timeout_days),
        )


def _ini_key(field_name: str) -> str:
    """``lockout_ip_threshold`` -> ``lockout.ip_threshold`` (first word is the section)."""
    if field_name in {
        "registration",
        "reauth_minutes",
        "public_url",
        "secret",
        "site_name",
        "timezone",
        "logo_path",
        "favicon_path",
        "permissions",
    }:
        return field_name
    section, _, rest = field_name.partition("_")
    return f"{section}.{rest}"


def _permission_lines(key: str, raw: Any) -> str:
    text = str(raw)
    try:
        parse_declarations(text)
    except ValueError as error:
        raise SettingsError(f"{PREFIX}{key}: {error}") from None
    return text


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "session_idle_timeout_minutes": _int(1),
    "session_absolute_timeout_hours": _int(1),
    "session_touch_interval_seconds": _int(0),
    "session_bind_ip": parse_bool,
    "session_one_per_user": parse_bool,
    "session_cookie_secure": parse_bool,
    "lockout_threshold": _int(1),
    "lockout_increment_minutes": _int(1),
    "lockout_max_lockout_minutes": _int(1),
    "lockout_failure_window_hours": _int(1),
    "lockout_ip_threshold": _int(1),
    "lockout_ip_window_minutes": _int(1),
    "lockout_unknown_user_retention_days": _int(1, MAX_DAYS),
    "password_min_length": _int(8),
    "password_max_length": _int(12),
    "password_min_score": _int(0),
    "password_max_age_days": _int(0, MAX_DAYS),
    "password_argon2_memory_kib": _int(8, 4 * 1024 * 1024),
    "password_argon2_time_cost": _int(1, 100),
    "password_argon2_parallelism": _int(1, 64),
    "password_reset_minutes": _int(1, 7 * 24 * 60),
    "password_invite_hours": _int(1, 30 * 24),
    "terms_revision": _text,
    "mfa_required_for": _choice("none", "admins", "all"),
    "mfa_issuer": _text,
    "mfa_pending_minutes": _int(1),
    "registration": _choice("closed", "open", "approval"),
    "registration_verify_hours": _int(1, 30 * 24),
    "registration_unconfirmed_days": _int(1, 365),
    "reauth_minutes": _int(1),
    "device_cookie_days": _int(1, MAX_DAYS),
    "device_expires_minutes": _int(1, 24 * 60),
    "device_interval_seconds": _int(1, 600),
    "device_report_block_minutes": _int(0, MAX_DAYS * 24 * 60),
    "api_scopes": _scopes,
    "passkeys_passwordless": parse_bool,
    "api_idle_timeout_days": _int(1, MAX_DAYS),
    "api_absolute_timeout_days": _int(1, MAX_DAYS),
    "mail_transport": _choice("smtp", "file"),
    "mail_directory": _text,
    "mail_sender": _text,
    "mail_smtp_host": _text,
    "mail_smtp_port": _int(1, 65535),
    "mail_smtp_username": _text,
    "mail_smtp_password": _text,
    "mail_smtp_starttls": parse_bool,
    "mail_smtp_ssl": parse_bool,
    "mail_account_limit_per_hour": _int(1),
    "mail_ip_limit_per_hour": _int(1),
    "public_url": _origin,
    "site_name": _name,
    "timezone": _time_zone,
    "logo_path": _asset,
    "favicon_path": _asset,
    "templates_directory": _text,
    "secret": _text,
    "permissions": _permission_lines,
}

SECRET_ENV = "CAMAUTH_SECRET"
# Secrets and per-host values production keeps out of the ini (plaster does not
# expand environment variables); each wins over its ini key.
ENVIRONMENT_OVERRIDES = {
    "secret": SECRET_ENV,
    "public_url": "CAMAUTH_PUBLIC_URL",
    "mail_sender": "CAMAUTH_MAIL_SENDER",
    "mail_smtp_host": "CAMAUTH_SMTP_HOST",
    "mail_smtp_port": "CAMAUTH_SMTP_PORT",
    "mail_smtp_username": "CAMAUTH_SMTP_USERNAME",
    "mail_smtp_password": "CAMAUTH_SMTP_PASSWORD",
    "mail_smtp_starttls": "CAMAUTH_SMTP_STARTTLS",
    "mail_smtp_ssl": "CAMAUTH_SMTP_SSL",
}
DATABASE_URL_ENV = "CAMAUTH_DATABASE_URL"
MIN_SECRET_LENGTH = 32


def parse_settings(raw: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from ini settings; the environment supplies the secret."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field in fields(Settings):
        key = _ini_key(field.name)
        if PREFIX + key in raw:
            values[field.name] = _PARSERS[field.name](key, raw[PREFIX + key])
    for name, variable in ENVIRONMENT_OVERRIDES.items():
        if environ.get(variable):
            key = _ini_key(name)
            try:
                values[name] = _PARSERS[name](key, environ[variable])
            except SettingsError as error:
                raise SettingsError(str(error).replace(PREFIX + key, variable, 1)) from None
    if "mfa_issuer" not in values and "site_name" in values:
        # authenticator apps list the account under the site's name, unless told otherwise
        values["mfa_issuer"] = values["site_name"]
    settings = Settings(**values)
    if len(settings.secret) < MIN_SECRET_LENGTH:
        raise SettingsError(
            f"{PREFIX}secret: set {SECRET_ENV} (or {PREFIX}secret in a development ini) "
            f"to at least {MIN_SECRET_LENGTH} random characters"
        )
    if settings.password_min_length > settings.password_max_length:
        raise SettingsError(
            f"{PREFIX}password.min_length: must not exceed password.max_length "
            f"({settings.password_max_length})"
        )
    if settings.mail_smtp_starttls and settings.mail_smtp_ssl:
        raise SettingsError(f"{PREFIX}mail.smtp_starttls: choose STARTTLS or SSL, not both")
    if settings.password_min_score > 4:
        raise SettingsError(
            f"{PREFIX}password.min_score: expected 0 to 4, got {settings.password_min_score}"
        )
    return settings


def database_url(raw: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> str:
    """The database URL: the environment wins over the ini (production keeps it out of files)."""
    environ = os.environ if environ is None else environ
    url = environ.get(DATABASE_URL_ENV) or str(raw.get("sqlalchemy.url", "")).strip()
    if not url:
        raise SettingsError(f"sqlalchemy.url: set it in the ini or set {DATABASE_URL_ENV}")
    return url
