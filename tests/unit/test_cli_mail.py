"""``camauth INI send-test-mail ADDRESS`` checks the mail settings with one real mail."""

from __future__ import annotations

import email
import email.policy
import socket

from camauth import migrate
from camauth.db import make_engine

from .conftest import one_line, write_ini


def migrated_ini(tmp_path, db_url, **extra):
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    engine.dispose()
    return write_ini(tmp_path / "mail.ini", db_url, **extra)


def test_a_test_mail_is_written_as_readable_utf8(tmp_path, db_url, camauth):
    folder = tmp_path / "mail"
    ini = migrated_ini(
        tmp_path,
        db_url,
        **{
            "camauth.mail.transport": "file",
            "camauth.mail.directory": str(folder),
            "camauth.site_name": "Forschungsportal Zürich",
        },
    )
    code, out, err = camauth(ini, "send-test-mail", "ops@example.org")
    assert (code, err) == (0, "")
    assert out == f"Sent a test mail to ops@example.org: written to {folder.resolve()}.\n"
    [path] = list(folder.iterdir())
    raw = path.read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "Test mail from Forschungsportal Zürich"
    assert message["Content-Transfer-Encoding"] == "8bit"
    assert "This is a test mail from Forschungsportal Zürich.".encode() in raw  # as text
    assert "Forschungsportal" in str(message["From"])


def test_an_unreachable_mail_server_is_one_line_and_exit_1(tmp_path, db_url, camauth):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ini = migrated_ini(
        tmp_path,
        db_url,
        **{
            "camauth.mail.smtp_host": "127.0.0.1",
            "camauth.mail.smtp_port": str(port),
            "camauth.public_url": "https://auth.example.org",
        },
    )
    code, out, err = camauth(ini, "send-test-mail", "ops@example.org")
    assert (code, out) == (1, "")
    assert one_line(err).startswith("camauth: the test mail could not be sent:")


def test_a_bad_address_is_a_usage_error(tmp_path, db_url, camauth):
    ini = migrated_ini(tmp_path, db_url, **{"camauth.mail.transport": "file"})
    code, out, err = camauth(ini, "send-test-mail", "not an address")
    assert (code, out) == (2, "")
    assert "Enter an email address" in one_line(err)
