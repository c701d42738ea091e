"""A freshly started server's very first request is a logged-in one.

A warmed-up test process hides what every restart shows: SQLAlchemy configures
its mappers lazily, at the first ORM query, and the session lookup builds the
logged-in user without one. So a server that has just started must serve an
existing session on its first request, before anything else has run in it.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
from pathlib import Path

import pytest
import webtest

from camauth.clock import utcnow
from camauth.services import accounts

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


def test_first_request_of_a_new_process_carries_a_session(db_url, tmp_path):
    ini = tmp_path / "server.ini"
    port = free_port()
    write_ini(ini, db_url, port, tmp_path / "mail")

    # a session made by another process (this one), as before a restart; at the real
    # time, since the server under test reads the real clock
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
    browser = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "192.0.2.10"})
    login(browser, "alice", GOOD_PASSWORD, status=303)
    cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    app.registry["camauth.engine"].dispose()

    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(PSERVE), str(ini)], stdout=out, stderr=subprocess.STDOUT, env=clean_env()
        )
    try:
        wait_for_port(port, server, log)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/", headers={"Cookie": cookie})
        response = connection.getresponse()
        body = response.read().decode()
        assert response.status == 200, f"{response.status}\n{body[:2000]}\n{log.read_text()}"
        assert "Signed in as" in body and "alice" in body
    finally:
        server.terminate()
        server.wait(timeout=30)
