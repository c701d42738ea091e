"""The command line never prints raw control characters from recorded text, and
its usage errors exit 2."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from camauth.models import User
from camauth.services import accounts, lockout
from camauth.terminal import printable

from ..conftest import GOOD_PASSWORD
from .conftest import one_line

HOSTILE = "evil\x1b[2J\x1b]0;owned\x07\u202egnp.exe\r\n"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("alice", "alice"),
        ("Zoë Åström 李", "Zoë Åström 李"),
        ("a b", "a b"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("bell\x07", "bell\\x07"),
        ("cr\rlf\n", "cr\\x0dlf\\x0a"),
        ("\u202eevil", "\\u202eevil"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("c1\x9bcsi", "c1\\x9bcsi"),
    ],
)
def test_printable(text, shown):
    assert printable(text) == shown


def test_audit_prints_a_name_typed_at_the_login_form_escaped(ini, camauth, service):
    with service() as ctx:
        lockout.record_failure(ctx, HOSTILE)
    code, out, err = camauth(ini, "audit")
    assert (code, err) == (0, "")
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out and "\r" not in out
    assert "target=evil\\x1b[2J\\x1b]0;owned\\x07\\u202egnp.exe\\x0d\\x0a" in out
    assert len(out.splitlines()) == 1  # one event, one line


def test_list_users_escapes_whatever_a_name_holds(ini, camauth, service):
    with service() as ctx:
        user = accounts.create_user(ctx, "alice", password=GOOD_PASSWORD)
        # the form never lets such a name in; the printer does not rely on that
        ctx.db.execute(update(User).where(User.id == user.id).values(username="al\x1b[2Jice"))
    code, out, err = camauth(ini, "list-users")
    assert (code, err) == (0, "")
    assert "\x1b" not in out and "al\\x1b[2Jice" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("end-sessions",), "camauth: name a user or give --all\n"),
        (("end-sessions", "alice", "--all"), "camauth: name a user or give --all, not both\n"),
        (
            ("audit", "--since", "yesterday"),
            "camauth: --since: not an ISO date or time: 'yesterday'\n",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(ini, camauth, service, args, message):
    with service() as ctx:
        accounts.create_user(ctx, "alice", password=GOOD_PASSWORD)
    code, out, err = camauth(ini, *args)
    assert (code, out) == (2, "")
    assert one_line(err) == message


def test_argparse_usage_errors_exit_2(ini, camauth):
    with pytest.raises(SystemExit) as exited:
        camauth(ini, "no-such-command")
    assert exited.value.code == 2
