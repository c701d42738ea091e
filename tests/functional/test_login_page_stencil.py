"""The login page a visitor gets is rendered once and filled per request
(web/stencil.py): each visitor still gets a CSRF token of their own and their
own ``next``, and the page is the one a fresh rendering gives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import deform
import pytest

from camauth.web.session import CSRF_COOKIE

from ..conftest import GOOD_PASSWORD, make_app
from .conftest import browser, create_user

# a `next` with every character an attribute value must escape (all allowed in a path)
AWKWARD_NEXT = "/account?a=\"b'&c<d>e"


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the deform forms rendered from now on."""
    rendered: list[str] = []
    render = deform.Form.render

    def counted(self: deform.Form, *args: Any, **kw: Any) -> str:
        rendered.append(self.formid)
        return render(self, *args, **kw)

    monkeypatch.setattr(deform.Form, "render", counted)
    return rendered


def test_the_form_is_rendered_once_and_every_visitor_gets_a_token_of_their_own(app, renders):
    create_user(app, "alice")
    visitors = [browser(app) for _ in range(3)]
    pages = [visitor.get("/login") for visitor in visitors]
    assert renders == ["login"]
    tokens = [page.forms["login"]["csrf_token"].value for page in pages]
    assert len(set(tokens)) == 3
    for page in pages:  # each submitted from its own browser
        form = page.forms["login"]
        form["username"], form["password"] = "alice", GOOD_PASSWORD
        assert form.submit("submit").status_int == 303


def test_next_is_filled_in_escaped(app, renders):
    visitor = browser(app)
    visitor.get("/login?next=/account")
    page = visitor.get("/login", {"next": AWKWARD_NEXT})
    assert renders == ["login"]
    assert page.forms["login"]["next"].value == AWKWARD_NEXT
    assert 'value="/account?a=&quot;b\'&amp;c&lt;d&gt;e"' in page.text


@pytest.fixture
def rendering_every_time(ini_settings: dict[str, Any], clock: Any) -> Iterator[Any]:
    """The same application, with templates reloading: no stencils kept."""
    app = make_app({**ini_settings, "pyramid.reload_templates": "true"}, clock)
    yield app
    app.registry["camauth.engine"].dispose()


@pytest.mark.parametrize(
    "query",
    [{}, {"next": AWKWARD_NEXT}, {"notice": "password-changed", "next": "/account"}],
)
def test_the_filled_page_is_a_fresh_rendering(app, rendering_every_time, renders, query):
    token = "a-csrf-token-the-visitor-already-holds"
    pages = []
    for each in (app, app, rendering_every_time):
        visitor = browser(each)
        name = each.registry["camauth.settings"].cookie_prefix + CSRF_COOKIE
        visitor.set_cookie(name, token)
        pages.append(visitor.get("/login", query).text)
    assert renders == ["login", "login"]  # the kept stencil once, the reloading app once
    assert pages[0] == pages[1] == pages[2]
    assert f'value="{token}"' in pages[0]


def _refused(app: Any, token: str, username: str, password: str) -> Any:
    """A login POST refused as "Invalid username or password." (403)."""
    visitor = browser(app)
    visitor.set_cookie(app.registry["camauth.settings"].cookie_prefix + CSRF_COOKIE, token)
    fields = {"csrf_token": token, "next": AWKWARD_NEXT, "username": username}
    return visitor.post("/login", {**fields, "password": password, "submit": "submit"}, status=403)


@pytest.mark.parametrize("username", ["alice", "Zoë.ß-x@y_1", "nobody-here"])
def test_the_refusal_is_a_fresh_rendering_with_the_username_kept(
    app, rendering_every_time, renders, username
):
    create_user(app, "alice")
    token = "a-csrf-token-the-visitor-already-holds"
    pages = [
        _refused(each, token, username, "not the password").text
        for each in (app, app, rendering_every_time)
    ]
    assert renders == ["login", "login"]  # the kept stencil once, the reloading app once
    assert pages[0] == pages[1] == pages[2]
    assert "Invalid username or password." in pages[0]
    assert f'value="{token}"' in pages[0]
    assert f'value="{username}"' in pages[0]
    assert 'value="/account?a=&quot;b\'&amp;c&lt;d&gt;e"' in pages[0]
    assert "not the password" not in pages[0]


def test_a_refusal_with_a_query_string_is_rendered(app, renders):
    """A query string may carry a notice the kept page does not have."""
    token = "a-csrf-token-the-visitor-already-holds"
    visitor = browser(app)
    visitor.set_cookie(app.registry["camauth.settings"].cookie_prefix + CSRF_COOKIE, token)
    fields = {"csrf_token": token, "username": "nobody", "password": "x", "submit": "submit"}
    page = visitor.post("/login?notice=log-in-again", fields, status=403)
    assert renders == ["login"]
    assert "Please log in again." in page.text
    assert "Invalid username or password." in page.text


def test_each_application_root_gets_its_own_page(app, renders):
    # the same process serving the application at / and below /auth: the page's
    # links and form action differ, so one stencil must not serve both
    mounted = browser(app, SCRIPT_NAME="/auth").get("/login")
    at_root = browser(app).get("/login")
    assert renders == ["login", "login"]
    assert 'href="/auth/password/forgot"' in mounted.text
    assert 'href="/password/forgot"' in at_root.text
    assert "/auth/" not in at_root.text
    again = browser(app, SCRIPT_NAME="/auth").get("/login")  # kept: not rendered again
    assert renders == ["login", "login"]
    assert 'href="/auth/password/forgot"' in again.text
