"""Helpers for tests that run camauth the way its users do: commands in subprocesses."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def clean_env() -> dict[str, str]:
    """The environment for a subprocess, without anything that would point camauth
    elsewhere (the environment wins over the ini) or import the checkout."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CAMAUTH_") and key not in {"PYTHONPATH", "VIRTUAL_ENV"}
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fetch(url: str, timeout: float = 10) -> Any:
    """GET a page of the local server under test (only ever http://127.0.0.1)."""
    assert url.startswith("http://127.0.0.1:"), url
    return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - checked just above


def wait_until_serving(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Poll ``url`` until it answers, the process dies, or a deadline passes."""
    deadline = time.monotonic() + 60
    while True:
        try:
            with fetch(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answers; what it answers is for the test to check
        except OSError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within 60 s:\n{log.read_text()}")
        try:
            process.wait(timeout=0.2)  # the pause between polls, and notices an early exit
        except subprocess.TimeoutExpired:
            continue
        raise AssertionError(f"the server exited with {process.returncode}:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
