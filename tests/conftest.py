"""Shared fixtures: real databases (SQLite always, PostgreSQL when configured),
a fake clock, the full WSGI app, and service contexts.

PostgreSQL runs when ``CAMAUTH_TEST_DATABASE_URL`` is set (CI sets it). With
``CAMAUTH_REQUIRE_ALL_TESTS=1`` (CI sets that too) a test that would skip for a
missing PostgreSQL or Chromium fails instead, so nothing skips silently on CI.
"""

from __future__ import annotations

import email
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import webtest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from camauth import main, migrate
from camauth.clock import FakeClock
from camauth.db import make_engine, make_session_factory
from camauth.services.context import Context
from camauth.services.passwords import Passwords
from camauth.settings import parse_settings

pytest_plugins = ["tests.oidc_provider"]

PG_URL = os.environ.get("CAMAUTH_TEST_DATABASE_URL", "")
REQUIRE_ALL = os.environ.get("CAMAUTH_REQUIRE_ALL_TESTS") == "1"
CHROMIUM = Path("/usr/bin/chromium")
TEST_SECRET = "test-secret-0123456789-0123456789-0123456789"

# Real argon2id, at a lower cost than production so the suite stays quick.
FAST_ARGON2 = {
    "camauth.password.argon2_memory_kib": "1024",
    "camauth.password.argon2_time_cost": "1",
}


def skip_or_fail(reason: str) -> None:
    if REQUIRE_ALL:
        pytest.fail(f"required on CI but missing: {reason}")
    pytest.skip(reason)


def require_postgres() -> str:
    if not PG_URL:
        skip_or_fail("PostgreSQL: set CAMAUTH_TEST_DATABASE_URL to run")
    return PG_URL


def require_chromium() -> Path:
    if not CHROMIUM.exists():
        skip_or_fail(f"browser: {CHROMIUM} is not installed")
    return CHROMIUM


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "camauth.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


_pg_migrated = False


def reset_postgres(engine: Engine) -> None:
    """Migrate once per run from empty, then empty every table before each test."""
    global _pg_migrated
    if not _pg_migrated:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        migrate.upgrade(engine)
        _pg_migrated = True
    tables = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty database of each kind."""
    if request.param == "postgresql":
        url = require_postgres()
        engine = make_engine(url)
        reset_postgres(engine)
        engine.dispose()
        return url
    path = tmp_path / "camauth.sqlite"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mail_dir(tmp_path: Path) -> Path:
    """Where the app under test writes its mails (the file transport: no mail leaves)."""
    return tmp_path / "mail"


@pytest.fixture
def ini_settings(db_url: str, mail_dir: Path) -> dict[str, Any]:
    """What an ini's [app:main] would hold; tests override keys as needed."""
    return {
        "sqlalchemy.url": db_url,
        "camauth.secret": TEST_SECRET,
        "camauth.session.cookie_secure": "false",
        "camauth.mail.transport": "file",
        "camauth.mail.directory": str(mail_dir),
        **FAST_ARGON2,
    }


def make_app(settings: dict[str, Any], clock: FakeClock) -> Any:
    app = main({}, **settings)
    app.registry["camauth.clock"] = clock
    return app


@pytest.fixture
def app(ini_settings: dict[str, Any], clock: FakeClock) -> Iterator[Any]:
    wsgi = make_app(ini_settings, clock)
    yield wsgi
    wsgi.registry["camauth.engine"].dispose()


@pytest.fixture
def testapp(app: Any) -> webtest.TestApp:
    return webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "192.0.2.10"})


@pytest.fixture
def ctx(engine: Engine, ini_settings: dict[str, Any], clock: FakeClock) -> Iterator[Context]:
    """A service context on its own ORM session; tests commit when they need to."""
    settings = parse_settings(ini_settings)
    dbsession: Session = make_session_factory(engine)()
    yield Context(db=dbsession, settings=settings, clock=clock, passwords=Passwords(settings))
    dbsession.rollback()
    dbsession.close()


def app_context(app: Any) -> Context:
    """A context on the app's own engine, to set up or inspect what the app sees."""
    registry = app.registry
    dbsession = registry["camauth.dbsession_factory"]()
    return Context(
        db=dbsession,
        settings=registry["camauth.settings"],
        clock=registry["camauth.clock"],
        passwords=registry["camauth.passwords"],
    )


GOOD_PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class SentMail:
    to: str
    subject: str
    body: str

    def link(self, path_prefix: str) -> str:
        """The path (from ``path_prefix`` on) of the one link in the body that starts there."""
        [found] = re.findall(r"https?://[^/\s]+(" + re.escape(path_prefix) + r"\S*)", self.body)
        return str(found)


def read_mails(mail_dir: Path) -> list[SentMail]:
    """Every mail the app wrote with the file transport, oldest first."""
    if not mail_dir.exists():
        return []
    files = sorted(mail_dir.glob("*.eml"), key=lambda path: (path.stat().st_mtime_ns, path.name))
    mails = []
    for path in files:
        message = email.message_from_bytes(path.read_bytes())
        payload = message.get_payload(decode=True)
        assert isinstance(payload, bytes)
        body = payload.decode(message.get_content_charset() or "utf-8")
        mails.append(SentMail(str(message["To"]), str(message["Subject"]), body))
    return mails


def login(
    testapp: webtest.TestApp, username: str, password: str, **kw: Any
) -> webtest.TestResponse:
    """Log in through the real form, as a browser would."""
    page = testapp.get("/login")
    form = page.forms["login"]
    form["username"] = username
    form["password"] = password
    return form.submit("submit", **kw)
