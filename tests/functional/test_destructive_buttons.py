"""Buttons whose action cannot be taken back (ends sessions, removes a credential
or a password, deletes) look the same everywhere: red, so nobody presses one by
habit; the harmless ones do not."""

from __future__ import annotations

import pytest

from .admin_helpers import admin_browser, console_app, make_admin, user_path
from .conftest import browser, create_user, logged_in
from .two_factor_helpers import enrol, log_in_with_code

DANGER = {"btn-danger", "btn-outline-danger"}


@pytest.fixture
def console(app_factory):
    app = console_app(app_factory, **{"session.one_per_user": "false"})
    make_admin(app)
    return app


def button_classes(page, label: str) -> set[str]:
    """The classes of the one button or link whose text starts with ``label``."""
    found = [
        node
        for node in page.html.select("button, a.btn")
        if node.get_text(strip=True).startswith(label)
    ]
    assert len(found) == 1, (label, found)
    return set(found[0]["class"])


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("disable", "Disable"),
        ("delete", "Delete"),
        ("end-sessions", "End all sessions"),
        ("remove-two-factor", "Remove two-factor"),
        ("reset-password", "Reset password"),
    ],
)
def test_the_consoles_destructive_actions_are_red(console, path, label):
    alice = create_user(console, "alice", email="alice@example.org")
    admin = admin_browser(console)
    if path == "remove-two-factor":
        enrol(console, alice, console.registry["camauth.clock"])
        admin = admin_browser(console)
    user_page = admin.get(user_path(alice), status=200)
    assert button_classes(user_page, label) & DANGER
    form_page = admin.get(user_path(alice, path), status=200)
    assert "btn-danger" in button_classes(form_page, label)


def test_harmless_actions_are_not_red(console):
    alice = create_user(console, "alice")
    page = admin_browser(console).get(user_path(alice), status=200)
    for label in ("Edit", "Unlock", "Force password change", "Enrol hardware token"):
        assert not button_classes(page, label) & DANGER, label


def test_ending_sessions_is_red_in_the_console_and_the_account_centre(console):
    create_user(console, "alice")
    logged_in(console, "alice", ip="198.51.100.7")
    alice = logged_in(console, "alice")
    page = alice.get("/account", status=200)
    assert button_classes(page, "End session") & DANGER
    assert button_classes(page, "End all other sessions") & DANGER
    admin = admin_browser(console)
    assert button_classes(admin.get("/admin/sessions"), "End all other sessions") & DANGER
    end_one = admin.get("/admin/sessions").html.select_one('a[href$="/end"]')["href"]
    assert "btn-danger" in button_classes(admin.get(end_one), "End session")


def test_turning_two_factor_off_and_replacing_recovery_codes_are_red(console):
    alice = create_user(console, "alice")
    device, _codes = enrol(console, alice, console.registry["camauth.clock"])
    client = browser(console)
    log_in_with_code(client, "alice", device)
    page = client.get("/account/two-factor", status=200)
    assert "btn-danger" in button_classes(page, "Turn off two-factor")
    assert "btn-danger" in button_classes(page, "Generate new recovery codes")
