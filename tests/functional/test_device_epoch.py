"""A password change or reset voids the device cookies issued before it.

A person changes or resets their password when they fear someone else got in;
a browser that person does not control may hold a copy of their device cookie.
So a device cookie carries the moment the password last changed, and one
issued before a change counts as an untrusted client: the lock that untrusted
clients are under applies to it.
"""

from __future__ import annotations

import pytest
from webob.cookies import SignedSerializer

from camauth.services import accounts
from camauth.web.device import DEVICE_COOKIE

from ..conftest import GOOD_PASSWORD, TEST_SECRET, app_context, login
from .conftest import browser, create_user, logout
from .test_change_password import submit_change

NEW_PASSWORD = "maple orbit lantern quietly"
GUESS = "guess guess guess"


@pytest.fixture
def locking_app(app_factory):
    return app_factory(**{"lockout.threshold": "3", "mfa.required_for": "none"})


def lock_untrusted_clients(app, username="alice"):
    attacker = browser(app, ip="203.0.113.66")
    for _ in range(2):
        login(attacker, username, GUESS, status=403)
    login(attacker, username, GUESS, status=429)


def known_browser(app):
    owner = browser(app)
    login(owner, "alice", GOOD_PASSWORD, status=303)
    logout(owner)
    assert DEVICE_COOKIE in owner.cookies
    return owner


def reset_by_an_administrator(app, password):
    ctx = app_context(app)
    try:
        user = accounts.find_user(ctx, "alice")
        accounts.set_password(ctx, user, password)
        ctx.db.commit()
    finally:
        ctx.db.close()


def test_a_reset_voids_the_device_cookies_issued_before_it(locking_app, clock):
    app = locking_app
    create_user(app, "alice")
    owner = known_browser(app)
    clock.advance(minutes=1)
    reset_by_an_administrator(app, NEW_PASSWORD)
    lock_untrusted_clients(app)

    login(owner, "alice", NEW_PASSWORD, status=429)  # an untrusted client now


def test_the_old_cookie_is_trusted_while_the_password_stands(locking_app):
    """The control for the test above: without a reset the same browser gets in."""
    app = locking_app
    create_user(app, "alice")
    owner = known_browser(app)
    lock_untrusted_clients(app)
    login(owner, "alice", GOOD_PASSWORD, status=303)


def test_changing_ones_password_keeps_this_browser_known_and_voids_other_copies(locking_app, clock):
    app = locking_app
    create_user(app, "alice")
    owner = known_browser(app)
    stolen_copy = owner.cookies[DEVICE_COOKIE]
    login(owner, "alice", GOOD_PASSWORD, status=303)
    clock.advance(minutes=1)
    submit_change(owner, GOOD_PASSWORD, NEW_PASSWORD, status=303)
    assert owner.cookies[DEVICE_COOKIE] != stolen_copy  # a new cookie for this browser
    logout(owner)
    lock_untrusted_clients(app)

    login(owner, "alice", NEW_PASSWORD, status=303)
    thief = browser(app, ip="198.51.100.99")
    thief.set_cookie(DEVICE_COOKIE, stolen_copy)
    login(thief, "alice", NEW_PASSWORD, status=429)


def test_a_cookie_without_an_epoch_is_untrusted(locking_app, clock):
    """Cookies issued before epochs existed name no password: untrusted."""
    app = locking_app
    create_user(app, "alice")
    serializer = SignedSerializer(TEST_SECRET, salt="camauth.device", hashalg="sha256")
    value = {"u": "alice", "d": "0123456789abcdef0123456789abcdef", "t": int(clock().timestamp())}
    old_style = browser(app)
    old_style.set_cookie(DEVICE_COOKIE, serializer.dumps(value).decode("ascii"))
    lock_untrusted_clients(app)
    login(old_style, "alice", GOOD_PASSWORD, status=429)
