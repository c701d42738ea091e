"""Regression tests for the review fixes that live below the web layer: the lock
re-checked after argon2, bounded integer settings, audit look-up by account, and
the command line's reading of standard input.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from camauth import main
from camauth.models import UNTRUSTED_SCOPE
from camauth.services import accounts, audit, lockout
from camauth.services.audit import Event
from camauth.services.authentication import Outcome, authenticate
from camauth.settings import SettingsError, parse_settings

from ..conftest import GOOD_PASSWORD, TEST_SECRET
from .conftest import add_user, one_line

# --- a lock set while argon2 runs (services/authentication.py) ------------------------


def test_lock_set_during_argon2_refuses_the_right_password_and_stays(ctx, monkeypatch):
    """Parallel failures lock the scope while the right password is being verified:
    the login is refused and the lock they set is not cleared."""
    user = add_user(ctx, "alice")
    threshold = ctx.settings.lockout_threshold
    real_verify = ctx.passwords.verify
    verified: list[bool] = []

    def verify_while_attacked(stored_hash, password):
        result = real_verify(stored_hash, password)
        verified.append(result.ok)
        if result.ok:
            # what parallel requests with wrong passwords do meanwhile
            for _ in range(threshold):
                lockout.record_failure(ctx, "alice", user=user)
        return result

    monkeypatch.setattr(ctx.passwords, "verify", verify_while_attacked)
    # the check before argon2 sees no lock yet
    assert lockout.locked_until(ctx, "alice", UNTRUSTED_SCOPE) is None

    result = authenticate(ctx, "alice", GOOD_PASSWORD)

    assert verified == [True]
    assert result.outcome is Outcome.LOCKED
    assert result.user is None
    assert result.until is not None
    ctx.db.commit()
    assert lockout.locked_until(ctx, "alice", UNTRUSTED_SCOPE) == result.until
    assert user.last_login_at is None
    assert audit.events(ctx, event=Event.LOGIN_SUCCESS) == []
    # and the next attempt with the right password is refused by the lock
    monkeypatch.undo()
    assert authenticate(ctx, "alice", GOOD_PASSWORD).outcome is Outcome.LOCKED


# --- bounded integer settings (settings.py) -------------------------------------------


def test_start_up_with_an_overflowing_increment_is_one_line(tmp_path):
    settings = {
        "sqlalchemy.url": f"sqlite:///{tmp_path / 'unused.sqlite'}",
        "camauth.secret": TEST_SECRET,
        "camauth.lockout.increment_minutes": "9999999999",
    }
    with pytest.raises(SystemExit) as stopped:
        main({}, **settings)
    message = str(stopped.value.code)
    assert message.startswith("camauth: camauth.lockout.increment_minutes")
    assert "\n" not in message


# --- audit --user by account (services/audit.py) --------------------------------------


def _failures_for(ctx, username: str) -> None:
    assert authenticate(ctx, username, "not the right password").outcome is Outcome.INVALID


@pytest.mark.parametrize(
    "asked",
    [
        "Élodie",
        "ÉLODIE",
        "élodie",
        " élodie ",
        "E\u0301LODIE",  # decomposed accent: the same name after NFKC
        "ÉＬＯＤＩＥ",  # fullwidth letters: the same name after NFKC
    ],
)
def test_audit_finds_a_users_events_however_the_name_is_written(ctx, asked):
    elodie = add_user(ctx, "Élodie")
    add_user(ctx, "Elodie")  # no accent: a different account
    _failures_for(ctx, "Élodie")
    _failures_for(ctx, "Elodie")
    ctx.db.flush()

    found = audit.events(ctx, username=asked)

    assert {event.target_id for event in found} == {elodie.id}
    assert {event.event for event in found} == {Event.USER_CREATED, Event.LOGIN_FAILURE}


def test_audit_finds_a_user_whose_name_casefolds_to_more_letters(ctx):
    """ "ß" casefolds to "ss", which SQL's lower() does not do."""
    user = add_user(ctx, "Straße")
    _failures_for(ctx, "Straße")
    ctx.db.flush()
    found = audit.events(ctx, username="STRASSE")
    assert {event.target_id for event in found} == {user.id}
    assert Event.LOGIN_FAILURE in {event.event for event in found}


FULLWIDTH_NOBODY = "\uff4e\uff4f\uff42\uff4f\uff44\uff59"  # "nobody" after NFKC


@pytest.mark.parametrize("asked", ["nobody", "Nobody", "NOBODY", FULLWIDTH_NOBODY])
def test_audit_finds_failures_of_an_unknown_username(ctx, asked):
    add_user(ctx, "alice")
    _failures_for(ctx, "Nobody")
    _failures_for(ctx, "alice")
    ctx.db.flush()

    found = audit.events(ctx, username=asked)

    assert [event.event for event in found] == [Event.LOGIN_FAILURE]
    assert found[0].target_id is None
    assert found[0].target_name == accounts.username_key("Nobody")


# --- standard input that is not UTF-8 (cli.py) ----------------------------------------


def test_create_user_with_non_utf8_stdin_is_one_line(ini, service):
    script = Path(sys.executable).with_name("camauth")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMAUTH_")}
    env.pop("PYTHONIOENCODING", None)
    done = subprocess.run(
        [str(script), ini, "create-user", "bob"],
        input=b"abc\xff\xfe long password\n",
        capture_output=True,
        env=env,
        timeout=60,
    )
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 1, err
    assert "Traceback" not in err
    assert one_line(err).startswith("camauth: ")
    assert done.stdout == b""
    with service() as ctx:
        assert accounts.find_user(ctx, "bob") is None


@pytest.mark.parametrize(
    "key",
    ["password.max_age_days", "lockout.unknown_user_retention_days", "device.cookie_days"],
)
def test_day_counts_that_would_overflow_dates_stop_start_up(key):
    # 10,000,000 days from now is past year 9999: a 500 on every page, found too late
    with pytest.raises(SettingsError, match=f"camauth.{key}: expected a whole number"):
        parse_settings({f"camauth.{key}": "10000000", "camauth.secret": "s" * 40}, environ={})
