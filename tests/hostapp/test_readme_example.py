"""The README's ``config.include("camauth")`` example works as pasted: it is cut out
of README.md, run, and its application served a visitor, a user and an admin."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import webtest

from camauth.services import accounts

from ..conftest import GOOD_PASSWORD, app_context, login

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example() -> str:
    text = README.read_text()
    section = text.split("## Using camauth in your own Pyramid application", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found, "no Python example in the README's section"
    return found.group(1)


def test_the_readme_example_runs_as_pasted(ini_settings: dict[str, Any], clock: Any) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(readme_example(), "README.md example", "exec"), namespace)  # noqa: S102
    app = namespace["main"]({}, **{**ini_settings, "camauth.mfa.required_for": "none"})
    try:
        ctx = app_context(app)
        accounts.create_user(ctx, "alice", password=GOOD_PASSWORD)
        accounts.create_user(ctx, "root", password=GOOD_PASSWORD, is_admin=True)
        ctx.db.commit()
        ctx.db.close()
        visitor = webtest.TestApp(app)
        assert "/login?next=%2Freports" in visitor.get("/reports", status=303).location
        alice = webtest.TestApp(app)
        login(alice, "alice", GOOD_PASSWORD, status=303)
        assert alice.get("/reports", status=200).text == "Reports for alice"
        alice.get("/settings", status=403)
        root = webtest.TestApp(app)
        login(root, "root", GOOD_PASSWORD, status=303)
        assert root.get("/settings", status=200).text == "Settings only administrators may see"
    finally:
        app.registry["camauth.engine"].dispose()
