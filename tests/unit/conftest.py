"""Helpers for the service-level tests: users, contexts with other settings, table probes.

Everything runs against the real databases of ``tests/conftest.py`` (SQLite, and
PostgreSQL when configured) with real argon2id and the fake clock.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from camauth import cli
from camauth.clock import utcnow
from camauth.db import make_session_factory
from camauth.models import LoginFailure, User, UserStatus
from camauth.services import accounts, audit
from camauth.services.context import Context, Origin
from camauth.services.passwords import Passwords
from camauth.settings import parse_settings

from ..conftest import FAST_ARGON2, GOOD_PASSWORD, TEST_SECRET

ATTACKER_IP = "203.0.113.66"
USER_IP = "198.51.100.7"


def with_settings(ctx: Context, **changes: Any) -> Context:
    """The same context with some settings changed (Settings is a frozen dataclass)."""
    return replace(ctx, settings=replace(ctx.settings, **changes))


def from_ip(ctx: Context, ip: str, user_agent: str = "pytest") -> Context:
    return replace(ctx, origin=Origin(ip=ip, user_agent=user_agent))


def add_user(
    ctx: Context,
    username: str = "alice",
    *,
    status: UserStatus = UserStatus.ACTIVE,
    **kw: Any,
) -> User:
    """Create a user with GOOD_PASSWORD and commit, as another request would have."""
    user = accounts.create_user(ctx, username, password=GOOD_PASSWORD, status=status, **kw)
    ctx.db.commit()
    return user


def failure_rows(ctx: Context, username_key: str | None = None) -> int:
    query = select(func.count()).select_from(LoginFailure)
    if username_key is not None:
        query = query.where(LoginFailure.username_key == username_key)
    return ctx.db.scalar(query) or 0


def event_names(ctx: Context) -> list[str]:
    """Audit events so far, oldest first."""
    ctx.db.flush()
    return [row.event for row in reversed(audit.events(ctx))]


# --- command line --------------------------------------------------------------------


def write_ini(path: Path, url: str, **extra: str) -> str:
    """An ini like development.ini, for ``url``, with fast argon2."""
    lines = ["[app:main]", "use = egg:camauth", f"sqlalchemy.url = {url}"]
    settings = {"camauth.secret": TEST_SECRET, **FAST_ARGON2, **extra}
    lines += [f"{key} = {value}" for key, value in settings.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def ini(db_url: str, tmp_path: Path) -> str:
    return write_ini(tmp_path / "test.ini", db_url)


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def camauth(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run the command line in-process: returns (exit code, stdout, stderr)."""
    monkeypatch.delenv("CAMAUTH_DATABASE_URL", raising=False)
    monkeypatch.delenv("CAMAUTH_SECRET", raising=False)

    def run(ini_path: str, *args: str, stdin: str = "") -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.run([ini_path, *args], io.StringIO(stdin))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def service(engine: Engine) -> Callable[..., AbstractContextManager[Context]]:
    """Set up or inspect the database as the services see it (committed on exit)."""
    settings = parse_settings({"camauth.secret": TEST_SECRET, **FAST_ARGON2}, environ={})
    passwords = Passwords(settings)

    @contextmanager
    def open_context(clock=utcnow) -> Iterator[Context]:
        with make_session_factory(engine).begin() as db:
            yield Context(db=db, settings=settings, clock=clock, passwords=passwords)

    return open_context


def one_line(err: str) -> str:
    """``err`` is exactly one line (what the command line promises for every failure)."""
    assert err.endswith("\n")
    assert len(err.splitlines()) == 1, err
    return err
