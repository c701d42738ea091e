"""Outgoing mail with pyramid_mailer, sent only if the request's transaction commits.

``camauth.mail.transport = file`` (development.ini) writes each mail as an
``.eml`` file under ``camauth.mail.directory``; ``smtp`` (the default) sends
through the server in the ``mail.smtp_*`` settings, which production takes from
the environment (``CAMAUTH_SMTP_HOST`` …).

SMTP delivery runs on a background thread: a request must not take longer when
a mail goes out, or the time of the answer would tell whether an account exists
(recovery, registration). A mail still queued when the process stops is lost;
the person asks again.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import formataddr, formatdate
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment
from pyramid.config import Configurator
from pyramid.request import Request
from pyramid_mailer.mailer import Mailer
from pyramid_mailer.message import Message

from ..models import User
from ..services.accounts import mail_address
from ..settings import PREFIX, Settings, SettingsError
from .context import app_settings
from .rendering import TEMPLATE_ENV

log = logging.getLogger(__name__)

POSTMAN = "camauth.postman"


class _Transport(Protocol):
    def send_immediately(self, message: Message, fail_silently: bool = False) -> None: ...


class Postman:
    """Hands committed mail to the transport, on a worker thread if ``background``."""

    def __init__(self, transport: _Transport, *, background: bool) -> None:
        self.transport = transport
        self.background = background
        self._queue: queue.Queue[Message] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    def deliver(self, message: Message) -> None:
        if not self.background:
            self._send(message)
            return
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="camauth-mail", daemon=True)
                self._worker.start()
        self._queue.put(message)

    def wait_until_sent(self) -> None:
        """Block until every queued mail was handed over (tests and shutdown)."""
        self._queue.join()

    def _work(self) -> None:
        while True:
            message = self._queue.get()
            try:
                self._send(message)
            finally:
                self._queue.task_done()

    def _send(self, message: Message) -> None:
        try:
            self.transport.send_immediately(message)
        except Exception:  # a mail server outage must not break the request or the worker
            log.exception("could not send mail to %s", ", ".join(message.recipients))


FILE_POLICY = default_policy.clone(utf8=True)


class FileTransport:
    """Development's transport: each mail an ``.eml`` file, its body 8-bit UTF-8 (not
    quoted-printable, as the SMTP transport sends it), so the file reads as text."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send_immediately(self, message: Message, fail_silently: bool = False) -> None:
        mail = EmailMessage()
        mail["Subject"] = message.subject
        mail["From"] = message.sender
        mail["To"] = ", ".join(message.recipients)
        mail["Date"] = formatdate(localtime=False)
        mail.set_content(message.body, charset="utf-8", cte="8bit")
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{datetime.now(UTC):%Y%m%d%H%M%S}_{secrets.token_hex(4)}.eml"
        # UTF-8 headers and Unix line ends: a file to read, not a wire format
        (self.directory / name).write_bytes(mail.as_bytes(policy=FILE_POLICY))


def make_postman(settings: Settings) -> Postman:
    if settings.mail_transport == "file":
        return Postman(FileTransport(Path(settings.mail_directory)), background=False)
    mailer = Mailer(
        host=settings.mail_smtp_host,
        port=settings.mail_smtp_port,
        username=settings.mail_smtp_username or None,
        password=settings.mail_smtp_password or None,
        tls=settings.mail_smtp_starttls,
        ssl=settings.mail_smtp_ssl,
        default_sender=settings.mail_sender,
    )
    return Postman(mailer, background=True)


def public_url(request: Request, route_name: str, **parts: Any) -> str:
    """An absolute link for a mail, on ``camauth.public_url`` when it is set.

    Without it the request's own host is used, which a client chooses: behind
    nginx set ``public_url`` (or have nginx pass only known hosts), or someone
    could have a reset link for another person's account point at their site.
    """
    origin = app_settings(request.registry).public_url
    if not origin:
        url: str = request.route_url(route_name, **parts)
        return url
    path: str = request.route_path(route_name, **parts)
    return origin + path


def site_url(request: Request) -> str:
    """The application's root, as links in mails should show it."""
    origin = app_settings(request.registry).public_url
    root: str = origin + request.script_name if origin else request.application_url
    return root


def sender_address(settings: Settings) -> str:
    """The From header: the configured address, shown with the site's name unless
    the setting names someone itself (``Portal <noreply@example.org>``)."""
    sender = settings.mail_sender
    return sender if "<" in sender else formataddr((settings.site_name, sender))


def compose(settings: Settings, to: str, subject: str, body: str) -> Message:
    return Message(
        subject=subject, sender=sender_address(settings), recipients=[mail_address(to)], body=body
    )


def send_test_mail(settings: Settings, to: str) -> str:
    """Send one mail now, through the configured transport, and say where it went;
    a failure (a refused connection, a rejected login) raises ``OSError`` or
    ``smtplib.SMTPException`` for the caller to report."""
    body = (
        f"This is a test mail from {settings.site_name}.\n\n"
        "If you can read it, camauth's mail settings work.\n"
    )
    message = compose(settings, to, f"Test mail from {settings.site_name}", body)
    make_postman(settings).transport.send_immediately(message)
    if settings.mail_transport == "file":
        return f"written to {Path(settings.mail_directory).resolve()}"
    return f"handed to {settings.mail_smtp_host}:{settings.mail_smtp_port}"


def send_mail(
    request: Request, to: str, subject: str, template: str, *, deliver: bool = True, **values: Any
) -> None:
    """Render ``templates/mail/<template>`` and send it once the transaction commits.

    ``deliver=False`` does all the work but the sending, for answers whose timing
    must not tell whether a mail went out.
    """
    environment: Environment = request.registry[TEMPLATE_ENV]
    settings = app_settings(request.registry)
    body = environment.get_template(f"mail/{template}").render(site=site_url(request), **values)
    message = compose(settings, to, subject, body)
    postman: Postman = request.registry[POSTMAN]
    if not deliver:
        return

    def after_commit(committed: bool) -> None:
        if committed:
            postman.deliver(message)

    request.tm.get().addAfterCommitHook(after_commit)


def send_password_changed(request: Request, user: User) -> None:
    """Tell the account's owner their password changed (so an intruder cannot do it quietly)."""
    if not user.email:
        return
    send_mail(
        request,
        user.email,
        "Your password was changed",
        "password_changed.txt",
        username=user.username,
        recover=public_url(request, "camauth.password.forgot"),
    )


def send_two_factor_changed(request: Request, user: User, *, turned_on: bool) -> None:
    """Tell the account's owner two-factor was turned on or off on their account."""
    if not user.email:
        return
    state = "on" if turned_on else "off"
    send_mail(
        request,
        user.email,
        f"Two-factor authentication was turned {state}",
        "two_factor_changed.txt",
        username=user.username,
        turned_on=turned_on,
        recover=public_url(request, "camauth.password.forgot"),
    )


def send_changed_by_administrator(
    request: Request, user: User, change: str, *, to: str | None = None, sessions_ended: bool = True
) -> None:
    """Tell the account's owner an administrator changed how they log in (``change``
    completes "an administrator has ..."), so nobody can do it unnoticed; ``to``
    another address than the account's (the old one, when it changed)."""
    address = to or user.email
    if not address:
        return
    send_mail(
        request,
        address,
        "An administrator changed your account",
        "changed_by_administrator.txt",
        username=user.username,
        change=change,
        sessions_ended=sessions_ended,
    )


def check_public_url(settings: Settings) -> None:
    """Refuse to serve mail by SMTP with links built from the client's Host header.

    A client chooses the Host it sends: without ``public_url`` a reset link for
    someone else's account could point at the sender's site. (The command line
    sends no mail, so only the web application checks this.)
    """
    if settings.mail_transport == "smtp" and not settings.public_url:
        raise SettingsError(
            f"{PREFIX}public_url: set CAMAUTH_PUBLIC_URL (or {PREFIX}public_url) to the "
            "site's address, e.g. https://auth.example.org, so links in mails never come "
            f"from a client's Host header (or use {PREFIX}mail.transport = file)"
        )


def includeme(config: Configurator) -> None:
    settings = app_settings(config.registry)
    check_public_url(settings)
    config.registry[POSTMAN] = make_postman(settings)
