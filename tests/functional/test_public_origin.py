"""With a public address configured, no answer is built from the request's Host."""

from __future__ import annotations

import pytest

from ..conftest import GOOD_PASSWORD
from .conftest import browser, create_user

PUBLIC = "https://auth.example.org"
FORGED = {"HTTP_HOST": "evil.example", "HTTP_X_FORWARDED_HOST": "evil.example"}


@pytest.fixture
def public_app(app_factory):
    return app_factory(**{"public_url": PUBLIC, "mfa.required_for": "none"})


def post_login_with_forged_host(app, origin: str):
    """The login form as the public site serves it, posted with a forged Host.

    (WebTest keeps cookies per host, and this app says every answer came from
    the public address: the cookies are sent by hand.)"""
    client = browser(app, HTTP_HOST="auth.example.org", **{"wsgi.url_scheme": "https"})
    form = client.get("/login").forms["login"]
    form["username"] = "alice"
    form["password"] = GOOD_PASSWORD
    cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    headers = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "Origin": origin}
    return client.post(
        "/login",
        dict(form.submit_fields("submit")),
        headers={**headers, "Cookie": cookies},
        status="*",
    )


def test_redirects_use_the_public_address_not_a_forged_host(public_app):
    create_user(public_app, "alice")
    forged = browser(public_app, **FORGED)
    assert forged.get("/", status=303).headers["Location"] == f"{PUBLIC}/login?next=%2F"
    # a browser on the public site sends its Origin; the check compares it with the
    # public address, not with the forged host
    home = post_login_with_forged_host(public_app, PUBLIC)
    assert home.status_int == 303
    assert home.headers["Location"] == f"{PUBLIC}/"


def test_a_foreign_origin_is_refused_even_when_the_host_header_agrees_with_it(public_app):
    create_user(public_app, "alice")
    refused = post_login_with_forged_host(public_app, "https://evil.example")
    assert refused.status_int == 400
    assert "Location" not in refused.headers


def test_without_a_public_address_the_request_host_is_used(app_factory):
    """Development (no public address): links follow the host the browser used."""
    app = app_factory(**{"public_url": None})
    client = browser(app, HTTP_HOST="localhost:6543")
    assert client.get("/", status=303).headers["Location"] == (
        "http://localhost:6543/login?next=%2F"
    )
