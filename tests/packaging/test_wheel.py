"""The wheel works on its own: built, installed into a fresh virtualenv, migrated with
``camauth INI initdb`` and served by ``pserve`` from a folder outside the checkout,
with its templates, static files and migrations coming from inside the package.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import subprocess
import sys
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ..conftest import FAST_ARGON2, TEST_SECRET
from .conftest import REPO, clean_env, fetch, free_port, stop, wait_until_serving

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir), str(REPO)],
        cwd=outdir,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    [path] = outdir.glob("camauth-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with only the wheel and its dependencies."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=300)
    installed = subprocess.run(
        [str(root / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        cwd=root,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return root


def test_wheel_carries_templates_static_and_migrations(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        entry_text = archive.read(entry_points).decode()
    for path in REPO.glob("templates/**/*"):
        if path.is_file():
            assert f"camauth/{path.relative_to(REPO)}" in names
    assert "camauth/static/camauth.css" in names
    assert "camauth/alembic/env.py" in names
    versions = [n for n in names if re.fullmatch(r"camauth/alembic/versions/\w+\.py", n)]
    assert len(versions) == len(list(REPO.glob("alembic/versions/*.py")))
    assert not any(n.startswith(("tests/", "camauth/tests/", "bench/")) for n in names)
    assert "camauth = camauth.cli:main" in entry_text
    assert "main = camauth:main" in entry_text


def test_installed_package_is_the_wheels(venv: Path, tmp_path: Path) -> None:
    code = (
        "import camauth, camauth.resources as r;"
        "print(camauth.__file__);"
        "print(*(r.resource_dir(n) for n in ('templates', 'static', 'alembic')), sep='\\n')"
    )
    shown = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    paths = [Path(line) for line in shown.stdout.splitlines()]
    assert len(paths) == 4
    for path in paths:
        assert path.is_relative_to(venv), path
        assert "site-packages" in path.parts


class FormInputs(HTMLParser):
    """The named inputs of one form, as a browser would submit them."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form":
            self.inside = attributes.get("id") == self.form_id
        elif tag == "input" and self.inside and attributes.get("name"):
            self.values[attributes["name"] or ""] = attributes.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


@pytest.fixture
def served(venv: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``camauth INI initdb`` then ``pserve INI``, both from the fresh virtualenv,
    in a folder outside the checkout. Yields the base URL and the admin's password."""
    port = free_port()
    ini = tmp_path / "app.ini"
    argon2 = "\n".join(f"{key} = {value}" for key, value in FAST_ARGON2.items())
    ini.write_text(
        "[app:main]\n"
        "use = egg:camauth\n"
        "sqlalchemy.url = sqlite:///%(here)s/camauth.sqlite\n"
        f"camauth.secret = {TEST_SECRET}\n"
        "camauth.session.cookie_secure = false\n"
        f"camauth.public_url = http://127.0.0.1:{port}\n"
        f"{argon2}\n"
        "\n[server:main]\n"
        "use = egg:waitress#main\n"
        f"listen = 127.0.0.1:{port}\n"
    )
    initdb = subprocess.run(
        [str(venv / "bin" / "camauth"), str(ini), "initdb"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert initdb.returncode == 0, initdb.stdout + initdb.stderr
    found = re.findall(r"One-time password \(.*\): (\S+)", initdb.stdout)
    assert len(found) == 1, initdb.stdout
    assert (tmp_path / "camauth.sqlite").is_file()

    log = tmp_path / "pserve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(venv / "bin" / "pserve"), str(ini)],
            cwd=tmp_path,
            env=clean_env(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(process, f"{url}/healthz", log)
        yield url, found[0]
    finally:
        stop(process)


def test_pserve_from_the_wheel_serves_pages_and_static_files(served: tuple[str, str]) -> None:
    url, _ = served
    with fetch(f"{url}/healthz", timeout=10) as response:
        assert json.load(response) == {"status": "ok", "database": "ok"}
    with fetch(f"{url}/login", timeout=10) as response:
        assert response.status == 200
        page = response.read().decode()
    assert "<h1" in page
    assert "Log in" in page
    stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert "/deform_static/css/bootstrap.min.css" in stylesheets
    assert "/camauth_static/camauth.css" in stylesheets
    for href in stylesheets:
        with fetch(url + href, timeout=10) as response:
            assert response.status == 200
            assert response.headers.get_content_type() == "text/css"
            body = response.read()
        if href == "/camauth_static/camauth.css":
            assert body == (REPO / "static" / "camauth.css").read_bytes()
        if href.endswith("bootstrap.min.css"):
            assert b"Bootstrap" in body[:500]


def test_first_admin_logs_in_on_the_served_wheel(served: tuple[str, str]) -> None:
    url, one_time_password = served
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with browser.open(f"{url}/login", timeout=10) as response:
        form = FormInputs("login")
        form.feed(response.read().decode())
    assert "csrf_token" in form.values
    fields = {**form.values, "username": "admin", "password": one_time_password, "submit": ""}
    body = urllib.parse.urlencode(fields).encode()
    # urllib follows the 303s as a browser would: the admin must change the password first
    with browser.open(f"{url}/login", data=body, timeout=30) as response:
        assert response.status == 200
        assert urllib.parse.urlsplit(response.url).path == "/account/password"
        page = response.read().decode()
    assert "You must choose a new password before you continue." in page
