"""``make run`` up to serving (PRODUCT §1): ``camauth development.ini initdb`` puts the
SQLite file next to the ini, prints the first administrator's one-time password
once and only once, and the ini's app then serves the login page.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import webtest
from pyramid.paster import get_app

from .conftest import REPO, clean_env

pytestmark = pytest.mark.slow

CAMAUTH = Path(sys.executable).parent / "camauth"  # .venv/bin/camauth under `make test`
ONE_TIME = re.compile(r"One-time password \(.*\): (\S+)")


def initdb(ini: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CAMAUTH), str(ini), "initdb"],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_initdb_then_serve_a_copy_of_development_ini(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ini = tmp_path / "development.ini"
    shutil.copy(REPO / "development.ini", ini)
    elsewhere = tmp_path / "elsewhere"  # the working directory must not matter
    elsewhere.mkdir()

    first = initdb(ini, elsewhere)
    assert first.returncode == 0, first.stdout + first.stderr
    [password] = ONE_TIME.findall(first.stdout)
    assert "Created administrator 'admin'." in first.stdout
    # shown once: not repeated, and not in the log output either
    assert (first.stdout + first.stderr).count(password) == 1
    assert (tmp_path / "camauth.sqlite").is_file()  # %(here)s: next to the ini
    assert list(elsewhere.iterdir()) == []

    second = initdb(ini, elsewhere)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Database is up to date; users already exist." in second.stdout
    assert "One-time password" not in second.stdout + second.stderr
    assert password not in second.stdout + second.stderr

    # what pserve would serve: the ini's app, loaded through its entry point
    for name in ("CAMAUTH_DATABASE_URL", "CAMAUTH_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(elsewhere)
    app = get_app(str(ini))
    try:
        browser = webtest.TestApp(app, extra_environ={"REMOTE_ADDR": "192.0.2.30"})
        form = browser.get("/login", status=200).forms["login"]
        form["username"] = "admin"
        form["password"] = password
        response = form.submit("submit", status=303).maybe_follow()
        assert response.request.path == "/account/password"
        assert "You must choose a new password before you continue." in response.text
    finally:
        app.registry["camauth.engine"].dispose()
