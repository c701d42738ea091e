"""A browser shared by two people: one person's two-factor data never reaches the other."""

from __future__ import annotations

import pyotp

from ..conftest import GOOD_PASSWORD
from .conftest import browser, create_user, location, submit_login


def test_new_recovery_codes_do_not_pass_to_the_next_person_logging_in(app_factory, clock):
    app = app_factory(**{"mfa.required_for": "none"})
    create_user(app, "alice")
    create_user(app, "bob")
    shared = browser(app)
    assert location(submit_login(shared, "alice", GOOD_PASSWORD)) == "/"
    page = shared.get("/account/two-factor")
    secret = page.html.select_one("#two-factor-secret").get_text().replace(" ", "")
    form = page.forms["enable-two-factor"]
    form["code"] = pyotp.TOTP(secret).at(clock.now)
    codes_url = location(form.submit())
    assert codes_url == "/account/two-factor/recovery-codes"
    alices_codes = [li.get_text() for li in shared.get(codes_url).html.select(".recovery-codes li")]
    assert len(alices_codes) == 10

    # Alice walks away without logging out or saying she saved them; Bob logs in from
    # a login page left open in another tab (the form carries this session's token)
    token = shared.get("/").html.select_one('input[name="csrf_token"]')["value"]
    fields = {"csrf_token": token, "username": "bob", "password": GOOD_PASSWORD, "next": ""}
    assert location(shared.post("/login", {**fields, "submit": "submit"})) == "/"
    assert "Signed in as bob" in shared.get("/").text
    shown = shared.get(codes_url)
    assert shown.status_int == 303  # nothing fresh to show Bob
    assert location(shown) == "/account/two-factor"
    assert not any(code in shared.get("/account/two-factor").text for code in alices_codes)
    download = shared.get("/account/two-factor/recovery-codes.txt")
    assert download.status_int == 303
    assert not any(code in download.text for code in alices_codes)
