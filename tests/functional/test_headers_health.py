"""Security headers (PRODUCT §16), /healthz, and behaviour while the database is down."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from camauth.db import make_engine

from ..conftest import (
    FAST_ARGON2,
    GOOD_PASSWORD,
    TEST_SECRET,
    login,
    make_app,
    require_postgres,
    reset_postgres,
)
from .conftest import assert_no_traceback, browser, create_user

EXPECTED_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def assert_security_headers(response) -> None:
    for name, value in EXPECTED_HEADERS.items():
        assert response.headers.get(name) == value, name
    directives = csp_directives(response)
    scripts = directives.get("script-src", directives.get("default-src"))
    assert scripts is not None
    assert "'unsafe-inline'" not in scripts
    assert "'unsafe-eval'" not in scripts
    assert "*" not in scripts
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["default-src"] == ["'self'"]


def assert_no_store(response) -> None:
    assert "no-store" in response.headers.get("Cache-Control", "")


def test_headers_on_the_login_page(testapp):
    page = testapp.get("/login")
    assert_security_headers(page)
    assert_no_store(page)
    # no inline script for the policy to forbid
    for script in page.html.find_all("script"):
        assert script.get("src"), "inline <script> in the login page"
    assert not any(
        name.startswith("on") for tag in page.html.find_all(True) for name in tag.attrs
    ), "inline event handler in the login page"


def test_headers_on_authenticated_pages(testapp, app):
    create_user(app, "alice", must_change_password=True)
    redirect = login(testapp, "alice", GOOD_PASSWORD, status=303)
    assert_security_headers(redirect)
    assert_no_store(redirect)
    forced = testapp.get("/", status=303)
    assert_security_headers(forced)
    page = testapp.get("/account/password")
    assert_security_headers(page)
    assert_no_store(page)


def test_headers_on_the_home_page(testapp, app):
    create_user(app, "alice")
    login(testapp, "alice", GOOD_PASSWORD, status=303)
    home = testapp.get("/")
    assert "Signed in as alice" in home.text
    assert_security_headers(home)
    assert_no_store(home)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/no/such/page", 404),
        ("post", "/login", 400),  # no CSRF token
        ("post", "/logout", 400),
        ("get", "/", 303),
        ("get", "/healthz", 200),
    ],
)
def test_headers_on_errors_redirects_and_health(testapp, method, path, status):
    response = getattr(testapp, method)(path, status=status)
    assert_security_headers(response)
    assert_no_store(response)


def test_headers_on_a_refused_huge_body(testapp):
    response = testapp.post("/login", {"password": "x" * 1_100_000}, status=413)
    assert_security_headers(response)


def test_static_assets_have_headers_and_may_be_cached(testapp):
    page = testapp.get("/login")
    stylesheet = page.html.find("link", rel="stylesheet")["href"]
    asset = testapp.get(stylesheet)
    assert asset.status_int == 200
    assert_security_headers(asset)
    assert "no-store" not in asset.headers.get("Cache-Control", "")


def test_healthz_reports_ok(testapp, app):
    response = testapp.get("/healthz")
    assert response.status_int == 200
    assert response.content_type == "application/json"
    assert response.json == {"status": "ok", "database": "ok"}


# --- the database is down ---------------------------------------------------------


def _settings(url: str, **extra: str) -> dict[str, Any]:
    return {
        "sqlalchemy.url": url,
        "camauth.secret": TEST_SECRET,
        "camauth.session.cookie_secure": "false",
        # these apps send no mail; SMTP needs the public address links are built on
        "camauth.public_url": "http://localhost",
        **FAST_ARGON2,
        **extra,
    }


@pytest.fixture(params=["postgresql", "sqlite"])
def unreachable_url(request, tmp_path) -> str:
    if request.param == "postgresql":
        return "postgresql+psycopg://postgres@127.0.0.1:1/camauth?connect_timeout=2"
    return f"sqlite:///{tmp_path / 'missing' / 'dir' / 'camauth.sqlite'}"


@pytest.fixture
def down_app(unreachable_url, clock):
    app = make_app(_settings(unreachable_url), clock)  # must not touch the database
    yield app
    app.registry["camauth.engine"].dispose()


def assert_unavailable_page(response) -> None:
    assert response.status_int == 503
    assert response.content_type == "text/html"
    assert "Temporarily unavailable" in response.text
    assert "cannot reach its database" in response.text
    assert response.headers.get("Retry-After")
    assert_security_headers(response)
    assert_no_traceback(response)


def test_healthz_is_503_json_when_the_database_is_down(down_app):
    response = browser(down_app).get("/healthz", status=503)
    assert response.content_type == "application/json"
    assert response.json == {"status": "unavailable", "database": "unreachable"}
    assert_security_headers(response)


def test_pages_are_503_when_the_database_is_down(down_app):
    client = browser(down_app)
    page = client.get("/login")  # needs no database: still served
    assert page.status_int == 200
    form = page.forms["login"]
    form["username"] = "alice"
    form["password"] = GOOD_PASSWORD
    assert_unavailable_page(form.submit("submit", status=503))

    client.set_cookie("camauth_session", "x" * 43)
    assert_unavailable_page(client.get("/", status=503))
    assert_unavailable_page(client.get("/account/password", status=503))


def test_sqlite_app_recovers_when_the_database_comes_back(sqlite_template, tmp_path, clock):
    folder = tmp_path / "db"
    app = make_app(_settings(f"sqlite:///{folder / 'camauth.sqlite'}"), clock)
    try:
        client = browser(app)
        client.get("/healthz", status=503)
        page = client.get("/login")
        form = page.forms["login"]
        form["username"] = "alice"
        form["password"] = GOOD_PASSWORD
        assert_unavailable_page(form.submit("submit", status=503))

        folder.mkdir()  # the database comes back
        shutil.copy(sqlite_template, folder / "camauth.sqlite")
        create_user(app, "alice")
        assert client.get("/healthz").json == {"status": "ok", "database": "ok"}
        response = login(client, "alice", GOOD_PASSWORD, status=303)
        assert "Signed in as alice" in response.follow().text
    finally:
        app.registry["camauth.engine"].dispose()


class TcpProxy:
    """A TCP forwarder to PostgreSQL that a test can cut and restore."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener: socket.socket | None = None
        self.port = 0
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()

    def start(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was shut down
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Refuse new connections and break every open one, as a crashed server would."""
        assert self.listener is not None
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.sockets.clear()


@pytest.fixture
def proxied_postgres():
    url = make_url(require_postgres())
    engine = make_engine(url)
    reset_postgres(engine)
    engine.dispose()
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    yield proxy, url.set(host="127.0.0.1", port=proxy.port)
    with contextlib.suppress(OSError):
        proxy.cut()


def test_postgres_outage_and_recovery_with_the_same_app(proxied_postgres, clock):
    proxy, url = proxied_postgres
    app = make_app(_settings(url.render_as_string(hide_password=False)), clock)
    try:
        create_user(app, "alice")
        client = browser(app)
        login(client, "alice", GOOD_PASSWORD, status=303)
        assert "Signed in as alice" in client.get("/").text  # pooled connections exist

        proxy.cut()
        assert_unavailable_page(client.get("/", status=503))
        client.get("/healthz", status=503)
        assert_unavailable_page(client.get("/", status=503))

        proxy.start()  # the database is back, on the same address
        assert "Signed in as alice" in client.get("/").text
        assert client.get("/healthz").json == {"status": "ok", "database": "ok"}
    finally:
        app.registry["camauth.engine"].dispose()
