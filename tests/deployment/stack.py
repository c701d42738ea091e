"""camauth as it is deployed, on loopback: waitress processes from production.ini
behind real nginx with TLS, configured from the project's own deploy/nginx.conf.

Used by the deployment tests and by the load benchmark (bench/load.py). Nothing
here talks to anything but 127.0.0.0/8 and the PostgreSQL database it is given.

    with running_stack(tmp_path, database_url) as stack:
        client = stack.client()               # a browser of its own, through nginx
        client.log_in("alice", password)
        stack.direct_client(0).get("/")       # straight to the first process
        stack.restart_apps()
"""

from __future__ import annotations

import configparser
import contextlib
import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import deform

from camauth.resources import resource_dir

REPO = Path(__file__).resolve().parents[2]
PSERVE = Path(sys.executable).parent / "pserve"
NGINX = Path("/usr/sbin/nginx")
SITE = "auth.example.org"
PUBLIC_URL = f"https://{SITE}"
SECRET = "deployment-secret-0123456789-0123456789-0123456789"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
# what the processes get beyond production.ini: mail to files, cheap argon2
APP_SETTINGS = {
    "camauth.mail.transport": "file",
    "camauth.password.argon2_memory_kib": "1024",
    "camauth.password.argon2_time_cost": "1",
    "camauth.mfa.required_for": "none",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until something accepts connections on ``port``, without sending a request
    (a fresh process's first request belongs to the test)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        try:
            process.wait(timeout=0.1)  # the pause between tries; notices an early exit
        except subprocess.TimeoutExpired:
            continue
        raise AssertionError(f"exited with {process.returncode}:\n{log.read_text()}")
    raise AssertionError(f"port {port} did not open within 60 s:\n{log.read_text()}")


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    text: str

    def csrf_token(self) -> str:
        found = CSRF_FIELD.search(self.text)
        assert found, f"no CSRF token on the page ({self.status}):\n{self.text[:500]}"
        return found.group(1)


class _TlsToLoopback(http.client.HTTPSConnection):
    """https to 127.0.0.1 that says (SNI) and expects the site's name."""

    def __init__(self, port: int, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__("127.0.0.1", port, context=context, timeout=timeout)
        self._context = context

    def connect(self) -> None:
        raw = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=SITE)


@dataclass
class Client:
    """A browser of its own: cookies, the site's Host and Origin, forms with CSRF.

    Through nginx (``tls_port``) it speaks https as the public site; straight to
    a process (``app_port``) it plays nginx itself, sending the forwarded headers
    nginx would (waitress trusts them from 127.0.0.1 only).
    """

    tls_port: int | None = None
    app_port: int | None = None
    context: ssl.SSLContext | None = None
    forwarded_for: str = "198.51.100.1"
    source_address: str | None = None  # e.g. 127.0.0.2: not the trusted proxy
    cookies: dict[str, str] = field(default_factory=dict)
    timeout: float = 30

    def _connection(self) -> http.client.HTTPConnection:
        if self.tls_port is not None:
            assert self.context is not None
            return _TlsToLoopback(self.tls_port, self.context, self.timeout)
        assert self.app_port is not None
        source = (self.source_address, 0) if self.source_address else None
        return http.client.HTTPConnection(
            "127.0.0.1", self.app_port, timeout=self.timeout, source_address=source
        )

    def request(
        self,
        method: str,
        path: str,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        sent = {"Host": SITE, "User-Agent": "camauth-deployment-test"}
        if self.tls_port is None:
            sent |= {
                "X-Forwarded-For": self.forwarded_for,
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": SITE,
            }
        body = None
        if form is not None:
            body = urlencode(form).encode()
            sent |= {"Content-Type": "application/x-www-form-urlencoded", "Origin": PUBLIC_URL}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        sent |= dict(headers or {})
        connection = self._connection()
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            connection.close()
        self._keep_cookies(response.headers)
        return Answer(response.status, response.headers, text)

    def _keep_cookies(self, headers: http.client.HTTPMessage) -> None:
        for header in headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def get(self, path: str, **kw: Any) -> Answer:
        return self.request("GET", path, **kw)

    def post(self, path: str, form: Mapping[str, str], **kw: Any) -> Answer:
        return self.request("POST", path, form=form, **kw)

    def submit(self, path: str, fields: Mapping[str, str], formid: str, **kw: Any) -> Answer:
        """GET the page at ``path`` and post its form with ``fields`` and its CSRF token."""
        token = self.get(path).csrf_token()
        form = {"csrf_token": token, "__formid__": formid, "submit": "submit", **fields}
        return self.post(path, form, **kw)

    def log_in(self, username: str, password: str) -> Answer:
        fields = {"username": username, "password": password, "next": ""}
        return self.submit("/login", fields, "login")

    def log_out(self) -> Answer:
        token = self.get("/").csrf_token()
        return self.post("/logout", {"csrf_token": token})


@dataclass
class Stack:
    root: Path
    database_url: str
    app_ports: list[int]
    tls_port: int
    mail_dir: Path
    context: ssl.SSLContext
    apps: list[subprocess.Popen[bytes]] = field(default_factory=list)
    nginx: subprocess.Popen[bytes] | None = None

    # -- clients ---------------------------------------------------------------------
    def client(self) -> Client:
        return Client(tls_port=self.tls_port, context=self.context)

    def direct_client(self, index: int, **kw: Any) -> Client:
        return Client(app_port=self.app_ports[index], **kw)

    # -- processes -------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAMAUTH_")}
        env |= {
            "CAMAUTH_DATABASE_URL": self.database_url,
            "CAMAUTH_SECRET": SECRET,
            "CAMAUTH_PUBLIC_URL": PUBLIC_URL,
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        return env

    def start_apps(self, *, wait: bool = True) -> None:
        assert not self.apps, "already running"
        for index in range(len(self.app_ports)):
            ini = self.root / f"app{index}.ini"
            log = self.root / f"app{index}.log"
            with log.open("ab") as out:
                self.apps.append(
                    subprocess.Popen(
                        [str(PSERVE), str(ini)],
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=self.environment(),
                    )
                )
        if wait:
            for index, port in enumerate(self.app_ports):
                wait_for_port(port, self.apps[index], self.root / f"app{index}.log")

    def stop_apps(self) -> None:
        for process in self.apps:
            process.terminate()
        for process in self.apps:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        self.apps = []

    def restart_apps(self) -> None:
        self.stop_apps()
        self.start_apps()

    def app_log(self, index: int) -> str:
        return (self.root / f"app{index}.log").read_text(errors="replace")

    def close(self) -> None:
        self.stop_apps()
        if self.nginx is not None:
            self.nginx.terminate()
            self.nginx.wait(timeout=30)
            self.nginx = None


# -- configuration ------------------------------------------------------------------


def write_app_ini(path: Path, port: int, mail_dir: Path, settings: Mapping[str, str]) -> None:
    """production.ini as shipped, with the listen port, mail to files and test costs."""
    ini = configparser.RawConfigParser()
    ini.optionxform = str  # type: ignore[assignment,method-assign]  # keep key case
    ini.read(REPO / "production.ini")
    app = ini["app:main"]
    for key, value in {**APP_SETTINGS, "camauth.mail.directory": str(mail_dir)}.items():
        app[key] = value
    for key, value in settings.items():
        app[key] = value
    ini["server:main"]["listen"] = f"127.0.0.1:{port}"
    with path.open("w") as out:
        ini.write(out)


def make_certificate(root: Path) -> tuple[Path, Path]:
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={SITE}", "-addext", f"subjectAltName=DNS:{SITE}",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def nginx_site(app_ports: list[int], tls_port: int, http_port: int, cert: Path, key: Path) -> str:
    """deploy/nginx.conf with this stack's ports, certificate, processes and folders."""
    site = (REPO / "deploy" / "nginx.conf").read_text()
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{tls_port} ssl http2;",
        "listen 443 ssl default_server;": f"listen 127.0.0.1:{tls_port} ssl default_server;",
        "/etc/letsencrypt/live/auth.example.org/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/auth.example.org/privkey.pem": str(key),
        "/srv/camauth/venv/lib/python3.11/site-packages/camauth/static/": (
            f"{resource_dir('static')}/"
        ),
        "/srv/camauth/venv/lib/python3.11/site-packages/deform/static/": (
            f"{Path(deform.__file__).parent / 'static'}/"
        ),
        "    server 127.0.0.1:6543;\n": "".join(f"    server 127.0.0.1:{p};\n" for p in app_ports),
    }
    for old, new in replacements.items():
        assert old in site, f"deploy/nginx.conf no longer has {old!r}: update the stack"
        site = site.replace(old, new)
    # loopback IPv4 only: the machine may have no IPv6
    return "\n".join(line for line in site.splitlines() if "listen [::]" not in line)


def nginx_conf(root: Path, site: str) -> str:
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the temp dirs
    temp = "\n".join(
        f"    {name}_temp_path {root / ('tmp-' + name)};"
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    log_format = "'$remote_addr \"$request\" $status upstream=$upstream_addr'"
    return (
        f"{user}worker_processes 1;\npid {root / 'nginx.pid'};\n"
        f"error_log {root / 'nginx-error.log'} warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        "    include /etc/nginx/mime.types;\n"
        f"    log_format upstreams {log_format};\n"
        f"    access_log {root / 'nginx-access.log'} upstreams;\n"
        f"{temp}\n{site}\n}}\n"
    )


@contextlib.contextmanager
def running_stack(
    root: Path,
    database_url: str,
    *,
    processes: int = 2,
    settings: Mapping[str, str] | None = None,
) -> Iterator[Stack]:
    """Start ``processes`` camauth processes and nginx in front of them; stop all after.

    The database must be migrated already (``camauth.migrate.upgrade``).
    """
    if not NGINX.exists():
        raise FileNotFoundError(f"{NGINX}: install Debian's nginx (.ci/run does)")
    root.mkdir(parents=True, exist_ok=True)
    mail_dir = root / "mail"
    app_ports = [free_port() for _ in range(processes)]
    for index, port in enumerate(app_ports):
        write_app_ini(root / f"app{index}.ini", port, mail_dir, settings or {})
    cert, key = make_certificate(root)
    tls_port, http_port = free_port(), free_port()
    conf = root / "nginx.conf"
    conf.write_text(nginx_conf(root, nginx_site(app_ports, tls_port, http_port, cert, key)))
    context = ssl.create_default_context(cafile=str(cert))  # trust exactly this certificate
    stack = Stack(root, database_url, app_ports, tls_port, mail_dir, context)
    try:
        stack.start_apps()
        log = root / "nginx.log"
        with log.open("ab") as out:
            stack.nginx = subprocess.Popen(
                [str(NGINX), "-p", str(root), "-c", str(conf), "-e", str(root / "nginx-error.log"),
                 "-g", "daemon off;"],
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_for_port(tls_port, stack.nginx, root / "nginx-error.log")
        yield stack
    finally:
        stack.close()
        if os.environ.get("CAMAUTH_KEEP_STACK") != "1":
            shutil.rmtree(root / "mail", ignore_errors=True)
