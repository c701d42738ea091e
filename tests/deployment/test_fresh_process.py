"""A freshly started server's very first request is a logged-in one.

A warmed-up test process hides what every restart shows: SQLAlchemy configures
its mappers lazily, at the first ORM query, and the session lookup builds the
logged-in user without one. So a server that has just started must serve an
existing session on its first request, before anything else has run in it.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import webtest

from camauth.clock import utcnow
from camauth.models import SessionKind
from camauth.services import accounts, sessions

from ..conftest import FAST_ARGON2, GOOD_PASSWORD, TEST_SECRET, app_context, login, make_app
from ..packaging.conftest import clean_env, free_port
from .stack import wait_for_port

pytestmark = pytest.mark.slow

PSERVE = Path(sys.executable).parent / "pserve"


def write_ini(path: Path, db_url: str, port: int, mail_dir: Path) -> None:
    settings = {
        "sqlalchemy.url": db_url,
        "camauth.secret": TEST_SECRET,
        "camauth.session.cookie_secure": "false",
        "camauth.mail.transport": "file",
        "camauth.mail.directory": str(mail_dir),
        "camauth.mfa.required_for": "none",
        **FAST_ARGON2,
    }
    lines = ["[app:main]", "use = egg:camauth", *(f"{k} = {v}" for k, v in settings.items())]
    lines += ["", "[server:main]", "use = egg:waitress#main", f"listen = 127.0.0.1:{port}"]
    path.write_text("\n".join(lines) + "\n")


def first_request_of_a_new_server(
    tmp_path: Path, db_url: str, path: str, headers: dict[str, str]
) -> tuple[int, str]:
    """Start ``pserve`` and make ``path`` its very first request (the port is polled
    without sending anything)."""
    ini = tmp_path / "server.ini"
    port = free_port()
    write_ini(ini, db_url, port, tmp_path / "mail")
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(PSERVE), str(ini)], stdout=out, stderr=subprocess.STDOUT, env=clean_env()
        )
    try:
        wait_for_port(port, server, log)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        body = response.read().decode()
        assert response.status == 200, f"{response.status}\n{body[:2000]}\n{log.read_text()}"
        return response.status, body
    finally:
        server.terminate()
        server.wait(timeout=30)


def app_with_alice(db_url: str, tmp_path: Path) -> Any:
    """Another process (this one) where alice exists, at the real time, since the
    server under test reads the real clock."""
    app = make_app(
        {
            "sqlalchemy.url": db_url,
            "camauth.secret": TEST_SECRET,
            "camauth.session.cookie_secure": "false",
            "camauth.mail.transport": "file",
            "camauth.mail.directory": str(tmp_path / "mail"),
            "camauth.mfa.required_for": "none",
            **FAST_ARGON2,
        },
        utcnow,
    )
    ctx = app_context(app)
    accounts.create_user(ctx, "alice", password=GOOD_PASSWORD)
    ctx.db.commit()
    ctx.db.close()
    return app


def test_first_request_of_a_new_process_carries_a_session(db_url, tmp_path):
    # a session made by another process, as before a restart
    app = app_with_alice(db_url, tmp_path)
    browser = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "192.0.2.10"})
    login(browser, "alice", GOOD_PASSWORD, status=303)
    cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    app.registry["camauth.engine"].dispose()

    _, body = first_request_of_a_new_server(tmp_path, db_url, "/", {"Cookie": cookie})
    assert "Signed in as" in body and "alice" in body


def test_first_request_of_a_new_process_carries_a_bearer_token(db_url, tmp_path):
    app = app_with_alice(db_url, tmp_path)
    ctx = app_context(app)
    try:
        alice = accounts.require_user(ctx, "alice")
        token, row = sessions.create_session(ctx, user=alice, kind=SessionKind.API)
        row.scope = "api"
        ctx.db.commit()
    finally:
        ctx.db.close()
    app.registry["camauth.engine"].dispose()

    headers = {"Authorization": f"Bearer {token}"}
    _, body = first_request_of_a_new_server(tmp_path, db_url, "/api/v1/me", headers)
    assert json.loads(body)["username"] == "alice"
