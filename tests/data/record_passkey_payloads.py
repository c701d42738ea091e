"""Re-record tests/data/passkey_chromium.json (not a test; run it by hand):

    .venv/bin/python tests/data/record_passkey_payloads.py > tests/data/passkey_chromium.json

Chromium (Debian's, /usr/bin/chromium) with the DevTools virtual authenticator
creates a passkey and logs in with it on a blank page at http://localhost:8765,
with fixed challenges and user handle, and the page's JSON answers are printed.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

PORT = 8765
ORIGIN = f"http://localhost:{PORT}"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


REG_CHALLENGE = b64(b"recorded-registration-challenge!")
AUTH_CHALLENGE = b64(b"recorded-authentication-challeng")
HANDLE = b64(b"recorded-user-handle-0123456789a")
HELPERS = """
const toB = s => { s = s.replace(/-/g,'+').replace(/_/g,'/');
  const bin = atob(s + '==='.slice((s.length + 3) % 4));
  return Uint8Array.from(bin, c => c.charCodeAt(0)).buffer; };
"""
CREATE = (
    HELPERS
    + """async ([challenge, handle]) => (await navigator.credentials.create({
  publicKey: {challenge: toB(challenge), rp: {id: 'localhost', name: 'camauth'},
    user: {id: toB(handle), name: 'alice', displayName: 'alice'},
    pubKeyCredParams: [{type: 'public-key', alg: -7}],
    authenticatorSelection: {residentKey: 'required', userVerification: 'required'},
    attestation: 'none'}})).toJSON()"""
)
GET = (
    HELPERS
    + """async (challenge) => (await navigator.credentials.get({
  publicKey: {challenge: toB(challenge), rpId: 'localhost', userVerification: 'required',
    allowCredentials: []}})).toJSON()"""
)
AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


def wait_for_server() -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # a tool waiting for its child server, not a test
    raise SystemExit(f"no server on port {PORT}")


def main() -> None:
    with tempfile.TemporaryDirectory() as root:
        (Path(root) / "index.html").write_text("<!doctype html><title>record</title>")
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", str(PORT), "--bind", "127.0.0.1"],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_server()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
                page = browser.new_page()
                page.goto(f"{ORIGIN}/index.html")
                cdp = page.context.new_cdp_session(page)
                cdp.send("WebAuthn.enable")
                cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
                registration = page.evaluate(CREATE, [REG_CHALLENGE, HANDLE])
                authentication = page.evaluate(GET, AUTH_CHALLENGE)
                recorded = {
                    "recorded_with": f"Chromium {browser.version}, DevTools virtual "
                    "authenticator (ctap2, internal, resident key, user verification)",
                    "rp_id": "localhost",
                    "origin": ORIGIN,
                    "user_handle": HANDLE,
                    "registration": {"challenge": REG_CHALLENGE, "response": registration},
                    "authentication": {"challenge": AUTH_CHALLENGE, "response": authentication},
                }
                print(json.dumps(recorded, indent=2))
                browser.close()
        finally:
            server.terminate()


if __name__ == "__main__":
    main()
