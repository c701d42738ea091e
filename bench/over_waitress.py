"""Benchmark: requests/s of an authenticated page over HTTP, camauth against Django 5.

Each contestant is its own process serving with waitress (4 threads, on
127.0.0.1, a free port); ``wrk -t2 -c16`` loads it with a logged-in browser's
cookies. For each database (a temporary SQLite file always; PostgreSQL when
``--database-url`` or ``CAMAUTH_BENCH_DATABASE_URL`` names a server):

a. a bare Pyramid "hello" app (the ceiling of waitress + Pyramid on this machine);
b. camauth's protected host view (``/protected``, "Signed in as <username>"),
   logged in through camauth's login form over HTTP;
c. Django 5 (bench/django_contestant/): database sessions, ``django.contrib.auth``,
   a ``login_required`` view answering "Signed in as <username>", logged in
   through Django's LoginView over HTTP, on its own database of the same kind.

Rounds are interleaved (a, b, c, a, b, c, ...) so that load from elsewhere hits
all alike; each contestant's median requests/s counts. Target: camauth >= 2x
Django's requests/s on each database.

PostgreSQL: the bench never touches the database in the URL; it creates the
databases ``camauth_bench_http`` (migrated by camauth) and ``django_bench_http``
(migrated by Django) on that server, dropping stale ones, and drops both at
the end.

Needs ``wrk`` (``apt-get install wrk``) and, for the Django contestant, the
``bench`` extra (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import os
import platform
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy
from sqlalchemy import make_url

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import authenticated_view as harness  # noqa: E402

CAMAUTH_DATABASE = "camauth_bench_http"
DJANGO_DATABASE = "django_bench_http"
USERNAME = "bench-user"
SIGNED_IN = f"Signed in as {USERNAME}"
CONTESTANTS = ("bare", "camauth", "django")
LABELS = {
    "bare": "bare Pyramid 'hello'",
    "camauth": f"camauth GET {harness.HOME}",
    "django": "Django GET /protected",
}


# --- the server (the child process) -----------------------------------------------------


def django_app(username: str, password: str) -> Any:
    """Django's WSGI application, its database migrated and the user created."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_contestant.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0, interactive=False)
    get_user_model().objects.create_user(username, password=password)
    connections.close_all()  # the serving threads open their own
    from django_contestant.wsgi import application

    return application


def serve(contestant: str, port: int, threads: int) -> None:
    """Serve one contestant with waitress until terminated (runs in its own process)."""
    import waitress

    username, password = os.environ["BENCH_HTTP_USERNAME"], os.environ["BENCH_HTTP_PASSWORD"]
    app: Any
    if contestant == "bare":
        app = harness.bare_app()
    elif contestant == "camauth":
        app = harness.camauth_app(os.environ["BENCH_HTTP_CAMAUTH_URL"])
        harness.add_user(app, username, password)
    else:
        app = django_app(username, password)
    waitress.serve(app, host="127.0.0.1", port=port, threads=threads)


# --- the servers, seen from the bench ---------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    contestant: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    path: str = "/"
    expected: str = "hello"
    cookies: dict[str, str] = field(default_factory=dict)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())


def start_server(
    contestant: str, env: dict[str, str], logs: Path, threads: int, timeout: float = 120
) -> Server:
    port = free_port()
    log = logs / f"{contestant}.log"
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve",
        contestant,
        "--port",
        str(port),
        "--server-threads",
        str(threads),
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    server = Server(contestant, port, process, log)
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise SystemExit(
                f"bench: the {contestant} server exited ({process.returncode}):\n"
                + server.log_tail()
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            if time.monotonic() > deadline:
                stop_server(server)
                raise SystemExit(
                    f"bench: the {contestant} server did not listen in {timeout} s"
                ) from None
            time.sleep(0.1)


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


# --- a browser over HTTP ----------------------------------------------------------------


def http_request(
    server: Server,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> harness.Reply:
    """One request to ``server`` with its cookie jar; Set-Cookie answers update the jar."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    sent = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) camauth-bench", "Accept": "text/html"}
    if server.cookies:
        sent["Cookie"] = server.cookie_header()
    sent.update(headers or {})
    try:
        connection.request(method, path, body=body or None, headers=sent)
        response = connection.getresponse()
        reply = harness.Reply(
            f"{response.status} {response.reason}",
            response.getheaders(),
            response.read().decode("utf-8", "replace"),
        )
    finally:
        connection.close()
    for name, value in reply.headers:
        if name.lower() != "set-cookie":
            continue
        pair, _, attributes = value.partition(";")
        key, _, cookie = pair.strip().partition("=")
        if "max-age=0" in attributes.lower() or not cookie or cookie == '""':
            server.cookies.pop(key, None)
        else:
            server.cookies[key] = cookie
    return reply


def log_in_camauth(server: Server, password: str) -> None:
    """camauth's login form, as a browser posts it (CSRF cookie and token, URL-encoded, Origin)."""
    page = http_request(server, "GET", "/login")
    harness.expect(page, 200, "camauth GET /login")
    form = harness.login_form(harness.csrf_token_in(page.body), USERNAME, password)
    body, content_type = harness.form_body(form)
    # the app takes every request to come to camauth.public_url (https://bench.example)
    headers = {"Content-Type": content_type, "Origin": f"https://{harness.HOST}"}
    reply = http_request(server, "POST", "/login", body, headers)
    harness.expect(reply, 303, "camauth login POST with the right password")


_DJANGO_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def log_in_django(server: Server, password: str) -> None:
    """Django's LoginView, as a browser posts it (csrftoken cookie and form token, Origin)."""
    page = http_request(server, "GET", "/accounts/login/")
    harness.expect(page, 200, "Django GET /accounts/login/")
    found = _DJANGO_CSRF.search(page.body)
    if found is None:
        raise SystemExit("bench: no csrfmiddlewaretoken in Django's login page")
    form = {
        "csrfmiddlewaretoken": found.group(1),
        "username": USERNAME,
        "password": password,
        "next": "",
    }
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Origin": f"http://127.0.0.1:{server.port}",
    }
    reply = http_request(server, "POST", "/accounts/login/", urlencode(form).encode(), headers)
    harness.expect(reply, 302, "Django login POST with the right password")
    if "sessionid" not in server.cookies:
        raise SystemExit("bench: Django's login set no sessionid cookie")


def check_page(server: Server, when: str) -> None:
    """The page answers 200 with its text, not a redirect to a login page."""
    reply = http_request(server, "GET", server.path)
    if not reply.status.startswith("200") or server.expected not in reply.body:
        location = dict((k.lower(), v) for k, v in reply.headers).get("location", "")
        raise SystemExit(
            f"bench: {when}, {server.contestant} GET {server.path} answered {reply.status}"
            f"{' to ' + location if location else ''}, not 200 {server.expected!r}"
        )


# --- wrk --------------------------------------------------------------------------------


@dataclass
class WrkRun:
    requests_per_second: float
    requests: int
    not_2xx_3xx: int
    socket_errors: str


_NUMBER = r"([0-9][0-9.]*)"


def run_wrk(wrk: str, server: Server, args: argparse.Namespace, seconds: float) -> WrkRun:
    command = [
        wrk,
        f"-t{args.wrk_threads}",
        f"-c{args.connections}",
        f"-d{seconds:g}s",
        "-H",
        f"Cookie: {server.cookie_header()}",
        f"http://127.0.0.1:{server.port}{server.path}",
    ]
    if not server.cookies:
        del command[4:6]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    output = done.stdout
    rate = re.search(rf"Requests/sec:\s*{_NUMBER}", output)
    total = re.search(rf"{_NUMBER} requests in", output)
    if done.returncode != 0 or rate is None or total is None:
        raise SystemExit(f"bench: wrk failed ({done.returncode}):\n{output}{done.stderr}")
    bad = re.search(rf"Non-2xx or 3xx responses:\s*{_NUMBER}", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return WrkRun(
        float(rate.group(1)),
        int(total.group(1)),
        int(bad.group(1)) if bad else 0,
        errors.group(1).strip() if errors else "",
    )


# --- databases --------------------------------------------------------------------------


def django_environment(database: sqlalchemy.URL | Path) -> dict[str, str]:
    """What bench/django_contestant/settings.py reads to find its database."""
    if isinstance(database, Path):
        return {"DJANGO_BENCH_ENGINE": "sqlite", "DJANGO_BENCH_NAME": str(database)}
    return {
        "DJANGO_BENCH_ENGINE": "postgresql",
        "DJANGO_BENCH_NAME": database.database or "",
        "DJANGO_BENCH_USER": database.username or "",
        "DJANGO_BENCH_PASSWORD": database.password or "",
        "DJANGO_BENCH_HOST": database.host or "",
        "DJANGO_BENCH_PORT": str(database.port or ""),
    }


# --- the measurements -------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def bench_database(
    label: str,
    camauth_url: str,
    django_database: sqlalchemy.URL | Path | None,
    wrk: str,
    args: argparse.Namespace,
) -> None:
    print(f"\n== {label} ==")
    password = "bench " + secrets.token_urlsafe(18)
    env = dict(os.environ)
    env.pop("CAMAUTH_DATABASE_URL", None)
    env.update(
        {
            "BENCH_HTTP_USERNAME": USERNAME,
            "BENCH_HTTP_PASSWORD": password,
            "BENCH_HTTP_CAMAUTH_URL": camauth_url,
            "DJANGO_BENCH_SECRET_KEY": secrets.token_urlsafe(50),
            "PYTHONUNBUFFERED": "1",
        }
    )
    contestants = [c for c in CONTESTANTS if c != "django" or django_database is not None]
    if django_database is not None:
        env.update(django_environment(django_database))
    servers: dict[str, Server] = {}
    with tempfile.TemporaryDirectory(prefix="camauth-bench-http-logs-") as logs:
        try:
            for contestant in contestants:
                servers[contestant] = start_server(contestant, env, Path(logs), args.server_threads)
            if "camauth" in servers:
                server = servers["camauth"]
                log_in_camauth(server, password)
                server.path, server.expected = harness.HOME, SIGNED_IN
            if "django" in servers:
                server = servers["django"]
                log_in_django(server, password)
                server.path, server.expected = "/protected", SIGNED_IN
            # the bare app gets camauth's cookies too (it ignores them), as in-process
            servers["bare"].cookies = dict(servers["camauth"].cookies)
            for server in servers.values():
                check_page(server, "before timing")
            print(
                f"  waitress threads={args.server_threads}, one process each; "
                f"wrk -t{args.wrk_threads} -c{args.connections} -d{args.seconds:g}s; "
                f"{args.rounds} rounds interleaved, after {args.warmup:g} s of warm-up each"
            )
            print(
                f"  checked: {', '.join(servers)} answer 200 with their text "
                f"({SIGNED_IN!r}; bare 'hello') to the logged-in cookies"
            )
            for server in servers.values():
                if args.warmup > 0:
                    run_wrk(wrk, server, args, args.warmup)
            runs: dict[str, list[WrkRun]] = {name: [] for name in servers}
            for number in range(1, args.rounds + 1):
                for name, server in servers.items():
                    run = run_wrk(wrk, server, args, args.seconds)
                    if run.not_2xx_3xx:
                        raise SystemExit(
                            f"bench: {name}: {run.not_2xx_3xx} of {run.requests} responses "
                            f"were not 2xx/3xx:\n{server.log_tail()}"
                        )
                    if run.socket_errors:
                        print(f"  note: {name}, round {number}: socket errors {run.socket_errors}")
                    runs[name].append(run)
                figures = "  ".join(
                    f"{name} {runs[name][-1].requests_per_second:8,.0f}" for name in servers
                )
                print(f"  round {number}: {figures}  req/s")
            for server in servers.values():
                check_page(server, "after timing")  # still logged in: no redirect was timed
        finally:
            for server in servers.values():
                stop_server(server)
    report(runs, args)


def report(runs: dict[str, list[WrkRun]], args: argparse.Namespace) -> None:
    median = {
        name: statistics.median(run.requests_per_second for run in done)
        for name, done in runs.items()
    }
    bare = median["bare"]
    for name, value in median.items():
        spread = [run.requests_per_second for run in runs[name]]
        label = LABELS[name] + (f" ({version('django')})" if name == "django" else "")
        print(
            f"  {label:<34}{value:9,.0f} req/s  median of {len(spread)} "
            f"({min(spread):,.0f}-{max(spread):,.0f})  {value / bare:5.2f}x bare"
        )
    camauth = median["camauth"]
    print(f"  camauth / bare = {camauth / bare:.2f}")
    if "django" in median:
        ratio = camauth / median["django"]
        print(
            f"  camauth / Django = {ratio:.2f}x  "
            f"(target camauth >= 2x Django: {verdict(ratio >= 2)})"
        )
    else:
        print("  camauth / Django: not measured (no Django contestant)")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("CAMAUTH_BENCH_DATABASE_URL", ""),
        help=f"PostgreSQL server to bench on as well (databases {CAMAUTH_DATABASE} and "
        f"{DJANGO_DATABASE} are created and dropped there); default $CAMAUTH_BENCH_DATABASE_URL",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="only bench PostgreSQL")
    parser.add_argument("--seconds", type=float, default=10, help="wrk duration per run (10)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--warmup", type=float, default=2, help="wrk warm-up per server, s (2)")
    parser.add_argument("--server-threads", type=int, default=4, help="waitress threads (4)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk -t (2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (16)")
    parser.add_argument("--no-django", action="store_true", help="skip the Django contestant")
    parser.add_argument("--serve", choices=CONTESTANTS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.serve:
        serve(args.serve, args.port, args.server_threads)
        return
    wrk = shutil.which("wrk")
    if wrk is None:
        print(
            "bench: wrk is not installed; install it with `apt-get install wrk` "
            "(Debian/Ubuntu) or `brew install wrk` (macOS)",
            file=sys.stderr,
        )
        sys.exit(2)
    django = not args.no_django
    if django and importlib.util.find_spec("django") is None:
        print(
            "note: Django is not installed, so its contestant is skipped "
            "(.venv/bin/pip install -e '.[bench]')"
        )
        django = False
    if os.environ.get("CAMAUTH_DATABASE_URL"):
        print("note: ignoring CAMAUTH_DATABASE_URL; the bench uses its own databases")
    print(
        f"camauth HTTP bench: Python {platform.python_version()}, Pyramid {version('pyramid')}, "
        f"waitress {version('waitress')}, SQLAlchemy {sqlalchemy.__version__}"
        + (f", Django {version('django')}" if django else "")
        + f", {os.cpu_count()} CPU(s)"
    )
    if not args.no_sqlite:
        with harness.sqlite_database() as url, ExitStack() as stack:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="django-bench-")))
            django_file = folder / "django.sqlite" if django else None
            bench_database("SQLite (temporary files)", url, django_file, wrk, args)
    if args.database_url:
        with ExitStack() as stack:
            url = stack.enter_context(
                harness.postgres_database(args.database_url, CAMAUTH_DATABASE)
            )
            django_url = (
                stack.enter_context(
                    harness.empty_postgres_database(args.database_url, DJANGO_DATABASE)
                )
                if django
                else None
            )
            server = make_url(url)
            shown = f"{server.host}:{server.port or 5432}, databases {CAMAUTH_DATABASE}"
            if django_url is not None:
                shown += f" and {DJANGO_DATABASE}"
            bench_database(f"PostgreSQL ({shown})", url, django_url, wrk, args)


if __name__ == "__main__":
    main()
