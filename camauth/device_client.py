"""``camauth-device-login URL``: log a terminal in to camauth through the device grant.

It asks camauth for a code, prints it with the link, polls politely while the
person approves in their browser, and writes the token to a file only its owner
can read. Standard library only, so any machine with Python can run it; it is
also a small example of the client side of the grant for other tools.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .terminal import printable

PROG = "camauth-device-login"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_TOKEN_FILE = Path("~/.config/camauth/token")
TIMEOUT_SECONDS = 30  # per HTTP request: a server that does not answer is an error
SPINNER = "|/-\\"


class Failure(Exception):
    """The one line to print before exiting non-zero."""


def _post(url: str, fields: dict[str, str]) -> tuple[int, dict[str, Any]]:
    body = urllib.parse.urlencode(fields).encode()
    # the scheme was checked in main(): http or https only
    request = urllib.request.Request(  # noqa: S310
        url,
        data=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            "User-Agent": PROG,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return response.status, _json(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _json(error.read())
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise Failure(f"cannot reach {url}: {reason}") from None


def _json(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        raise Failure("the server's answer is not JSON; is the URL camauth's?") from None
    if not isinstance(value, dict):
        raise Failure("the server's answer is not a JSON object")
    return value


def _refusal(answer: dict[str, Any]) -> str:
    text = answer.get("error_description") or answer.get("message") or answer.get("error")
    return printable(str(text))


def ask(base: str, client_id: str, scope: str, hostname: str, message: str) -> dict[str, Any]:
    fields = {"client_id": client_id, "hostname": hostname}
    if scope:
        fields["scope"] = scope
    if message:
        fields["message"] = message
    status, answer = _post(f"{base}/oauth/device_authorization", fields)
    if status != 200 or "device_code" not in answer:
        raise Failure(f"the login could not start: {_refusal(answer)}")
    return answer


def wait_for_token(
    base: str,
    client_id: str,
    grant: dict[str, Any],
    *,
    sleep: Callable[[float], None] = time.sleep,
    progress: TextIO | None = None,
) -> dict[str, Any]:
    """Poll until approved; :class:`Failure` on denial, expiry or another refusal."""
    try:
        interval = max(1, int(grant.get("interval", 5)))
        expires_in = int(grant.get("expires_in", 600))
    except (TypeError, ValueError):
        raise Failure("the server's answer is not a device grant") from None
    fields = {"grant_type": DEVICE_GRANT, "device_code": grant["device_code"]}
    fields["client_id"] = client_id
    deadline = time.monotonic() + expires_in
    turn = 0
    while True:
        sleep(interval)
        status, answer = _post(f"{base}/oauth/token", fields)
        if status == 200 and "access_token" in answer:
            return answer
        error = answer.get("error")
        if error == "slow_down":
            interval += 5  # as the grant says: this poll and every later one
        elif error != "authorization_pending":
            raise Failure(_outcome(error, answer))
        if progress is not None:
            left = max(0, int(deadline - time.monotonic()))
            progress.write(
                f"\r{SPINNER[turn % 4]} waiting for approval ({left // 60}:{left % 60:02d} left) "
            )
            progress.flush()
            turn += 1


def _outcome(error: Any, answer: dict[str, Any]) -> str:
    if error == "access_denied":
        return "the login was denied"
    if error == "expired_token":
        return "the code expired before it was approved; run the command again"
    return f"the login failed: {_refusal(answer)}"


def write_token(path: Path, token: str) -> None:
    """Write the token readable by its owner only, whatever the file was before: the
    mode is set on the open file, so it is never readable by others, not even briefly."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        os.fchmod(stream.fileno(), 0o600)
        stream.write(token + "\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=PROG, description="Log in to camauth from a terminal.")
    parser.add_argument("url", help="camauth's address, such as https://auth.example.org")
    parser.add_argument("--scope", default="", help="space-separated scopes (default: all)")
    parser.add_argument(
        "--token-file", type=Path, default=DEFAULT_TOKEN_FILE, help="default: %(default)s"
    )
    parser.add_argument("--client-id", default=PROG, help="how the request names this tool")
    parser.add_argument("--message", default="", help="a note shown to the person approving")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = args.url.rstrip("/")
    if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
        print(f"{PROG}: the URL must start with https:// (or http://)", file=sys.stderr)
        return 2
    try:
        grant = ask(base, args.client_id, args.scope, socket.gethostname()[:200], args.message)
        print(f"To log in, open {printable(str(grant['verification_uri']))}")
        print(f"and enter the code {printable(str(grant['user_code']))}")
        complete = grant.get("verification_uri_complete")
        if complete:
            print(f"(or open {printable(str(complete))})")
        sys.stdout.flush()
        progress = sys.stderr if sys.stderr.isatty() else None
        answer = wait_for_token(base, args.client_id, grant, progress=progress)
        if progress is not None:
            progress.write("\n")
        token_file = args.token_file.expanduser()
        try:
            write_token(token_file, str(answer["access_token"]))
        except OSError as error:
            raise Failure(f"cannot write {token_file}: {error.strerror}") from None
    except Failure as failure:
        print(f"{PROG}: {failure}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\n{PROG}: stopped", file=sys.stderr)
        return 130
    print(f"Logged in. The token is in {token_file} (readable by you only).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
