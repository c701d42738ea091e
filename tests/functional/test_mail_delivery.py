"""Mail goes out only when the transaction commits; SMTP runs off the request thread.

The SMTP server here is a minimal one written for the test (the mail transport is
outside the product); the app talks to it with pyramid_mailer over a real socket.
"""

from __future__ import annotations

import email
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import webtest

from camauth import main
from camauth.web import mail
from camauth.web.mail import POSTMAN
from camauth.web.views import recovery as recovery_views

from ..conftest import make_app, read_mails
from .conftest import browser, create_user


@dataclass
class Inbox:
    messages: list[email.message.Message] = field(default_factory=list)


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO, MAIL, RCPT, DATA, QUIT."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        inbox: Inbox = self.server.inbox  # type: ignore[attr-defined]
        self.reply("220 test ESMTP")
        while line := self.rfile.readline():
            command = line.decode().strip().upper()
            if command.startswith(("EHLO", "HELO")):
                self.reply("250 test")
            elif command.startswith(("MAIL", "RCPT", "RSET", "NOOP")):
                self.reply("250 OK")
            elif command == "DATA":
                self.reply("354 go ahead")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                inbox.messages.append(email.message_from_bytes(data))
                self.reply("250 queued")
            elif command == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Inbox]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.daemon_threads = True
    server.inbox = Inbox()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], server.inbox  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def smtp_app(ini_settings, clock, port: int):
    settings = {
        **ini_settings,
        "camauth.mail.transport": "smtp",
        "camauth.mail.smtp_host": "127.0.0.1",
        "camauth.mail.smtp_port": str(port),
        "camauth.mail.sender": "Portal <noreply@example.org>",
        "camauth.public_url": "https://auth.example.org",
    }
    return make_app(settings, clock)


def test_smtp_without_a_public_url_refuses_to_start(ini_settings):
    """Links in mails must not come from the Host header a client sends."""
    settings = {**ini_settings, "camauth.mail.transport": "smtp"}
    with pytest.raises(SystemExit) as stopped:
        main({}, **settings)
    message = str(stopped.value)
    assert message.startswith("camauth: camauth.public_url: set CAMAUTH_PUBLIC_URL")
    assert "\n" not in message


def test_without_a_public_url_the_file_transport_uses_the_request_host(app, mail_dir):
    """Development (file transport) may build links from the request."""
    create_user(app, "alice", email="alice@example.org")
    ask_for_reset(browser(app), "alice")
    [mail] = read_mails(mail_dir)
    assert "http://localhost/password/reset/" in mail.body


def ask_for_reset(client: webtest.TestApp, login: str, **kw) -> webtest.TestResponse:
    form = client.get("/password/forgot").forms["forgot-password"]
    form["login"] = login
    return form.submit("submit", **kw)


def test_reset_mail_goes_out_by_smtp_with_the_public_url(ini_settings, clock, smtp_server):
    port, inbox = smtp_server
    app = smtp_app(ini_settings, clock, port)
    create_user(app, "alice", email="alice@example.org")
    response = ask_for_reset(browser(app), "alice")
    assert response.status_int == 303
    app.registry[POSTMAN].wait_until_sent()
    [message] = inbox.messages
    assert message["To"] == "alice@example.org"
    assert message["From"] == "Portal <noreply@example.org>"
    assert message["Subject"] == "Reset your password"
    body = message.get_payload(decode=True).decode()
    # the link uses the configured public address, not the Host the client sent
    assert "https://auth.example.org/password/reset/" in body
    assert "http://localhost" not in body


def test_no_mail_when_the_transaction_does_not_commit(
    ini_settings, clock, smtp_server, monkeypatch
):
    """A mail is handed over only after commit: a failed commit sends nothing."""
    port, inbox = smtp_server
    app = smtp_app(ini_settings, clock, port)
    create_user(app, "alice", email="alice@example.org")

    def refuse_commit() -> None:
        raise RuntimeError("commit refused by the test")

    def send_then_fail_commit(request, *args, **kw):
        mail.send_mail(request, *args, **kw)
        request.tm.get().addBeforeCommitHook(refuse_commit)

    monkeypatch.setattr(recovery_views, "send_mail", send_then_fail_commit)
    response = ask_for_reset(browser(app), "alice", status=500)
    assert "Traceback" not in response.text
    app.registry[POSTMAN].wait_until_sent()
    assert inbox.messages == []


def test_an_unreachable_mail_server_does_not_break_the_request(ini_settings, clock, caplog):
    with socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler) as probe:
        closed_port = probe.server_address[1]  # free once the probe closes
    app = smtp_app(ini_settings, clock, closed_port)
    create_user(app, "alice", email="alice@example.org")
    response = ask_for_reset(browser(app), "alice")
    assert response.status_int == 303
    app.registry[POSTMAN].wait_until_sent()
    assert "could not send mail to alice@example.org" in caplog.text
