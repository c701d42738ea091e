"""The command line's failures: non-zero exit and one line on stderr (PRODUCT §13)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from camauth.services import accounts

from ..conftest import GOOD_PASSWORD
from .conftest import one_line, write_ini

NEW_PASSWORD = "purple elephants dance quietly"


@pytest.mark.parametrize(
    "command",
    [
        ["set-password", "nobody"],
        ["disable", "nobody"],
        ["enable", "nobody"],
        ["approve", "nobody"],
        ["sessions", "nobody"],
        ["end-sessions", "nobody"],
    ],
)
def test_unknown_user_is_one_line_and_exit_1(ini, camauth, command):
    code, out, err = camauth(ini, *command, stdin=NEW_PASSWORD)
    assert code == 1
    assert out == ""
    assert "nobody" in one_line(err)


def test_missing_config_file_is_exit_2(tmp_path, camauth):
    code, _out, err = camauth(str(tmp_path / "missing.ini"), "list-users")
    assert code == 2
    assert "configuration" in one_line(err)


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("camauth.lockout.threshold", "ten", "camauth.lockout.threshold"),
        ("camauth.session.bind_ip", "maybe", "camauth.session.bind_ip"),
        ("camauth.secret", "short", "camauth.secret"),
    ],
)
def test_bad_setting_is_exit_2(tmp_path, camauth, setting, value, named):
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    ini = write_ini(tmp_path / "bad.ini", url, **{setting: value})
    code, _out, err = camauth(ini, "list-users")
    assert code == 2
    assert named in one_line(err)


@pytest.mark.parametrize(
    "text",
    [
        "no section header\n",  # configparser's message spans several lines
        "[app:main]\nsqlalchemy.url = sqlite://\n",  # no "use = egg:camauth"
        "[app:main]\nuse = egg:camauth\ncamauth.secret = %(undefined)s\n",
    ],
)
def test_malformed_ini_is_exit_2(tmp_path, camauth, text):
    path = tmp_path / "broken.ini"
    path.write_text(text)
    code, _out, err = camauth(str(path), "list-users")
    assert code == 2
    assert one_line(err).startswith("camauth: bad configuration: ")


@pytest.mark.parametrize("url", ["not a url", "nosuchdriver://host/db"])
def test_bad_database_url_is_exit_2(tmp_path, camauth, url):
    code, _out, err = camauth(write_ini(tmp_path / "url.ini", url), "list-users")
    assert code == 2
    assert "bad configuration" in one_line(err)


def test_config_path_that_is_not_an_ini_is_exit_2(tmp_path, camauth):
    code, _out, err = camauth(str(tmp_path), "list-users")
    assert code == 2
    assert "bad configuration" in one_line(err)


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent-camauth-dir/sub/camauth.sqlite",
        "postgresql+psycopg://postgres@127.0.0.1:1/camauth",
    ],
)
def test_unreachable_database_is_one_line(tmp_path, camauth, url):
    ini = write_ini(tmp_path / "down.ini", url)
    code, _out, err = camauth(ini, "list-users")
    assert code != 0
    assert "database" in one_line(err)


# --- the installed console script ------------------------------------------------------


def test_console_script_runs(ini, service):
    with service() as ctx:
        accounts.create_user(ctx, "scripted", password=GOOD_PASSWORD)
    script = Path(sys.executable).with_name("camauth")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMAUTH_")}
    done = subprocess.run(
        [str(script), ini, "list-users"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"^scripted\s+active\s+no\s+no\s+never$", done.stdout, re.MULTILINE)

    done = subprocess.run(
        [str(script), ini, "disable", "nobody"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr == "camauth: no user named 'nobody'\n"
