"""Setting up and managing two-factor through the real forms (PRODUCT §7, §8, §15):
policy, enrolment, recovery codes, turning it off, and re-authentication before
sensitive changes."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pyotp
import pytest
import segno
import webtest
from sqlalchemy import select

from camauth.models import RecoveryCode, TwoFactorCredential

from ..conftest import GOOD_PASSWORD, read_mails
from .conftest import (
    HOME_LOGIN_REDIRECT,
    all_rows,
    audit_events,
    browser,
    create_user,
    error_text,
    failure_count,
    field_errors,
    flashes,
    get_user,
    location,
    logout,
    session_rows,
    submit_login,
    table_counts,
)
from .two_factor_helpers import (
    CLOCK_HINT,
    GROUPED_SECRET,
    NOT_A_RECOVERY_CODE,
    REAUTH_REFUSED,
    WRONG_CODE,
    Authenticator,
    enrol,
    log_in_with_code,
    password_step,
    remove_two_factor,
    submit_code,
)

SETUP = "/account/two-factor"
CODES = "/account/two-factor/recovery-codes"
DOWNLOAD = "/account/two-factor/recovery-codes.txt"
REAUTH = "/account/reauthenticate"
NEW_PASSWORD = "granite otter plays the kazoo at dawn"
EMAIL = "alice@example.org"
RECOVERY_CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")
REVISION = "2026-01"
ON_FLASH = "Two-factor authentication is on."
OFF_FLASH = "Two-factor authentication is off."
SHOWN_ONCE = (
    "Recovery codes are shown only once, right after they are made. If you did not "
    "save them, generate a new set."
)


def setup_path(next_path: str) -> str:
    return f"{SETUP}?next={next_path.replace('/', '%2F')}"


def password_only_login(app: Any, username: str = "alice", **kw: str) -> webtest.TestApp:
    client = browser(app, **kw)
    assert location(submit_login(client, username, GOOD_PASSWORD)) == "/"
    return client


def shown_secret(page: webtest.TestResponse) -> str:
    return page.html.select_one("#two-factor-secret").get_text(strip=True)


def set_up(client: webtest.TestApp, clock: Any, next_path: str = "") -> tuple[Authenticator, Any]:
    """Enrol through the setup page; returns the device and the recovery codes page."""
    page = client.get(SETUP, params={"next": next_path} if next_path else {}, status=200)
    device = Authenticator(shown_secret(page).replace(" ", ""), clock)
    form = page.forms["enable-two-factor"]
    form["code"] = device.now()
    done = form.submit("submit", status=303)
    return device, done.follow(status=200)


def shown_codes(page: webtest.TestResponse) -> list[str]:
    return [item.get_text(strip=True) for item in page.html.select("ul.recovery-codes li")]


def submit_reauth(
    page: webtest.TestResponse, password: str, code: str | None = None, status: int | str = "*"
) -> webtest.TestResponse:
    form = page.forms["reauthenticate"]
    form["password"] = password
    if code is not None:
        form["code"] = code
    return form.submit("submit", status=status)


def submit_disable(
    client: webtest.TestApp, password: str, code: str, status: int | str = "*"
) -> webtest.TestResponse:
    form = client.get(SETUP, status=200).forms["disable-two-factor"]
    form["password"] = password
    form["code"] = code
    return form.submit("submit", status=status)


def stored_two_factor(app: Any, user_id: int) -> tuple[int, int, bool]:
    """(credentials, recovery codes, two_factor_enabled_at is set) of the user."""
    credentials = all_rows(
        app, select(TwoFactorCredential).where(TwoFactorCredential.user_id == user_id)
    )
    codes = all_rows(app, select(RecoveryCode).where(RecoveryCode.user_id == user_id))
    return len(credentials), len(codes), get_user(app, user_id).two_factor_enabled_at is not None


def qr_modules(svg_path: str) -> set[tuple[int, int]]:
    """The dark modules (row, column) drawn by an SVG path of horizontal lines, moved
    to start at (0, 0) (the finder pattern's corner is always dark)."""
    x = y = 0.0
    dark: set[tuple[int, int]] = set()
    for command, arguments in re.findall(r"([MmHhVvZz])([^MmHhVvZz]*)", svg_path):
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", arguments)]
        if command == "M":
            x, y = numbers
        elif command == "m":
            x, y = x + numbers[0], y + numbers[1]
        elif command == "h":
            dark.update((int(y), int(x) + i) for i in range(int(numbers[0])))
            x += numbers[0]
        else:
            raise AssertionError(f"unexpected path command {command!r}")
    return _from_origin(dark)


def _from_origin(dark: set[tuple[int, int]]) -> set[tuple[int, int]]:
    top = min(row for row, _ in dark)
    left = min(column for _, column in dark)
    return {(row - top, column - left) for row, column in dark}


def qr_of(text: str, error: str) -> set[tuple[int, int]]:
    matrix = segno.make(text, error=error).matrix
    return _from_origin(
        {(r, c) for r, row in enumerate(matrix) for c, value in enumerate(row) if value}
    )


@pytest.fixture
def alice(app):
    return create_user(app, "alice", email=EMAIL)


@pytest.fixture
def enrolled(app, clock):
    """alice, with an authenticator app, logged in with it: (id, device, codes, browser)."""
    user_id = create_user(app, "alice", email=EMAIL)
    device, codes = enrol(app, user_id, clock)
    client = browser(app)
    log_in_with_code(client, "alice", device)
    return user_id, device, codes, client


# --- policy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "is_admin", "required"),
    [
        ("admins", True, True),
        ("admins", False, False),
        ("all", True, True),
        ("all", False, True),
        ("none", True, False),
        ("none", False, False),
    ],
)
def test_policy_decides_who_must_set_up_two_factor(app_factory, policy, is_admin, required):
    app = app_factory(**{"mfa.required_for": policy})
    create_user(app, "alice", is_admin=is_admin)
    client = browser(app)
    response = submit_login(client, "alice", GOOD_PASSWORD, next_path="/account/password")
    assert location(response) == "/account/password"
    if required:
        gated = client.get("/account/password", status=303)
        assert location(gated) == setup_path("/account/password")
        page = gated.follow(status=200)
        assert "Your account must use two-factor authentication" in page.text
        assert "enable-two-factor" in page.forms
    else:
        client.get("/account/password", status=200)
        assert "Signed in as alice" in client.get("/", status=200).text


def test_default_policy_is_admins(app_factory):
    app = app_factory(**{"mfa.required_for": None})
    create_user(app, "root", is_admin=True)
    create_user(app, "bob")
    assert location(password_only_login(app, "root").get("/", status=303)) == setup_path("/")
    password_only_login(app, "bob", ip="192.0.2.11").get("/", status=200)


@pytest.mark.parametrize(
    "path", ["/", "/account/password", "/account/terms", CODES, DOWNLOAD, "/?page=2"]
)
def test_nothing_else_is_reachable_until_two_factor_is_set_up(app_factory, path):
    app = app_factory(**{"mfa.required_for": "all", "terms.revision": REVISION})
    user_id = create_user(app, "alice", is_admin=False)
    client = password_only_login(app)
    form = client.get("/account/terms", status=200).forms["agree-terms"]
    form.submit("submit", status=303)
    response = client.get(path, status=303)
    assert location(response) == f"{SETUP}?{urlencode({'next': path})}"
    assert get_user(app, user_id).two_factor_enabled_at is None


def test_posts_while_owing_two_factor_change_nothing(app_factory):
    app = app_factory(**{"mfa.required_for": "all"})
    user_id = create_user(app, "alice")
    client = password_only_login(app)
    token = client.get(SETUP).forms["enable-two-factor"]["csrf_token"].value
    before = get_user(app, user_id).password_hash
    fields = {
        "csrf_token": token,
        "current_password": GOOD_PASSWORD,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    }
    response = client.post("/account/password", fields, status=303)
    assert location(response) == SETUP
    assert get_user(app, user_id).password_hash == before
    # logging out still works
    assert location(client.post("/logout", {"csrf_token": token}, status=303)) == "/login"
    assert session_rows(app, user_id) == []


def test_order_change_password_then_terms_then_two_factor(app_factory, clock):
    app = app_factory(**{"mfa.required_for": "admins", "terms.revision": REVISION})
    user_id = create_user(app, "root", is_admin=True, must_change_password=True)
    client = browser(app)
    target = "/?from=login"
    owed = f"?{urlencode({'next': target})}"
    login = submit_login(client, "root", GOOD_PASSWORD, next_path=target)
    assert location(login) == target

    # 1. the password; the set-up is not reachable yet
    gated = client.get(target, status=303)
    assert location(gated) == "/account/password" + owed
    assert (
        location(client.get(SETUP, status=303)) == "/account/password?next=%2Faccount%2Ftwo-factor"
    )
    form = gated.follow(status=200).forms["change-password"]
    form["current_password"] = GOOD_PASSWORD
    form["new_password"] = form["confirm_password"] = NEW_PASSWORD
    assert location(form.submit("submit", status=303)) == target
    # 2. the terms
    gated = client.get(target, status=303)
    assert location(gated) == "/account/terms" + owed
    assert location(client.get(SETUP, status=303)).startswith("/account/terms?next=")
    agreed = gated.follow(status=200).forms["agree-terms"].submit("submit", status=303)
    assert location(agreed) == target
    # 3. two-factor
    gated = client.get(target, status=303)
    assert location(gated) == SETUP + owed
    page = gated.follow(status=200)
    device = Authenticator(shown_secret(page).replace(" ", ""), clock)
    form = page.forms["enable-two-factor"]
    form["code"] = device.now()
    enabled = form.submit("submit", status=303)
    assert location(enabled) == CODES + owed
    saved = enabled.follow(status=200).forms["codes-saved"].submit("submit", status=303)
    # 4. the destination at last
    assert location(saved) == target
    assert "Signed in as root" in client.get(target, status=200).text
    user = get_user(app, user_id)
    assert not user.must_change_password
    assert user.terms_revision == REVISION
    assert user.two_factor_enabled_at is not None


def test_removed_two_factor_must_be_set_up_again_when_policy_requires(app, clock):
    root_id = create_user(app, "root", is_admin=True)
    device, _ = enrol(app, root_id, clock)
    client = browser(app)
    log_in_with_code(client, "root", device)
    client.get("/", status=200)

    remove_two_factor(app, root_id)
    (removed,) = audit_events(app, "two_factor_removed")
    assert removed.details == {"by": "administrator"}
    # their sessions ended; the password alone logs in now, straight to the set-up
    assert location(client.get("/", status=303)) == HOME_LOGIN_REDIRECT
    response = submit_login(client, "root", GOOD_PASSWORD, status=303)
    assert location(response) == "/"
    gated = client.get("/", status=303)
    assert location(gated) == setup_path("/")
    new_device, _ = set_up(client, clock, "/")
    assert new_device.secret != device.secret


def test_removed_two_factor_is_not_asked_again_when_policy_does_not_require(app, clock):
    user_id = create_user(app, "alice")
    _device, _ = enrol(app, user_id, clock)
    remove_two_factor(app, user_id)
    password_only_login(app).get("/", status=200)


# --- enrolment ------------------------------------------------------------------


def test_setup_page_labels_qr_code_and_secret(app, alice):
    client = password_only_login(app)
    page = client.get(SETUP, status=200)
    form = page.forms["enable-two-factor"]
    label = page.html.find("label", attrs={"for": form["code"].id})
    assert label.get_text(strip=True) == "Authentication code"
    button = page.html.select_one("form#enable-two-factor button[type=submit]")
    assert button.get_text(strip=True) == "Enable"

    secret_text = shown_secret(page)
    assert GROUPED_SECRET.match(secret_text), secret_text
    secret = secret_text.replace(" ", "")
    assert len(secret) == 32  # 160 bits
    # the QR code is markup in the page: no image fetched from anywhere
    svg = page.html.select_one(".qr-code svg")
    assert svg is not None
    assert page.html.select("img") == []
    assert "<script" not in str(svg).lower()
    # ... and it holds the authenticator URI of this account, secret and issuer
    uri = pyotp.TOTP(secret).provisioning_uri(name="alice", issuer_name="camauth")
    drawn = qr_modules(svg.select_one("path[stroke]")["d"])
    assert any(drawn == qr_of(uri, level) for level in "lmqh")


def test_issuer_setting_is_in_the_qr_code_and_the_page(app_factory):
    app = app_factory(**{"mfa.issuer": "Research Portal"})
    create_user(app, "alice")
    page = password_only_login(app).get(SETUP, status=200)
    secret = shown_secret(page).replace(" ", "")
    assert "issuer: Research Portal" in page.html.select_one(".setup-steps").get_text(" ")
    uri = pyotp.TOTP(secret).provisioning_uri(name="alice", issuer_name="Research Portal")
    drawn = qr_modules(page.html.select_one(".qr-code svg path[stroke]")["d"])
    assert any(drawn == qr_of(uri, level) for level in "lmqh")


def test_secret_is_not_stored_until_confirmed_and_stays_the_same(app, alice):
    client = password_only_login(app)
    first = shown_secret(client.get(SETUP, status=200))
    again = shown_secret(client.get(SETUP, status=200))
    assert first == again
    counts = table_counts(app)
    assert (counts["two_factor_credentials"], counts["recovery_codes"]) == (0, 0)
    assert stored_two_factor(app, alice) == (0, 0, False)
    # another person's (or browser's) set-up page has its own secret
    bob_id = create_user(app, "bob")
    assert bob_id
    other = shown_secret(password_only_login(app, "bob", ip="192.0.2.11").get(SETUP))
    assert other != first


def test_wrong_code_stores_nothing_and_keeps_the_secret(app, alice, clock, mail_dir):
    client = password_only_login(app)
    page = client.get(SETUP, status=200)
    device = Authenticator(shown_secret(page).replace(" ", ""), clock)
    form = page.forms["enable-two-factor"]
    form["code"] = device.not_now()
    refused = form.submit("submit", status=400)
    assert error_text(refused) == WRONG_CODE
    assert shown_secret(refused) == shown_secret(page)
    assert "enable-two-factor" in refused.forms
    assert stored_two_factor(app, alice) == (0, 0, False)
    assert audit_events(app, "two_factor_enrolled") == []
    assert read_mails(mail_dir) == []


def test_code_of_a_device_with_a_wrong_clock_gets_the_hint_at_setup(app, alice, clock):
    client = password_only_login(app)
    page = client.get(SETUP, status=200)
    device = Authenticator(shown_secret(page).replace(" ", ""), clock)
    form = page.forms["enable-two-factor"]
    form["code"] = device.off_by(-4)
    refused = form.submit("submit", status=400)
    assert CLOCK_HINT in error_text(refused)
    assert stored_two_factor(app, alice) == (0, 0, False)


def test_empty_code_at_setup_is_a_form_error(app, alice):
    client = password_only_login(app)
    form = client.get(SETUP, status=200).forms["enable-two-factor"]
    refused = form.submit("submit", status=400)
    assert "Required" in field_errors(refused)
    assert stored_two_factor(app, alice) == (0, 0, False)


def test_right_code_turns_it_on_and_shows_ten_codes_once(app, alice, clock, mail_dir):
    client = password_only_login(app)
    page = client.get(SETUP, params={"next": "/account/password"}, status=200)
    device = Authenticator(shown_secret(page).replace(" ", ""), clock)
    form = page.forms["enable-two-factor"]
    form["code"] = device.now()
    done = form.submit("submit", status=303)
    assert location(done) == CODES + "?next=%2Faccount%2Fpassword"
    assert stored_two_factor(app, alice) == (1, 10, True)
    assert get_user(app, alice).two_factor_enabled_at == clock.now

    codes_page = done.follow(status=200)
    assert flashes(codes_page) == [ON_FLASH]
    codes = shown_codes(codes_page)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert all(RECOVERY_CODE.match(code) for code in codes), codes
    # stored hashed only
    digests = {row.code_digest for row in all_rows(app, select(RecoveryCode))}
    assert not any(
        code in digest or code.replace("-", "") in digest for code in codes for digest in digests
    )

    download = client.get(DOWNLOAD, status=200)
    assert download.content_type == "text/plain"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "recovery-codes.txt" in download.headers["Content-Disposition"]
    lines = download.text.splitlines()
    assert [line for line in lines if RECOVERY_CODE.match(line)] == codes

    saved = codes_page.forms["codes-saved"]
    button = codes_page.html.select_one("form#codes-saved button[type=submit]")
    assert button.get_text(strip=True) == "I have saved these codes"
    assert location(saved.submit("submit", status=303)) == "/account/password"

    # shown once: now the page sends the person to the two-factor page, with a word
    again = client.get(CODES, status=303)
    assert location(again) == SETUP
    manage = again.follow(status=200)
    assert flashes(manage) == [SHOWN_ONCE]
    assert not any(code in manage.text for code in codes)
    assert location(client.get(DOWNLOAD, status=303)) == SETUP

    (enrolled,) = audit_events(app, "two_factor_enrolled")
    assert (enrolled.target_id, enrolled.actor_id) == (alice, alice)
    assert enrolled.details == {"method": "app"}
    [mail] = read_mails(mail_dir)
    assert (mail.to, mail.subject) == (EMAIL, "Two-factor authentication was turned on")

    # the codes and the device work for the next login
    logout(client)
    password_step(client, "alice")
    submit_code(client, codes[0], recovery=True, status=303)
    logout(client)
    log_in_with_code(client, "alice", device)


def test_fresh_codes_are_dropped_after_a_few_minutes(app, alice, clock):
    client = password_only_login(app)
    _, codes_page = set_up(client, clock)
    codes = shown_codes(codes_page)
    clock.advance(minutes=5)
    response = client.get(CODES, status=303)
    assert location(response) == SETUP
    assert not any(code in response.follow().text for code in codes)


def test_setting_up_ends_the_other_sessions(app_factory, clock):
    app = app_factory(**{"session.one_per_user": "false"})
    user_id = create_user(app, "alice")
    other = password_only_login(app, ip="198.51.100.3")
    client = password_only_login(app)
    assert len(session_rows(app, user_id)) == 2
    set_up(client, clock)
    assert location(other.get("/", status=303)) == HOME_LOGIN_REDIRECT
    assert len(session_rows(app, user_id)) == 1
    client.get("/", status=200)


def test_setup_page_after_an_old_login_asks_for_the_password_first(app, alice, clock):
    client = password_only_login(app)
    clock.advance(minutes=6)
    asked = client.get(SETUP, status=303)
    assert location(asked) == REAUTH + "?next=%2Faccount%2Ftwo-factor"
    page = asked.follow(status=200)
    assert "code" not in page.forms["reauthenticate"].fields  # not enrolled yet
    back = submit_reauth(page, GOOD_PASSWORD, status=303)
    assert location(back) == SETUP
    assert "enable-two-factor" in back.follow(status=200).forms


def test_enabling_after_an_old_login_asks_for_the_password_and_keeps_the_secret(app, alice, clock):
    client = password_only_login(app)
    page = client.get(SETUP, params={"next": "/account/password"}, status=200)
    secret = shown_secret(page)
    device = Authenticator(secret.replace(" ", ""), clock)
    clock.advance(minutes=5)
    form = page.forms["enable-two-factor"]
    form["code"] = device.now()
    asked = form.submit("submit", status=303)
    target = f"{SETUP}?{urlencode({'next': '/account/password'})}"
    assert location(asked) == f"{REAUTH}?{urlencode({'next': target})}"
    assert stored_two_factor(app, alice) == (0, 0, False)

    back = submit_reauth(asked.follow(status=200), GOOD_PASSWORD, status=303)
    assert location(back) == target
    page = back.follow(status=200)
    assert shown_secret(page) == secret  # the app already scanned still works
    form = page.forms["enable-two-factor"]
    form["code"] = device.next()
    done = form.submit("submit", status=303)
    assert location(done) == f"{CODES}?{urlencode({'next': '/account/password'})}"
    assert stored_two_factor(app, alice) == (1, 10, True)


def test_required_set_up_after_an_old_login_asks_for_the_password_first(app_factory, clock):
    app = app_factory(**{"mfa.required_for": "all"})
    create_user(app, "alice")
    client = password_only_login(app)
    clock.advance(minutes=10)
    gated = client.get("/", status=303)
    assert location(gated) == setup_path("/")
    asked = gated.follow(status=303)
    assert location(asked) == f"{REAUTH}?{urlencode({'next': setup_path('/')})}"
    back = submit_reauth(asked.follow(status=200), GOOD_PASSWORD, status=303)
    assert location(back) == setup_path("/")
    device = Authenticator(shown_secret(back.follow(status=200)).replace(" ", ""), clock)
    form = client.get(setup_path("/")).forms["enable-two-factor"]
    form["code"] = device.now()
    codes_page = form.submit("submit", status=303).follow(status=200)
    saved = codes_page.forms["codes-saved"].submit("submit", status=303)
    assert location(saved) == "/"
    client.get("/", status=200)


def test_pages_with_secrets_are_not_cached(app, alice, clock):
    client = password_only_login(app)
    assert client.get(SETUP).headers["Cache-Control"] == "no-store"
    _, codes_page = set_up(client, clock)
    assert codes_page.headers["Cache-Control"] == "no-store"
    assert client.get(DOWNLOAD).headers["Cache-Control"] == "no-store"


def test_a_second_set_up_is_not_offered(enrolled):
    _user_id, _, _, client = enrolled
    page = client.get(SETUP, status=200)
    assert "enable-two-factor" not in page.forms
    assert page.html.select_one("#recovery-codes-left").get_text(strip=True) == "10"
    assert "regenerate-codes" in page.forms
    assert "disable-two-factor" in page.forms


# --- recovery codes: a new set --------------------------------------------------


def test_regenerate_replaces_the_codes(app, enrolled):
    _user_id, _device, old_codes, client = enrolled
    manage = client.get(SETUP, status=200)
    button = manage.html.select_one("form#regenerate-codes button[type=submit]")
    assert button.get_text(strip=True) == "Generate new recovery codes"
    response = manage.forms["regenerate-codes"].submit("submit", status=303)
    assert location(response) == CODES
    new_codes = shown_codes(response.follow(status=200))
    assert len(set(new_codes)) == 10
    assert not set(new_codes) & set(old_codes)
    assert len(audit_events(app, "recovery_codes_regenerated")) == 1

    logout(client)
    password_step(client, "alice")
    refused = submit_code(client, old_codes[0], recovery=True, status=403)
    assert error_text(refused) == NOT_A_RECOVERY_CODE
    submit_code(client, new_codes[0], recovery=True, status=303)


def test_regenerate_after_an_old_login_asks_again_first(app, enrolled, clock):
    user_id, device, old_codes, client = enrolled
    form = client.get(SETUP, status=200).forms["regenerate-codes"]
    clock.advance(minutes=5)
    asked = form.submit("submit", status=303)
    assert location(asked) == REAUTH + "?next=%2Faccount%2Ftwo-factor"
    assert audit_events(app, "recovery_codes_regenerated") == []
    assert stored_two_factor(app, user_id) == (1, 10, True)

    page = asked.follow(status=200)
    form = page.forms["reauthenticate"]
    assert {"password", "code"} <= set(form.fields)
    labels = {
        page.html.find("label", attrs={"for": form[name].id}).get_text(strip=True)
        for name in ("password", "code")
    }
    assert labels == {"Password", "Authentication code"}
    back = submit_reauth(page, GOOD_PASSWORD, device.next(), status=303)
    assert location(back) == SETUP
    regenerated = back.follow(status=200).forms["regenerate-codes"].submit("submit", status=303)
    assert location(regenerated) == CODES
    new_codes = shown_codes(regenerated.follow(status=200))
    assert not set(new_codes) & set(old_codes)

    # the old codes are void
    logout(client)
    password_step(client, "alice")
    submit_code(client, old_codes[1], recovery=True, status=403)


def test_reauthentication_needs_the_code_too(app, enrolled, clock):
    _user_id, device, _, client = enrolled
    clock.advance(minutes=5)
    page = client.get(REAUTH, params={"next": SETUP}, status=200)
    refused = submit_reauth(page, GOOD_PASSWORD, device.not_now(), status=403)
    assert error_text(refused) == REAUTH_REFUSED
    # still not recent: the regenerate button sends the person back here
    form = client.get(SETUP).forms["regenerate-codes"]
    assert location(form.submit("submit", status=303)).startswith(REAUTH)
    empty = submit_reauth(refused, GOOD_PASSWORD, "", status=400)
    assert "Required" in field_errors(empty)
    assert failure_count(app, "alice") == 1


def test_reauthentication_with_a_recovery_code(app, enrolled, clock):
    _user_id, _, codes, client = enrolled
    clock.advance(minutes=5)
    page = client.get(REAUTH, params={"next": SETUP}, status=200)
    back = submit_reauth(page, GOOD_PASSWORD, codes[5], status=303)
    assert location(back) == SETUP
    manage = back.follow(status=200)
    assert flashes(manage) == ["You used a recovery code; 9 of your codes are left."]
    assert manage.html.select_one("#recovery-codes-left").get_text(strip=True) == "9"


# --- turning it off -------------------------------------------------------------


def test_disable_form_asks_for_password_and_code(enrolled):
    _, _, _, client = enrolled
    page = client.get(SETUP, status=200)
    form = page.forms["disable-two-factor"]
    assert {"password", "code", "csrf_token"} <= set(form.fields)
    assert form["password"].attrs["type"] == "password"
    button = page.html.select_one("form#disable-two-factor button[type=submit]")
    assert button.get_text(strip=True) == "Turn off two-factor"


@pytest.mark.parametrize("wrong", ["code", "password"])
def test_disable_with_a_wrong_code_or_password_is_refused(app, enrolled, mail_dir, wrong):
    user_id, device, _, client = enrolled
    password = "not my password at all" if wrong == "password" else GOOD_PASSWORD
    code = device.not_now() if wrong == "code" else device.next()
    refused = submit_disable(client, password, code, status=403)
    assert error_text(refused) == REAUTH_REFUSED
    assert stored_two_factor(app, user_id) == (1, 10, True)
    assert audit_events(app, "two_factor_removed") == []
    assert read_mails(mail_dir) == []
    assert failure_count(app, "alice") == 1
    client.get("/", status=200)  # still logged in


def test_disable_without_a_code_is_a_form_error(app, enrolled):
    user_id, _, _, client = enrolled
    refused = submit_disable(client, GOOD_PASSWORD, "", status=400)
    assert "Required" in field_errors(refused)
    assert stored_two_factor(app, user_id) == (1, 10, True)


def test_disable_with_password_and_code(app_factory, clock, mail_dir):
    app = app_factory(**{"session.one_per_user": "false"})
    user_id = create_user(app, "alice", email=EMAIL)
    device, _ = enrol(app, user_id, clock)
    other = browser(app, ip="198.51.100.3")
    log_in_with_code(other, "alice", device)
    client = browser(app)
    log_in_with_code(client, "alice", device)
    assert len(session_rows(app, user_id)) == 2

    done = submit_disable(client, GOOD_PASSWORD, device.next(), status=303)
    assert location(done) == SETUP
    page = done.follow(status=200)
    assert flashes(page) == [OFF_FLASH]
    assert "enable-two-factor" in page.forms  # the set-up is offered again
    assert stored_two_factor(app, user_id) == (0, 0, False)
    (removed,) = audit_events(app, "two_factor_removed")
    assert (removed.target_id, removed.actor_id) == (user_id, user_id)
    assert removed.details == {"by": "self"}
    [mail] = read_mails(mail_dir)
    assert (mail.to, mail.subject) == (EMAIL, "Two-factor authentication was turned off")
    assert "every other session of your account has been logged out" in mail.body
    # the other session ended, this one goes on
    assert location(other.get("/", status=303)) == HOME_LOGIN_REDIRECT
    assert len(session_rows(app, user_id)) == 1
    client.get("/", status=200)
    # and the password alone logs in now
    logout(client)
    assert location(submit_login(client, "alice", GOOD_PASSWORD, status=303)) == "/"


def test_disable_with_a_recovery_code(app, enrolled):
    user_id, _, codes, client = enrolled
    submit_disable(client, GOOD_PASSWORD, codes[2], status=303)
    assert stored_two_factor(app, user_id) == (0, 0, False)


def test_disable_when_policy_requires_it_sends_to_set_up_again(app_factory, clock):
    app = app_factory(**{"mfa.required_for": "all"})
    user_id = create_user(app, "alice")
    device, _ = enrol(app, user_id, clock)
    client = browser(app)
    log_in_with_code(client, "alice", device)
    manage = client.get(SETUP, status=200)
    assert "after turning it off you will be asked to set it up again" in " ".join(
        manage.text.split()
    )
    submit_disable(client, GOOD_PASSWORD, device.next(), status=303)
    assert location(client.get("/", status=303)) == setup_path("/")


# --- change password: re-authentication -----------------------------------------


def test_change_password_after_an_old_login_asks_for_password_and_code(app, enrolled, clock):
    _user_id, device, _, client = enrolled
    clock.advance(minutes=5)
    asked = client.get("/account/password", status=303)
    assert location(asked) == REAUTH + "?next=%2Faccount%2Fpassword"
    page = asked.follow(status=200)
    assert "Enter your password and an authentication code again" in page.text
    back = submit_reauth(page, GOOD_PASSWORD, device.next(), status=303)
    assert location(back) == "/account/password"
    form = back.follow(status=200).forms["change-password"]
    form["current_password"] = GOOD_PASSWORD
    form["new_password"] = form["confirm_password"] = NEW_PASSWORD
    assert location(form.submit("submit", status=303)) == "/"
    assert flashes(client.get("/")) == ["Your password has been changed."]
    logout(client)
    password_step(client, "alice", password=NEW_PASSWORD)


def test_change_password_within_the_window_needs_no_second_proof(app, enrolled, clock):
    _, _, _, client = enrolled
    clock.advance(minutes=4, seconds=59)
    client.get("/account/password", status=200)


def test_change_password_keeps_its_next_through_the_reauthentication(app, enrolled, clock):
    _, device, _, client = enrolled
    clock.advance(minutes=6)
    asked = client.get("/account/password", params={"next": "/account/two-factor"}, status=303)
    next_path = "/account/password?next=%2Faccount%2Ftwo-factor"
    assert location(asked) == f"{REAUTH}?{urlencode({'next': next_path})}"
    back = submit_reauth(asked.follow(), GOOD_PASSWORD, device.next(), status=303)
    assert location(back) == next_path


def test_change_password_submitted_after_the_window_asks_again_and_changes_nothing(
    app, enrolled, clock
):
    user_id, _device, _, client = enrolled
    form = client.get("/account/password", status=200).forms["change-password"]
    before = get_user(app, user_id).password_hash
    clock.advance(minutes=5)
    form["current_password"] = GOOD_PASSWORD
    form["new_password"] = form["confirm_password"] = NEW_PASSWORD
    asked = form.submit("submit", status=303)
    assert location(asked) == REAUTH + "?next=%2Faccount%2Fpassword"
    assert get_user(app, user_id).password_hash == before
    assert audit_events(app, "password_changed") == []


def test_change_password_without_two_factor_is_not_asked_again(app, alice, clock):
    client = password_only_login(app)
    clock.advance(minutes=20)
    client.get("/account/password", status=200)


def test_wrong_reauthentication_counts_toward_lockout(app_factory, clock):
    app = app_factory(**{"lockout.threshold": "3"})
    user_id = create_user(app, "alice")
    device, _ = enrol(app, user_id, clock)
    client = browser(app)
    log_in_with_code(client, "alice", device)
    clock.advance(minutes=5)
    page = client.get("/account/password").follow(status=200)
    for number in (1, 2):
        refused = submit_reauth(page, f"wrong password {number}", device.next(), status=403)
        assert error_text(refused) == REAUTH_REFUSED
        assert failure_count(app, "alice") == number
        page = refused
    locked = submit_reauth(page, "wrong password 3", device.next(), status=429)
    assert "locked until" in error_text(locked)
    assert failure_count(app, "alice") == 3
    assert len(audit_events(app, "lockout")) == 1
    # locked: even the right password and code are refused, and not counted
    refused = submit_reauth(locked, GOOD_PASSWORD, device.next(), status=429)
    assert "locked until" in error_text(refused)
    assert failure_count(app, "alice") == 3
    assert location(client.get("/account/password", status=303)).startswith(REAUTH)
