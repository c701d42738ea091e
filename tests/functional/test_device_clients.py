"""The client side of the device grant as tools perform it, over real HTTP against
waitress: Authlib's OAuth 2.0 client, and the ``camauth-device-login`` script run as
a process of its own."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from camauth.clock import utcnow
from camauth.device_client import Failure, wait_for_token
from camauth.models import DeviceRequestStatus, User
from camauth.services import accounts, device_login

from ..browser.conftest import LiveServer, serve
from ..conftest import app_context

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SCRIPT = Path(sys.executable).with_name("camauth-device-login")


@pytest.fixture
def live(ini_settings: dict[str, Any], clock: Any) -> Iterator[LiveServer]:
    with serve(ini_settings, clock) as server:
        add_user(server, "alice")
        yield server


def add_user(server: LiveServer, username: str) -> None:
    ctx = app_context(server.app)
    try:
        accounts.create_user(ctx, username, password="a long and good passphrase 1")
        ctx.db.commit()
    finally:
        ctx.db.close()


def decide_as(server: LiveServer, username: str, user_code: str, decision: DeviceRequestStatus):
    """What pressing a button on /device does (the page itself has tests of its own)."""
    ctx = app_context(server.app)
    try:
        user = accounts.find_user(ctx, username)
        assert isinstance(user, User)
        found = device_login.pending_by_user_code(ctx, user_code.replace("-", ""))
        assert found is not None
        assert device_login.decide(ctx, user, found.id, decision)
        ctx.db.commit()
    finally:
        ctx.db.close()


def test_authlib_performs_the_grant_unchanged(live):
    client = OAuth2Session(client_id="authlib-tool", token_endpoint_auth_method="none")
    answer = client.post(
        f"{live.url}/oauth/device_authorization",
        data={"client_id": "authlib-tool", "scope": "api"},
        timeout=10,
        withhold_token=True,  # no token yet: this request is how one is asked for
    )
    assert answer.status_code == 200
    grant = answer.json()
    token_url = f"{live.url}/oauth/token"
    with pytest.raises(OAuthError) as pending:
        client.fetch_token(token_url, grant_type=DEVICE_GRANT, device_code=grant["device_code"])
    assert pending.value.error == "authorization_pending"
    with pytest.raises(OAuthError) as too_fast:
        client.fetch_token(token_url, grant_type=DEVICE_GRANT, device_code=grant["device_code"])
    assert too_fast.value.error == "slow_down"

    decide_as(live, "alice", grant["user_code"], DeviceRequestStatus.APPROVED)
    live.clock.advance(seconds=grant["interval"] + 5)
    token = client.fetch_token(token_url, grant_type=DEVICE_GRANT, device_code=grant["device_code"])
    assert token["token_type"] == "Bearer" and token["scope"] == "api"
    # Authlib's session now sends the token itself
    me = client.get(f"{live.url}/api/v1/me", timeout=10)
    assert me.status_code == 200 and me.json()["username"] == "alice"
    live.clock.advance(seconds=30)
    with pytest.raises(OAuthError) as replay:
        client.fetch_token(token_url, grant_type=DEVICE_GRANT, device_code=grant["device_code"])
    assert replay.value.error == "invalid_grant"


def test_authlib_hears_denial_and_expiry(live):
    client = OAuth2Session(client_id="authlib-tool", token_endpoint_auth_method="none")
    token_url = f"{live.url}/oauth/token"
    denied, expiring = (
        client.post(
            f"{live.url}/oauth/device_authorization",
            data={"client_id": "authlib-tool"},
            timeout=10,
            withhold_token=True,
        ).json()
        for _ in range(2)
    )
    decide_as(live, "alice", denied["user_code"], DeviceRequestStatus.DENIED)
    with pytest.raises(OAuthError) as refused:
        client.fetch_token(token_url, grant_type=DEVICE_GRANT, device_code=denied["device_code"])
    assert refused.value.error == "access_denied"
    live.clock.advance(minutes=10)
    with pytest.raises(OAuthError) as expired:
        client.fetch_token(token_url, grant_type=DEVICE_GRANT, device_code=expiring["device_code"])
    assert expired.value.error == "expired_token"


def test_the_script_s_polling_follows_slow_down_and_stops_at_expiry(live):
    """wait_for_token against the live server, its sleeps moving the server's clock."""
    grant = requests.post(
        f"{live.url}/oauth/device_authorization", data={"client_id": "cli"}, timeout=10
    ).json()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        live.clock.advance(seconds=seconds if len(slept) != 2 else 1)  # one poll too early

    with pytest.raises(Failure) as stopped:
        wait_for_token(live.url, "cli", grant, sleep=sleep)
    assert str(stopped.value) == "the code expired before it was approved; run the command again"
    assert slept[:3] == [5, 5, 10]  # slowed down after the early poll, for good


@pytest.fixture
def real_time_server(ini_settings: dict[str, Any]) -> Iterator[LiveServer]:
    """The script really waits between polls: a real clock and a 1 s interval."""
    settings = {**ini_settings, "camauth.device.interval_seconds": "1"}
    with serve(settings, utcnow) as server:  # type: ignore[arg-type]
        add_user(server, "alice")
        yield server


def run_script(server: LiveServer, token_file: Path, decision: DeviceRequestStatus | None):
    process = subprocess.Popen(
        [str(SCRIPT), server.url, "--token-file", str(token_file), "--message", "test run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(token_file.parent)},
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    second = process.stdout.readline()
    assert first.startswith(f"To log in, open {server.url}/device"), first
    code = second.split()[-1]
    if decision is not None:
        decide_as(server, "alice", code, decision)
    out, err = process.communicate(timeout=60)
    return process.returncode, first + second + out, err


def test_the_script_logs_in_and_writes_the_token_for_its_owner_only(real_time_server, tmp_path):
    token_file = tmp_path / "config" / "camauth" / "token"
    code, out, err = run_script(real_time_server, token_file, DeviceRequestStatus.APPROVED)
    assert (code, err) == (0, "")
    assert f"Logged in. The token is in {token_file}" in out
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text().strip()
    me = requests.get(
        f"{real_time_server.url}/api/v1/me",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert me.json()["username"] == "alice"


def test_an_existing_token_file_readable_by_others_is_made_private(real_time_server, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("old\n")
    token_file.chmod(0o644)
    code, _, err = run_script(real_time_server, token_file, DeviceRequestStatus.APPROVED)
    assert (code, err) == (0, "")
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token_file.read_text().strip() != "old"


def test_the_script_says_so_in_one_line_when_denied(real_time_server, tmp_path):
    token_file = tmp_path / "token"
    code, _, err = run_script(real_time_server, token_file, DeviceRequestStatus.DENIED)
    assert code == 1
    assert err == "camauth-device-login: the login was denied\n"
    assert not token_file.exists()


def test_the_script_says_so_in_one_line_when_the_server_is_unreachable(tmp_path):
    result = subprocess.run(
        [str(SCRIPT), "http://127.0.0.1:9", "--token-file", str(tmp_path / "token")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("camauth-device-login: cannot reach http://127.0.0.1:9/")
    assert result.stderr.count("\n") == 1
