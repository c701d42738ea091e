"""``camauth CONFIG_URI COMMAND`` (PRODUCT §13): the commands, in-process on both databases."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from camauth.clock import FakeClock, utcnow
from camauth.models import SessionKind, UserStatus, WebSession
from camauth.services import accounts, audit, lockout, sessions

from ..conftest import GOOD_PASSWORD
from .conftest import one_line, write_ini

NEW_PASSWORD = "purple elephants dance quietly"


def make_user(service, name="alice", **kw):
    with service() as ctx:
        accounts.create_user(ctx, name, password=GOOD_PASSWORD, **kw)


def user_state(service, name="alice"):
    with service() as ctx:
        user = accounts.find_user(ctx, name)
        if user is None:
            return None
        ctx.db.expunge(user)
        return user


def live_count(service, name=None):
    with service() as ctx:
        user = accounts.find_user(ctx, name) if name else None
        return len(sessions.live_sessions(ctx, user))


def open_session(service, name, kind=SessionKind.BROWSER):
    with service() as ctx:
        sessions.create_session(ctx, user=accounts.find_user(ctx, name), kind=kind)


# --- initdb and users ------------------------------------------------------------------


def test_initdb_creates_the_admin_and_shows_its_password_once(ini, camauth, service):
    code, out, err = camauth(ini, "initdb")
    assert (code, err) == (0, "")
    match = re.search(r"One-time password \(shown only now.*\): (\S+)$", out, re.MULTILINE)
    assert match, out
    password = match.group(1)
    admin = user_state(service, "admin")
    assert admin.is_admin and admin.must_change_password
    assert (
        "At the first login you will be asked to: choose a new password; "
        "set up an authenticator app (two-factor is required for administrators)."
    ) in out
    with service() as ctx:
        assert ctx.passwords.verify(admin.password_hash, password).ok

    code, out, err = camauth(ini, "initdb")
    assert (code, err) == (0, "")
    assert password not in out
    assert "password" not in out.lower()
    with service() as ctx:
        assert accounts.count_users(ctx) == 1


def test_initdb_migrates_an_empty_database(tmp_path, camauth):
    ini = write_ini(tmp_path / "fresh.ini", f"sqlite:///{tmp_path / 'fresh.sqlite'}")
    code, out, err = camauth(ini, "list-users")
    assert code == 1
    assert "initdb" in one_line(err)
    code, out, err = camauth(ini, "initdb", "--admin-username", "chief")
    assert (code, err) == (0, "")
    code, out, err = camauth(ini, "list-users")
    assert code == 0
    assert re.search(r"^chief\s+active\s+yes\s+no\s+never$", out, re.MULTILINE)


def test_create_user_reads_the_password_from_stdin(ini, camauth, service):
    code, out, err = camauth(
        ini,
        "create-user",
        "Bob",
        "--email",
        "bob@example.org",
        "--full-name",
        "Bob Builder",
        "--admin",
        "--force-change",
        stdin=NEW_PASSWORD + "\n",
    )
    assert (code, err) == (0, "")
    assert NEW_PASSWORD not in out
    bob = user_state(service, "bob")
    assert (bob.username, bob.email, bob.full_name) == ("Bob", "bob@example.org", "Bob Builder")
    assert bob.is_admin and bob.must_change_password
    with service() as ctx:
        assert ctx.passwords.verify(bob.password_hash, NEW_PASSWORD).ok
        [created] = audit.events(ctx, event="user_created")
        assert (created.actor_name, created.actor_id) == ("system", None)


@pytest.mark.parametrize(
    ("stdin", "message"),
    [("", "no password"), ("\n", "no password"), ("short\n", "at least 12")],
)
def test_create_user_refuses_missing_or_weak_passwords(ini, camauth, service, stdin, message):
    code, _out, err = camauth(ini, "create-user", "bob", stdin=stdin)
    assert code == 1
    assert message in one_line(err)
    assert user_state(service, "bob") is None


def test_create_user_refuses_a_taken_username(ini, camauth, service):
    make_user(service)
    code, _out, err = camauth(ini, "create-user", "ALICE", stdin=NEW_PASSWORD + "\n")
    assert code == 1
    assert "already taken" in one_line(err)


def test_set_password_forcing_a_change_ends_sessions(ini, camauth, service):
    make_user(service)
    open_session(service, "alice")
    code, _out, err = camauth(ini, "set-password", "alice", "--force-change", stdin=NEW_PASSWORD)
    assert (code, err) == (0, "")
    alice = user_state(service)
    assert alice.must_change_password
    with service() as ctx:
        assert ctx.passwords.verify(alice.password_hash, NEW_PASSWORD).ok
    assert live_count(service, "alice") == 0


@pytest.mark.parametrize("name", ["alice", "ghost"])
def test_unlock_clears_locks_of_existing_and_unknown_names(ini, camauth, service, name):
    make_user(service)
    with service() as ctx:
        for _ in range(10):
            lockout.record_failure(ctx, name)
        lockout.record_failure(ctx, name, scope="device-1")
        assert lockout.locked_until(ctx, name, "") is not None
    code, _out, err = camauth(ini, "unlock", name.upper())
    assert (code, err) == (0, "")
    with service() as ctx:
        assert lockout.locked_until(ctx, name, "") is None
        assert lockout.current_failures(ctx, name) == 0
        assert lockout.current_failures(ctx, name, "device-1") == 0
        assert len(audit.events(ctx, event="unlock")) == 1


def test_disable_enable_and_approve(ini, camauth, service):
    make_user(service)
    make_user(service, "newbie", status=UserStatus.PENDING_APPROVAL)
    open_session(service, "alice")
    open_session(service, "alice", SessionKind.API)

    assert camauth(ini, "disable", "alice")[0] == 0
    assert user_state(service).status == "disabled"
    assert live_count(service, "alice") == 0
    assert camauth(ini, "enable", "alice")[0] == 0
    assert user_state(service).status == "active"

    code, _out, err = camauth(ini, "approve", "alice")
    assert code == 1
    assert "not waiting" in one_line(err)
    code, _out, err = camauth(ini, "approve", "newbie")
    assert (code, err) == (0, "")
    assert user_state(service, "newbie").status == "active"


def test_list_users(ini, camauth, service):
    make_user(service, "zed", is_admin=True)
    make_user(service, "Anna", status=UserStatus.DISABLED)
    code, out, err = camauth(ini, "list-users")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["username", "status", "admin", "2fa", "last", "login"]
    assert [line.split() for line in lines[1:]] == [
        ["Anna", "disabled", "no", "no", "never"],
        ["zed", "active", "yes", "no", "never"],
    ]


# --- sessions, cleanup, audit ----------------------------------------------------------


def test_sessions_and_end_sessions(ini, camauth, service):
    make_user(service)
    make_user(service, "bob")
    open_session(service, "alice")
    open_session(service, "alice", SessionKind.API)
    open_session(service, "bob")

    code, out, err = camauth(ini, "sessions")
    assert (code, err) == (0, "")
    assert sorted(line.split()[1] for line in out.splitlines()[1:]) == ["alice", "alice", "bob"]
    code, out, err = camauth(ini, "sessions", "bob")
    assert [line.split()[1:3] for line in out.splitlines()[1:]] == [["bob", "browser"]]
    with service() as ctx:
        api = ctx.db.scalars(select(WebSession).where(WebSession.kind == "api")).one()
        api.client_id, api.hostname = "backup\x1b[2J", "nas"
    code, out, err = camauth(ini, "sessions", "alice")
    [api_line] = [line for line in out.splitlines() if " api " in line]
    assert api_line.endswith("backup\\x1b[2J on nas")  # escaped: it came from a tool

    code, out, err = camauth(ini, "end-sessions", "alice")
    assert (code, err) == (0, "")
    assert "Ended 2 sessions" in out
    assert (live_count(service, "alice"), live_count(service, "bob")) == (0, 1)

    code, out, err = camauth(ini, "end-sessions")
    assert code == 2  # a usage error, as the README says
    assert "--all" in one_line(err)

    code, out, err = camauth(ini, "end-sessions", "--all")
    assert (code, err) == (0, "")
    assert live_count(service) == 0


def test_cleanup_deletes_what_has_expired(ini, camauth, service):
    make_user(service)
    two_days_ago = FakeClock(utcnow() - timedelta(days=2))
    with service(two_days_ago) as ctx:
        user = accounts.find_user(ctx, "alice")
        sessions.create_session(ctx, user=user)
        for _ in range(10):
            lockout.record_failure(ctx, "alice", user=user)
    open_session(service, "alice")

    code, out, err = camauth(ini, "cleanup")
    assert (code, err) == (0, "")
    assert out.strip() == (
        "sessions: 1 deleted, failures: 10 deleted, lockouts: 1 deleted, "
        "unverified registrations: 0 deleted, mailed links: 0 deleted, mail requests: 0 deleted, "
        "device requests: 0 deleted, wrong user codes: 0 deleted"
    )
    assert live_count(service, "alice") == 1


def test_audit_filters_by_user_and_time(ini, camauth, service):
    last_week = FakeClock(utcnow() - timedelta(days=7))
    with service(last_week) as ctx:
        accounts.create_user(ctx, "old", password=GOOD_PASSWORD)
    make_user(service, "new")

    for spelling in ("old", "OLD"):  # usernames are case-insensitive here too
        code, out, err = camauth(ini, "audit", "--user", spelling)
        assert (code, err) == (0, "")
        assert [line.split()[1:4] for line in out.splitlines()] == [
            ["user_created", "actor=system", "target=old"]
        ]
    since = (utcnow() - timedelta(days=1)).date().isoformat()
    code, out, err = camauth(ini, "audit", "--since", since)
    assert (code, err) == (0, "")
    assert "target=new" in out
    assert "target=old" not in out

    code, out, err = camauth(ini, "audit", "--since", "last tuesday")
    assert code == 2  # a usage error
    assert "--since" in one_line(err)


def test_initdb_names_the_terms_and_where_mails_go(tmp_path, camauth):
    ini = write_ini(
        tmp_path / "dev.ini",
        f"sqlite:///{tmp_path / 'dev.sqlite'}",
        **{
            "camauth.terms.revision": "2026-01",
            "camauth.mfa.required_for": "none",
            "camauth.mail.transport": "file",
            "camauth.mail.directory": str(tmp_path / "mail"),
        },
    )
    code, out, err = camauth(ini, "initdb")
    assert (code, err) == (0, "")
    assert ("asked to: choose a new password; agree to the terms of use (revision 2026-01).") in out
    assert f"each is written to a file in {(tmp_path / 'mail').resolve()}" in out
