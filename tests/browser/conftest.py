"""Browser fixtures: a real waitress server in a thread, and Debian's Chromium.

axe-core checks the page every browser test ends on (each page still open, in
every browser context): no serious or critical accessibility violation, so each
page a test reaches, in the state the test left it (errors shown, forms filled),
is checked too; ``test_phone_layout.py`` visits every route at both widths.

The server serves the full camauth app (``make_app``) on each kind of database
the ``db_url`` fixture provides, with a fake clock the tests move. Chromium is
``/usr/bin/chromium`` driven by Playwright; no browser is ever downloaded. Without
Chromium these tests skip locally and fail on CI (``require_chromium``).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import waitress
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, Request, Response, sync_playwright

from camauth.clock import FakeClock
from camauth.services import accounts

from ..conftest import app_context, make_app, require_chromium

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

LOCKOUT_THRESHOLD = 3


@dataclass
class LiveServer:
    url: str
    app: Any
    clock: FakeClock

    def add_user(self, username: str, **kwargs: Any) -> None:
        """Create a user in the database the server uses (committed)."""
        ctx = app_context(self.app)
        try:
            accounts.create_user(ctx, username, **kwargs)
            ctx.db.commit()
        finally:
            ctx.db.close()

    def add_first_admin(self) -> tuple[str, str]:
        """What ``camauth CONFIG initdb`` does: an admin who must change the password."""
        ctx = app_context(self.app)
        try:
            created = accounts.ensure_first_admin(ctx)
            assert created is not None
            user, password = created
            ctx.db.commit()
            return user.username, password
        finally:
            ctx.db.close()


def free_port() -> int:
    """A port free on 127.0.0.1 just now, for a server whose settings must name its
    address before it starts (``serve(..., port=...)``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serve(settings: dict[str, Any], clock: FakeClock, port: int = 0) -> Iterator[LiveServer]:
    """camauth with ``settings`` in a real waitress server on a thread of its own,
    on ``port`` of 127.0.0.1 (by default any free one)."""
    app = make_app(settings, clock)
    server = waitress.create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, name="waitress-under-test", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.effective_port}", app, clock)
    finally:
        server.close()
        # connections the browser left open keep the loop alive; close them too
        for channel in list(server._map.values()):
            channel.close()
        server.task_dispatcher.shutdown()
        thread.join(timeout=30)
        app.registry["camauth.engine"].dispose()
        assert not thread.is_alive(), "the waitress thread did not stop"


@pytest.fixture
def live_server(ini_settings: dict[str, Any], clock: FakeClock) -> Iterator[LiveServer]:
    settings = {
        **ini_settings,
        "camauth.lockout.threshold": str(LOCKOUT_THRESHOLD),
        # keep the forced-password-change test about passwords only
        "camauth.mfa.required_for": "none",
    }
    with serve(settings, clock) as server:
        yield server


AXE = Axe()
SERIOUS = ("serious", "critical")


def accessibility_problems(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    results = AXE.run(page)
    return [
        f"{page.url}: {violation['id']} ({violation['impact']}): "
        + "; ".join(node["target"][0] for node in violation["nodes"][:3])
        for violation in results.response["violations"]
        if violation["impact"] in SERIOUS
    ]


def open_html_pages(browser: Browser) -> Iterator[Page]:
    for context in browser.contexts:
        for page in context.pages:
            if not page.url.startswith("http") or page.is_closed():
                continue
            if page.evaluate("document.contentType") == "text/html":
                yield page


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """After a browser test passed (before its fixtures close the browser
    contexts): axe-core on every page it left open."""
    result = yield
    browser = getattr(item, "funcargs", {}).get("browser")
    if isinstance(browser, Browser):
        problems = [
            problem for page in open_html_pages(browser) for problem in accessibility_problems(page)
        ]
        assert problems == [], "accessibility: " + "\n".join(problems)
    return result


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    executable = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@dataclass
class Problems:
    """What went wrong in the browser besides the page's own status: CSP
    violations and other console errors about resources, failed sub-requests."""

    found: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        text = message.text
        # a refused login is a 403/429 *document*; Chromium logs that too
        if message.type == "error" and "the server responded with a status of" not in text:
            self.found.append(f"console: {text}")

    def _failed(self, request: Request) -> None:
        if "favicon" in request.url and request.failure == "net::ERR_ABORTED":
            return  # the browser drops a favicon still loading when the page moves on
        self.found.append(f"request failed: {request.url} {request.failure}")

    def _response(self, response: Response) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            self.found.append(f"{response.status} for {response.url}")


class Browsing:
    """Pages for one test, each in its own browser context (its own cookies)."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.problems = Problems()
        self.contexts: list[BrowserContext] = []

    def new_page(self, **context_options: Any) -> Page:
        """A page in a new context; ``context_options`` go to ``new_context``
        (``java_script_enabled=False``, say)."""
        context = self.browser.new_context(base_url=self.base_url, **context_options)
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        page = context.new_page()
        self.problems.watch(page)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def browsing(browser: Browser, live_server: LiveServer) -> Iterator[Browsing]:
    browsing = Browsing(browser, live_server.url)
    yield browsing
    browsing.close()


@pytest.fixture
def page(browsing: Browsing) -> Page:
    return browsing.new_page()
