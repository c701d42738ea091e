"""A host application's name and logo on every page and in mails (``camauth.site_name``,
``camauth.logo_path``, ``camauth.favicon_path``), and camauth's favicon by default."""

from __future__ import annotations

import email

import pytest

from camauth.settings import SettingsError, parse_settings

from ..conftest import TEST_SECRET, make_app, read_mails
from .conftest import browser, create_user, logged_in


@pytest.fixture
def branded(ini_settings, clock):
    app = make_app(
        {
            **ini_settings,
            "camauth.site_name": "Research Portal",
            "camauth.logo_path": "/static/portal-logo.svg",
            "camauth.favicon_path": "/static/portal.ico",
        },
        clock,
    )
    yield app
    app.registry["camauth.engine"].dispose()


def test_pages_carry_the_site_s_name_logo_and_favicon(branded):
    page = browser(branded).get("/login", status=200)
    assert page.html.title.string == "Log in · Research Portal"
    brand = page.html.select_one("a.navbar-brand")
    assert brand["href"] == "/"
    assert brand.get_text(strip=True) == "Research Portal"
    assert brand.img["src"] == "/static/portal-logo.svg"
    assert page.html.select_one('link[rel="icon"]')["href"] == "/static/portal.ico"


def test_the_default_is_camauth_with_its_own_favicon(app):
    page = browser(app).get("/login", status=200)
    assert page.html.title.string == "Log in · camauth"
    assert page.html.select_one("a.navbar-brand").img is None
    favicon = page.html.select_one('link[rel="icon"]')["href"]
    served = browser(app).get(favicon, status=200)
    assert served.content_type == "image/svg+xml"


def test_mails_name_the_site_and_are_8bit_text(branded, mail_dir):
    create_user(branded, "alice", email="alice@example.org")
    client = browser(branded)
    form = client.get("/password/forgot").forms["forgot-password"]
    form["login"] = "alice"
    form.submit("submit", status=303)
    [mail] = read_mails(mail_dir)
    assert "your account at Research Portal (http://localhost)" in mail.body.replace("\n", " ")
    [path] = list(mail_dir.iterdir())
    message = email.message_from_bytes(path.read_bytes())
    assert message["From"] == "Research Portal <camauth@localhost>"
    assert message["Content-Transfer-Encoding"] == "8bit"


def test_the_authenticator_app_shows_the_site_s_name(branded):
    create_user(branded, "alice")
    page = logged_in(branded, "alice").get("/account/two-factor", status=200)
    assert "issuer: Research Portal" in " ".join(page.html.get_text().split())


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("site_name", ""),
        ("site_name", "x" * 61),
        ("site_name", "evil\x1bname"),
        ("logo_path", "https://elsewhere.example/logo.svg"),
        ("logo_path", "//elsewhere.example/logo.svg"),
        ("favicon_path", 'x" onerror="alert(1)'),
    ],
)
def test_bad_branding_settings_stop_start_up(key, value):
    with pytest.raises(SettingsError, match=f"camauth.{key}:"):
        parse_settings({"camauth.secret": TEST_SECRET, f"camauth.{key}": value}, environ={})


def test_an_explicit_issuer_wins_over_the_site_name():
    settings = parse_settings(
        {"camauth.secret": TEST_SECRET, "camauth.site_name": "Portal", "camauth.mfa.issuer": "X"},
        environ={},
    )
    assert settings.mfa_issuer == "X"


def test_every_page_starts_with_a_link_past_the_menu(app):
    page = browser(app).get("/login", status=200)
    first = page.html.body.find("a")
    assert (first.get_text(), first["href"]) == ("Skip to content", "#content")
    assert page.html.select_one("main#content") is not None
