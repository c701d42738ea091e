"""Settings: defaults from PRODUCT §14, and one clear line for every bad value."""

from __future__ import annotations

import pytest

from camauth.settings import SettingsError, database_url, parse_settings

from ..conftest import TEST_SECRET

BASE = {"camauth.secret": TEST_SECRET}
NO_ENV: dict[str, str] = {}


def parse(**ini: str):
    raw = {**BASE, **{f"camauth.{key}": value for key, value in ini.items()}}
    return parse_settings(raw, environ=NO_ENV)


def test_defaults_match_the_product_page():
    s = parse_settings(BASE, environ=NO_ENV)
    assert (
        s.session_idle_timeout_minutes,
        s.session_absolute_timeout_hours,
        s.session_touch_interval_seconds,
        s.session_bind_ip,
        s.session_one_per_user,
        s.session_cookie_secure,
    ) == (30, 12, 60, False, True, True)
    assert (
        s.lockout_threshold,
        s.lockout_increment_minutes,
        s.lockout_max_lockout_minutes,
        s.lockout_failure_window_hours,
        s.lockout_ip_threshold,
        s.lockout_ip_window_minutes,
        s.lockout_unknown_user_retention_days,
    ) == (10, 10, 1440, 24, 50, 15, 7)
    assert (
        s.password_min_length,
        s.password_max_length,
        s.password_min_score,
        s.password_max_age_days,
    ) == (12, 1024, 3, 0)
    assert (
        s.password_argon2_memory_kib,
        s.password_argon2_time_cost,
        s.password_argon2_parallelism,
    ) == (19456, 2, 1)
    assert (s.mfa_required_for, s.mfa_issuer, s.mfa_pending_minutes) == ("admins", "camauth", 5)
    assert (s.registration, s.reauth_minutes) == ("closed", 5)
    assert (s.password_reset_minutes, s.registration_verify_hours) == (30, 24)
    assert (s.mail_account_limit_per_hour, s.mail_ip_limit_per_hour) == (3, 10)
    assert (s.mail_transport, s.mail_smtp_host, s.mail_smtp_port) == ("smtp", "localhost", 25)
    assert (s.mail_smtp_starttls, s.mail_smtp_ssl, s.public_url) == (False, False, "")
    assert (s.api_scopes, s.api_idle_timeout_days, s.api_absolute_timeout_days) == (
        ("api",),
        30,
        90,
    )
    assert (
        s.device_expires_minutes,
        s.device_interval_seconds,
        s.device_report_block_minutes,
    ) == (10, 5, 60)


def test_ini_keys_are_read():
    s = parse(
        **{
            "session.idle_timeout_minutes": "45",
            "session.bind_ip": "yes",
            "session.cookie_secure": "false",
            "lockout.threshold": " 5 ",
            "lockout.max_lockout_minutes": "60",
            "password.argon2_memory_kib": "1024",
            "terms.revision": "2026-03",
            "mfa.required_for": "ALL",
            "mfa.issuer": "Research Portal",
            "registration": "approval",
            "reauth_minutes": "10",
            "api.scopes": " read  write read ",
            "api.idle_timeout_days": "7",
            "device.interval_seconds": "2",
        }
    )
    assert s.api_scopes == ("read", "write")
    assert s.api_idle_timeout_days == 7
    assert s.device_interval_seconds == 2
    assert s.session_idle_timeout_minutes == 45
    assert s.session_bind_ip is True
    assert s.session_cookie_secure is False
    assert s.lockout_threshold == 5
    assert s.lockout_max_lockout_minutes == 60
    assert s.password_argon2_memory_kib == 1024
    assert s.terms_revision == "2026-03"
    assert s.mfa_required_for == "all"
    assert s.mfa_issuer == "Research Portal"
    assert s.registration == "approval"
    assert s.reauth_minutes == 10


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("lockout.threshold", "ten"),
        ("lockout.threshold", "0"),
        ("lockout.threshold", "-1"),
        ("lockout.threshold", "2.5"),
        ("lockout.threshold", ""),
        ("lockout.increment_minutes", "-10"),
        ("lockout.max_lockout_minutes", "a day"),
        ("lockout.failure_window_hours", "0"),
        ("lockout.ip_threshold", "many"),
        ("session.idle_timeout_minutes", "-5"),
        ("session.absolute_timeout_hours", "12h"),
        ("session.touch_interval_seconds", "-1"),
        ("session.bind_ip", "maybe"),
        ("session.one_per_user", "2"),
        ("session.cookie_secure", ""),
        ("password.min_length", "4"),
        ("password.min_score", "5"),
        ("password.min_score", "-1"),
        ("password.max_age_days", "-1"),
        ("password.argon2_memory_kib", "lots"),
        ("password.argon2_time_cost", "0"),
        ("password.argon2_parallelism", "0"),
        ("mfa.required_for", "sometimes"),
        ("mfa.pending_minutes", "0"),
        ("registration", "invite"),
        ("reauth_minutes", "soon"),
        ("lockout.threshold", "1\n2"),
        ("password.reset_minutes", "0"),
        ("registration.verify_hours", "forever"),
        ("mail.transport", "pigeon"),
        ("mail.smtp_port", "70000"),
        ("mail.smtp_starttls", "perhaps"),
        ("mail.account_limit_per_hour", "0"),
        ("mail.ip_limit_per_hour", "-3"),
        ("public_url", "auth.example.org"),
        ("public_url", "https://auth.example.org/login"),
        ("public_url", "ftp://auth.example.org"),
        ("api.scopes", ""),
        ("api.scopes", 'say "hi"'),
        ("api.scopes", "back\\slash"),
        ("api.idle_timeout_days", "0"),
        ("api.absolute_timeout_days", "ninety"),
        ("device.expires_minutes", "0"),
        ("device.interval_seconds", "0"),
        ("device.report_block_minutes", "-1"),
    ],
)
def test_bad_value_is_one_line_naming_the_key(key, value):
    with pytest.raises(SettingsError) as refused:
        parse(**{key: value})
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"camauth.{key}:")


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("lockout.threshold", "ten", "from 1 to 10000000"),
        ("lockout.increment_minutes", "9999999999", "from 1 to 10000000"),  # would overflow
        ("password.argon2_memory_kib", "99999999", "from 8 to 4194304"),
        ("session.bind_ip", "maybe", "true or false"),
        ("mfa.required_for", "sometimes", "none, admins, all"),
        ("registration", "invite", "closed, open, approval"),
    ],
)
def test_bad_value_says_what_is_allowed(key, value, allowed):
    with pytest.raises(SettingsError, match=allowed):
        parse(**{key: value})


def test_mail_and_link_settings_are_read():
    s = parse(
        **{
            "password.reset_minutes": "15",
            "registration.verify_hours": "48",
            "mail.transport": "file",
            "mail.directory": "/srv/mail",
            "mail.sender": "Portal <noreply@example.org>",
            "mail.smtp_starttls": "true",
            "public_url": "https://auth.example.org/",
            "templates.directory": "/srv/camauth-templates",
        }
    )
    assert (s.password_reset_minutes, s.registration_verify_hours) == (15, 48)
    assert (s.mail_transport, s.mail_directory) == ("file", "/srv/mail")
    assert (s.mail_sender, s.mail_smtp_starttls) == ("Portal <noreply@example.org>", True)
    assert s.public_url == "https://auth.example.org"  # no trailing slash: paths are appended
    assert s.templates_directory == "/srv/camauth-templates"


def test_mail_server_and_public_url_come_from_the_environment_first():
    environ = {
        "CAMAUTH_PUBLIC_URL": "https://portal.example.org",
        "CAMAUTH_SMTP_HOST": "smtp.example.org",
        "CAMAUTH_SMTP_PORT": "587",
        "CAMAUTH_SMTP_USERNAME": "portal",
        "CAMAUTH_SMTP_PASSWORD": "s3cret",
        "CAMAUTH_SMTP_STARTTLS": "yes",
        "CAMAUTH_MAIL_SENDER": "noreply@example.org",
    }
    raw = {**BASE, "camauth.mail.smtp_host": "ini-host", "camauth.public_url": "http://ini"}
    s = parse_settings(raw, environ=environ)
    assert (s.public_url, s.mail_smtp_host, s.mail_smtp_port) == (
        "https://portal.example.org",
        "smtp.example.org",
        587,
    )
    assert (s.mail_smtp_username, s.mail_smtp_password) == ("portal", "s3cret")
    assert (s.mail_smtp_starttls, s.mail_sender) == (True, "noreply@example.org")


def test_a_bad_environment_value_names_the_variable():
    with pytest.raises(SettingsError) as refused:
        parse_settings(BASE, environ={"CAMAUTH_SMTP_PORT": "submission"})
    message = str(refused.value)
    assert message.startswith("CAMAUTH_SMTP_PORT: expected a whole number from 1 to 65535")
    assert "\n" not in message


def test_starttls_and_ssl_together_are_refused():
    with pytest.raises(SettingsError, match=r"^camauth\.mail\.smtp_starttls: choose"):
        parse(**{"mail.smtp_starttls": "true", "mail.smtp_ssl": "true"})


def test_min_length_above_max_length_is_refused():
    with pytest.raises(SettingsError, match=r"^camauth\.password\.min_length:"):
        parse(**{"password.min_length": "40", "password.max_length": "20"})


@pytest.mark.parametrize("raw", [{}, {"camauth.secret": "short"}, {"camauth.secret": " " * 40}])
def test_missing_or_short_secret_is_refused(raw):
    with pytest.raises(SettingsError) as refused:
        parse_settings(raw, environ=NO_ENV)
    message = str(refused.value)
    assert message.startswith("camauth.secret:")
    assert "CAMAUTH_SECRET" in message
    assert "\n" not in message


def test_secret_comes_from_the_environment_first():
    from_env = "e" * 40
    s = parse_settings(BASE, environ={"CAMAUTH_SECRET": from_env})
    assert s.secret == from_env
    assert parse_settings({}, environ={"CAMAUTH_SECRET": from_env}).secret == from_env
    with pytest.raises(SettingsError, match=r"camauth\.secret"):
        parse_settings(BASE, environ={"CAMAUTH_SECRET": "too-short"})


def test_database_url_from_environment_wins_over_the_ini():
    ini = {"sqlalchemy.url": "sqlite:///ini.sqlite"}
    assert database_url(ini, environ=NO_ENV) == "sqlite:///ini.sqlite"
    env = {"CAMAUTH_DATABASE_URL": "postgresql://db/prod"}
    assert database_url(ini, environ=env) == "postgresql://db/prod"
    with pytest.raises(SettingsError, match=r"sqlalchemy\.url"):
        database_url({}, environ=NO_ENV)
