"""camauth as operators run it: two waitress processes from production.ini behind
real nginx with TLS (the project's deploy/nginx.conf), on PostgreSQL. The two
processes must behave as one application, through restarts and a database outage.

One stack serves the whole module (starting it takes a few seconds); each test
uses usernames of its own.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from camauth.clock import utcnow
from camauth.db import make_engine, make_session_factory
from camauth.models import (
    AuditEvent,
    DeviceRequestStatus,
    Lockout,
    LoginFailure,
    UserStatus,
    WebSession,
)
from camauth.services import accounts, device_login, mfa, sessions, terms
from camauth.services.context import Context
from camauth.services.passwords import Passwords
from camauth.settings import parse_settings

from ..conftest import (
    FAST_ARGON2,
    GOOD_PASSWORD,
    read_mails,
    require_postgres,
    reset_postgres,
    skip_or_fail,
)
from .stack import NGINX, PUBLIC_URL, SECRET, Client, Stack, running_stack

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

pytestmark = pytest.mark.slow

NEW_PASSWORD = "maple orbit lantern quietly"
THRESHOLD = 10  # production.ini keeps the default


@pytest.fixture(scope="module")
def database_url() -> str:
    url = require_postgres()
    engine = make_engine(url)
    reset_postgres(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not NGINX.exists():
        skip_or_fail(f"deployment: {NGINX} is not installed (Debian's nginx; .ci/run installs it)")
    with running_stack(tmp_path_factory.mktemp("stack"), database_url) as running:
        yield running


@contextmanager
def service_context(stack: Stack) -> Iterator[Context]:
    """The services on the stack's database, as the command line would use them."""
    settings = parse_settings({"camauth.secret": SECRET, **FAST_ARGON2})
    engine = make_engine(stack.database_url)
    db = make_session_factory(engine)()
    try:
        yield Context(db=db, settings=settings, clock=utcnow, passwords=Passwords(settings))
        db.commit()
    finally:
        db.close()
        engine.dispose()


def create_user(stack: Stack, username: str, **kw: Any) -> None:
    """An account that has agreed to production.ini's terms (revision 1)."""
    with service_context(stack) as ctx:
        user = accounts.create_user(ctx, username, password=GOOD_PASSWORD, **kw)
        terms.agree_terms(ctx, user, "1")


def count(stack: Stack, statement: Any) -> int:
    with service_context(stack) as ctx:
        return int(ctx.db.scalar(statement) or 0)


def logged_in(stack: Stack, username: str) -> Client:
    client = stack.client()
    answer = client.log_in(username, GOOD_PASSWORD)
    assert answer.status == 303, answer.text[:500]
    return client


def on_each_process(stack: Stack, cookies: dict[str, str]) -> list[Client]:
    return [Client(app_port=port, cookies=dict(cookies)) for port in stack.app_ports]


def signed_in(client: Client, username: str) -> bool:
    page = client.get("/")
    if page.status == 200:
        assert f"Signed in as {username}" in page.text or username in page.text
        return True
    assert page.status == 303 and "/login" in page.headers["Location"], page.status
    return False


# --- one application ---------------------------------------------------------------


def test_a_session_made_on_one_process_works_on_both_and_logout_ends_it_on_both(stack):
    create_user(stack, "shared")
    client = logged_in(stack, "shared")
    assert all(name.startswith("__Host-") for name in client.cookies)
    processes = on_each_process(stack, client.cookies)
    assert [signed_in(process, "shared") for process in processes] == [True, True]

    assert client.log_out().status == 303
    assert [signed_in(process, "shared") for process in processes] == [False, False]


def end_sessions(ctx: Context, username: str) -> None:
    sessions.end_user_sessions(ctx, accounts.require_user(ctx, username))


def disable(ctx: Context, username: str) -> None:
    accounts.set_status(ctx, accounts.require_user(ctx, username), UserStatus.DISABLED)


def reset_password(ctx: Context, username: str) -> None:
    accounts.set_password(ctx, accounts.require_user(ctx, username), NEW_PASSWORD)


@pytest.mark.parametrize("revoke", [end_sessions, disable, reset_password])
def test_every_revocation_refuses_the_session_on_both_processes(stack, revoke):
    username = f"revoked-{revoke.__name__.replace('_', '-')}"
    create_user(stack, username)
    client = logged_in(stack, username)
    processes = on_each_process(stack, client.cookies)
    assert [signed_in(process, username) for process in processes] == [True, True]

    with service_context(stack) as ctx:
        revoke(ctx, username)

    assert [signed_in(process, username) for process in processes] == [False, False]
    assert not signed_in(client, username)


def test_thirty_wrong_passwords_over_both_processes_lock_exactly_at_the_threshold(stack):
    create_user(stack, "target")
    attackers = [stack.client() for _ in range(30)]
    tokens = [attacker.get("/login").csrf_token() for attacker in attackers]
    barrier = threading.Barrier(len(attackers))
    statuses: list[int] = []
    lock = threading.Lock()

    def attack(attacker: Client, token: str) -> None:
        form = {"csrf_token": token, "__formid__": "login", "submit": "submit",
                "username": "target", "password": "a wrong guess", "next": ""}  # fmt: skip
        barrier.wait(timeout=60)
        answer = attacker.post("/login", form)
        with lock:
            statuses.append(answer.status)

    threads = [
        threading.Thread(target=attack, args=pair) for pair in zip(attackers, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(statuses) == [403] * (THRESHOLD - 1) + [429] * (30 - THRESHOLD + 1)
    assert (
        count(stack, select(func.count()).where(LoginFailure.username_key == "target")) == THRESHOLD
    )
    locked = select(func.count()).where(
        Lockout.username_key == "target", Lockout.locked_until.is_not(None)
    )
    assert count(stack, locked) == 1
    upstreams = (stack.root / "nginx-access.log").read_text()
    assert all(f"upstream=127.0.0.1:{port}" in upstreams for port in stack.app_ports)


# --- one-time things ---------------------------------------------------------------


def test_a_reset_link_works_once_across_processes(stack):
    create_user(stack, "forgetful", email="forgetful@example.org")
    requester = stack.client()
    asked = requester.submit("/password/forgot", {"login": "forgetful"}, "forgot-password")
    assert asked.status == 303
    [mail] = [m for m in read_mails(stack.mail_dir) if m.to == "forgetful@example.org"]
    link = mail.link("/password/reset/")

    first, second = (Client(app_port=port) for port in stack.app_ports)
    fields = {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    used = first.submit(link, fields, "reset-password")
    assert used.status == 303, used.text[:500]
    again = second.get(link)
    assert again.status >= 400 and 'name="new_password"' not in again.text


def test_a_code_and_a_recovery_code_work_once_across_processes(stack):
    create_user(stack, "careful")
    secret = pyotp.random_base32()
    with service_context(stack) as ctx:
        user = accounts.require_user(ctx, "careful")
        codes = mfa.enrol_app(ctx, user, secret, pyotp.TOTP(secret).now())

    def second_step(port: int, path: str, field: str, code: str) -> int:
        client = Client(app_port=port)
        password = client.log_in("careful", GOOD_PASSWORD)
        assert password.status == 303 and "/login/two-factor" in password.headers["Location"]
        return client.submit(path, {field: code}, path_formid[path]).status

    path_formid = {"/login/two-factor": "two-factor", "/login/recovery-code": "recovery-code"}
    # the code that enrolment used is spent already; the next step's is fresh
    code = pyotp.TOTP(secret).at(utcnow().timestamp() + 30)
    first, second = stack.app_ports
    assert second_step(first, "/login/two-factor", "code", code) == 303
    assert second_step(second, "/login/two-factor", "code", code) != 303  # replayed
    assert second_step(second, "/login/recovery-code", "recovery_code", codes[0]) == 303
    assert second_step(first, "/login/recovery-code", "recovery_code", codes[0]) != 303


# --- addresses, origins, cookies -----------------------------------------------------


def last_failure_ip(stack: Stack, username: str) -> str:
    with service_context(stack) as ctx:
        ip = ctx.db.scalar(
            select(LoginFailure.ip)
            .where(LoginFailure.username_key == username)
            .order_by(LoginFailure.id.desc())
            .limit(1)
        )
        return str(ip)


def test_the_address_recorded_is_the_one_nginx_saw(stack):
    spoofer = stack.client()
    token = spoofer.get("/login").csrf_token()
    form = {"csrf_token": token, "__formid__": "login", "submit": "submit",
            "username": "spoofed", "password": "a wrong guess", "next": ""}  # fmt: skip
    answer = spoofer.post("/login", form, headers={"X-Forwarded-For": "203.0.113.99"})
    assert answer.status == 403
    # nginx sets X-Forwarded-For to the address it saw, replacing the client's
    assert last_failure_ip(stack, "spoofed") == "127.0.0.1"


def test_forwarded_headers_from_anyone_but_nginx_are_ignored(stack):
    """A process trusts forwarded headers from 127.0.0.1 (nginx) only; a client
    reaching a waitress port from elsewhere (here 127.0.0.2) is itself."""
    stranger = stack.direct_client(0, source_address="127.0.0.2", forwarded_for="203.0.113.98")
    token = stranger.get("/login").csrf_token()
    form = {"csrf_token": token, "__formid__": "login", "submit": "submit",
            "username": "direct", "password": "a wrong guess", "next": ""}  # fmt: skip
    answer = stranger.post("/login", form)
    # not https either (the forwarded scheme was dropped): the Origin check does not
    # run, and the wrong password is recorded under the real address
    assert answer.status == 403, answer.text[:300]
    assert last_failure_ip(stack, "direct") == "127.0.0.2"


def test_a_foreign_origin_is_refused_behind_https(stack):
    create_user(stack, "origin-target")
    client = stack.client()
    token = client.get("/login").csrf_token()
    form = {"csrf_token": token, "__formid__": "login", "submit": "submit",
            "username": "origin-target", "password": GOOD_PASSWORD, "next": ""}  # fmt: skip
    refused = client.post("/login", form, headers={"Origin": "https://evil.example"})
    assert refused.status == 400
    logins = select(func.count()).where(
        AuditEvent.target_name == "origin-target",
        AuditEvent.event.in_(["login_success", "login_failure"]),
    )
    assert count(stack, logins) == 0
    assert not signed_in(client, "origin-target")


def test_cookies_are_secure_and_host_only(stack):
    create_user(stack, "cookies")
    client = stack.client()
    page = client.get("/login")
    answer = client.log_in("cookies", GOOD_PASSWORD)
    headers = (page.headers.get_all("Set-Cookie") or []) + (
        answer.headers.get_all("Set-Cookie") or []
    )
    assert headers
    for header in headers:
        flags = {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}
        assert header.startswith("__Host-")
        assert {"secure", "httponly", "path"} <= flags and "domain" not in flags


# --- restarts and outages ------------------------------------------------------------


def test_restarting_both_processes_keeps_every_session_first_request_included(stack):
    create_user(stack, "restarted")
    client = logged_in(stack, "restarted")
    stack.restart_apps()
    # the very first request each new process serves is a logged-in one
    assert [
        signed_in(process, "restarted") for process in on_each_process(stack, client.cookies)
    ] == [True, True]
    assert signed_in(client, "restarted")


@contextmanager
def database_cut_off(database_url: str) -> Iterator[None]:
    """Refuse new connections to the database and end those it has; let them in again
    afterwards, whatever happens."""
    name = make_url(database_url).database
    admin = create_engine(
        make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                 " WHERE datname = :name AND pid <> pg_backend_pid()"),
            {"name": name},
        )  # fmt: skip
    try:
        yield
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()


def until(condition: Any, what: str, seconds: float = 30) -> None:
    """Poll the live servers until ``condition()`` holds (a bounded wait for a state
    the servers reach by themselves, not a sleep standing in for a timeout)."""
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.05)


def test_a_database_outage_gives_503_and_everything_recovers_by_itself(stack):
    create_user(stack, "steady")
    client = logged_in(stack, "steady")
    statuses: list[int] = []
    bodies: list[str] = []
    stop = threading.Event()

    def load(number: int) -> None:
        worker = stack.client()
        worker.cookies = dict(client.cookies)
        while not stop.is_set():
            page = worker.get("/")
            statuses.append(page.status)
            if page.status >= 500:
                bodies.append(page.text)
            guesser = stack.client()
            login_page = guesser.get("/login")
            if login_page.status == 200:
                form = {"csrf_token": login_page.csrf_token(), "__formid__": "login",
                        "submit": "submit", "username": f"outage-{number}",
                        "password": "a wrong guess", "next": ""}  # fmt: skip
                statuses.append(guesser.post("/login", form).status)

    workers = [threading.Thread(target=load, args=(n,)) for n in range(3)]
    for worker in workers:
        worker.start()
    try:
        until(lambda: len(statuses) >= 10, "load running before the cut")
        with database_cut_off(stack.database_url):
            until(lambda: stack.client().get("/healthz").status == 503, "healthz says 503")
            until(lambda: 503 in statuses, "the load meets the outage")
            down = client.get("/")
            assert down.status == 503
            assert "Traceback" not in down.text and "sqlalchemy" not in down.text.lower()
        until(lambda: stack.client().get("/healthz").status == 200, "healthz recovers")
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)

    assert 503 in statuses  # the load met the outage ...
    assert set(statuses) <= {200, 303, 403, 429, 503}, sorted(set(statuses))  # ... and never a 500
    assert all("Traceback" not in body for body in bodies)
    # recovered without a restart: the old session and new logins work on both processes
    assert [signed_in(p, "steady") for p in on_each_process(stack, client.cookies)] == [True, True]
    logged_in(stack, "steady")
    # nothing half-written: every failure recorded has its audit row and vice versa
    with service_context(stack) as ctx:
        failures = ctx.db.scalar(
            select(func.count()).where(LoginFailure.username_key.like("outage-%"))
        )
        audited = ctx.db.scalar(
            select(func.count()).where(
                AuditEvent.event == "login_failure", AuditEvent.target_name.like("outage-%")
            )
        )
    assert failures == audited and failures > 0


def test_the_stack_tested_is_the_shipped_nginx_example(stack):
    conf = (stack.root / "nginx.conf").read_text()
    shipped = (Path(__file__).resolve().parents[2] / "deploy" / "nginx.conf").read_text()
    kept = (
        "proxy_set_header X-Forwarded-For $remote_addr;",
        "proxy_set_header Host $server_name;",
        "ssl_reject_handshake on;",
        "proxy_pass http://camauth;",
    )
    for line in kept:
        assert line in shipped and line in conf


# --- device login and API tokens ------------------------------------------------------


def test_a_device_login_is_exchanged_once_and_its_token_works_and_ends_on_both(stack):
    create_user(stack, "tooler")
    tool = stack.client()
    asked = tool.post("/oauth/device_authorization", {"client_id": "deploy-cli"})
    assert asked.status == 200, asked.text
    grant = json.loads(asked.text)
    assert grant["verification_uri"] == f"{PUBLIC_URL}/device"
    with service_context(stack) as ctx:
        user = accounts.require_user(ctx, "tooler")
        found = device_login.pending_by_user_code(ctx, grant["user_code"].replace("-", ""))
        assert found is not None
        assert device_login.decide(ctx, user, found.id, DeviceRequestStatus.APPROVED)
    poll = {"grant_type": DEVICE_GRANT, "device_code": grant["device_code"]}
    poll["client_id"] = "deploy-cli"
    first, second = (Client(app_port=port) for port in stack.app_ports)
    issued = first.post("/oauth/token", poll)
    assert issued.status == 200, issued.text
    replayed = second.post("/oauth/token", poll)
    assert json.loads(replayed.text)["error"] in {"invalid_grant", "slow_down"}
    token = json.loads(issued.text)["access_token"]
    with service_context(stack) as ctx:
        api = ctx.db.scalars(select(WebSession).where(WebSession.client_id == "deploy-cli")).one()
        # the poll went straight to a process, playing nginx: the address it forwarded
        assert api.ip == "198.51.100.1"

    bearer = {"Authorization": f"Bearer {token}"}
    for client in (stack.client(), first, second):
        me = client.get("/api/v1/me", headers=bearer)
        assert me.status == 200 and json.loads(me.text)["username"] == "tooler"
        assert me.headers.get_all("Set-Cookie") is None
    assert second.request("DELETE", "/api/v1/session", headers=bearer).status == 204
    for client in (stack.client(), first, second):
        refused = client.get("/api/v1/me", headers=bearer)
        assert refused.status == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
