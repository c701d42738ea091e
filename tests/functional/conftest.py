"""Helpers for the functional tests: users, apps with other settings, database probes.

Everything goes through the full WSGI app (WebTest) and real databases; these
helpers only set things up and look at the tables afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import webtest
from pyramid.config import Configurator
from sqlalchemy import event, func, inspect, select, text
from sqlalchemy.engine import Engine

from camauth import make_config
from camauth.clock import FakeClock
from camauth.db import make_engine
from camauth.models import AuditEvent, LoginFailure, User, WebSession
from camauth.services import accounts

from ..conftest import (
    FAST_ARGON2,
    GOOD_PASSWORD,
    TEST_SECRET,
    app_context,
    make_app,
    require_postgres,
    reset_postgres,
)

LOGIN_PATH = "/login"
HOME_LOGIN_REDIRECT = "/login?next=%2F"
TRACEBACK_MARKERS = ("Traceback", 'File "', "sqlalchemy.exc", "Error:")


def browser(app: Any, ip: str = "192.0.2.10", **environ: str) -> webtest.TestApp:
    """A browser of its own (own cookie jar) talking to ``app`` from ``ip``."""
    return webtest.TestApp(app, extra_environ={"REMOTE_ADDR": ip, **environ})


def create_user(app: Any, username: str, password: str = GOOD_PASSWORD, **kw: Any) -> int:
    ctx = app_context(app)
    try:
        user = accounts.create_user(ctx, username, password=password, **kw)
        ctx.db.commit()
        return user.id
    finally:
        ctx.db.close()


def engine_of(app: Any) -> Engine:
    engine: Engine = app.registry["camauth.engine"]
    return engine


def table_counts(app: Any) -> dict[str, int]:
    """Rows in every table the app's database has."""
    engine = engine_of(app)
    names = sorted(inspect(engine).get_table_names())
    with engine.connect() as connection:
        return {
            name: connection.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one()
            for name in names
        }


def scalar(app: Any, statement: Any) -> Any:
    ctx = app_context(app)
    try:
        return ctx.db.scalar(statement)
    finally:
        ctx.db.close()


def all_rows(app: Any, statement: Any) -> list[Any]:
    ctx = app_context(app)
    try:
        return list(ctx.db.scalars(statement).all())
    finally:
        ctx.db.close()


def failure_count(app: Any, username_key: str | None = None) -> int:
    query = select(func.count()).select_from(LoginFailure)
    if username_key is not None:
        query = query.where(LoginFailure.username_key == username_key)
    return scalar(app, query) or 0


def session_rows(app: Any, user_id: int | None = None) -> list[WebSession]:
    query = select(WebSession).order_by(WebSession.id)
    if user_id is not None:
        query = query.where(WebSession.user_id == user_id)
    return all_rows(app, query)


def audit_events(app: Any, event_name: str) -> list[AuditEvent]:
    return all_rows(
        app, select(AuditEvent).where(AuditEvent.event == event_name).order_by(AuditEvent.id)
    )


def get_user(app: Any, user_id: int) -> User:
    ctx = app_context(app)
    try:
        user = ctx.db.get(User, user_id)
        assert user is not None
        return user
    finally:
        ctx.db.close()


def error_text(page: webtest.TestResponse) -> str:
    """The text of the page's alert (the login and account pages' error box)."""
    alert = page.html.select_one('[role="alert"]')
    return alert.get_text(" ", strip=True) if alert is not None else ""


def field_errors(page: webtest.TestResponse) -> list[str]:
    """deform's per-field error messages."""
    return [node.get_text(" ", strip=True) for node in page.html.select(".invalid-feedback")]


def assert_no_traceback(response: webtest.TestResponse) -> None:
    body = response.text
    for marker in TRACEBACK_MARKERS:
        assert marker not in body, f"{marker!r} in the body of a {response.status} response"


def set_cookie_headers(response: webtest.TestResponse, name: str) -> list[str]:
    return [v for v in response.headers.getall("Set-Cookie") if v.startswith(f"{name}=")]


def submit_login(
    client: webtest.TestApp,
    username: str,
    password: str,
    next_path: str | None = None,
    **kw: Any,
) -> webtest.TestResponse:
    """Like conftest.login, optionally with ``?next=`` on the login page."""
    url = LOGIN_PATH if next_path is None else f"{LOGIN_PATH}?next={quote(next_path, safe='')}"
    form = client.get(url).forms["login"]
    form["username"] = username
    form["password"] = password
    return form.submit("submit", **kw)


def logout(client: webtest.TestApp) -> webtest.TestResponse:
    """Press the Log out button on the home page."""
    home = client.get("/")
    form = next(f for f in home.forms.values() if f.action == "/logout")
    return form.submit()


@pytest.fixture
def app_factory(ini_settings: dict[str, Any], clock: FakeClock) -> Iterator[Callable[..., Any]]:
    """Build apps with some settings changed (``None`` removes a key); disposed afterwards."""
    built: list[Any] = []

    def build(*, configure: Callable[[Configurator], None] | None = None, **overrides: Any) -> Any:
        settings = dict(ini_settings)
        for key, value in overrides.items():
            name = key if key.startswith("sqlalchemy.") else "camauth." + key
            if value is None:
                settings.pop(name, None)
            else:
                settings[name] = value
        if configure is None:
            app = make_app(settings, clock)
        else:
            config = make_config(settings)
            configure(config)
            app = config.make_wsgi_app()
            app.registry["camauth.clock"] = clock
        built.append(app)
        return app

    yield build
    for app in built:
        app.registry["camauth.engine"].dispose()


class StatementLog:
    """Every SQL statement the engine runs while attached."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.statements: list[str] = []

    def _record(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(" ".join(statement.split()))

    def __enter__(self) -> StatementLog:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def writes(self) -> list[str]:
        verbs = ("INSERT", "UPDATE", "DELETE")
        return [s for s in self.statements if s.upper().startswith(verbs)]

    def updates_of(self, table: str) -> list[str]:
        return [s for s in self.statements if s.upper().startswith(f"UPDATE {table.upper()} ")]


@pytest.fixture
def postgres_url() -> str:
    """An emptied, migrated PostgreSQL database (skips, or fails on CI, without one)."""
    url = require_postgres()
    engine = make_engine(url)
    reset_postgres(engine)
    engine.dispose()
    return url


def app_on_engine(engine: Engine, clock: FakeClock, **settings: str) -> Any:
    """camauth on its own, on an engine the test made (a host application may hand
    camauth its own engine through the registry). ``settings`` are camauth.* keys."""
    config = Configurator(
        settings={
            "sqlalchemy.url": str(engine.url),
            "camauth.secret": TEST_SECRET,
            "camauth.session.cookie_secure": "false",
            # these apps send no mail; SMTP needs the public address links are built on
            "camauth.public_url": "http://localhost",
            **FAST_ARGON2,
            **{f"camauth.{key}": value for key, value in settings.items()},
        }
    )
    config.registry["camauth.engine"] = engine
    config.include("camauth")
    config.add_route("camauth.home", "/")
    config.scan("camauth.web.views.home")
    app = config.make_wsgi_app()
    app.registry["camauth.clock"] = clock
    return app


def location(response: webtest.TestResponse) -> str:
    """The redirect's path and query (WebOb may make the Location absolute)."""
    assert response.status_int == 303, response.status
    parts = urlsplit(response.headers["Location"])
    assert parts.netloc in ("", "localhost"), response.headers["Location"]
    return parts.path + (f"?{parts.query}" if parts.query else "")


def flashes(page: webtest.TestResponse) -> list[str]:
    return [node.get_text(strip=True) for node in page.html.select('[role="status"]')]


def logged_in(app: Any, username: str = "alice", password: str = GOOD_PASSWORD, **kw: str):
    client = browser(app, **kw)
    assert location(submit_login(client, username, password)) == "/"
    return client


def at_the_same_moment(count: int, prepare: Callable[[int], Callable[[], Any]]) -> list[Any]:
    """Run ``count`` requests at once: ``prepare(n)`` sets one up (its own browser,
    cookies and CSRF token) and returns what sends it; all are sent together after a
    barrier. Returns the results; any error in a thread fails the test."""
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(number: int) -> None:
        try:
            send = prepare(number)
            barrier.wait(timeout=60)
            result = send()
            with lock:
                results.append(result)
        except BaseException as error:  # reported in the main thread
            barrier.abort()
            with lock:
                errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    assert errors == []
    assert len(results) == count
    return results


@pytest.fixture
def oidc_app(app_factory: Any, fake_provider: Any) -> Any:
    """An app with the loopback provider configured as "test" (tests/oidc_provider.py)."""
    from .oidc_helpers import provider_settings

    return app_factory(**provider_settings(fake_provider))
