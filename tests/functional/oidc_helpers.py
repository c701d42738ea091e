"""Shared by the OpenID Connect tests: the app configured with the loopback
provider (tests/oidc_provider.py), and the browser's trip there and back."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import select

from camauth.models import AuditEvent, ExternalIdentity, User

from ..conftest import app_context
from ..oidc_provider import FakeProvider

NAME = "test"


def provider_settings(provider: FakeProvider, **extra: str) -> dict[str, str]:
    settings = {
        f"oidc.{NAME}.issuer": provider.issuer,
        f"oidc.{NAME}.client_id": provider.client_id,
        f"oidc.{NAME}.client_secret": provider.client_secret,
        f"oidc.{NAME}.label": "Log in with Example ID",
        f"oidc.{NAME}.timeout_seconds": "2",
    }
    settings.update({f"oidc.{NAME}.{key}": value for key, value in extra.items()})
    return settings


def go_to_provider(client: Any) -> str:
    """Press the button; the provider consents at once: the callback URL it sends back."""
    start = client.get(f"/login/oidc/{NAME}", status=303)
    answer = requests.get(start.location, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    return str(answer.headers["Location"])


def come_back(client: Any, callback_url: str, status: Any = "*") -> Any:
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}", status=status)


def log_in_through_provider(client: Any, status: Any = "*") -> Any:
    return come_back(client, go_to_provider(client), status)


def link(app: Any, provider: FakeProvider, username: str, sub: str) -> None:
    ctx = app_context(app)
    try:
        user = ctx.db.scalar(select(User).where(User.username == username))
        assert user is not None
        ctx.db.add(
            ExternalIdentity(
                user_id=user.id,
                provider=NAME,
                issuer=provider.issuer,
                subject=sub,
                email="",
                created_at=ctx.clock(),
            )
        )
        ctx.db.commit()
    finally:
        ctx.db.close()


def events(app: Any, name: str) -> list[AuditEvent]:
    ctx = app_context(app)
    try:
        return list(ctx.db.scalars(select(AuditEvent).where(AuditEvent.event == name)))
    finally:
        ctx.db.close()


def logged_in_as(client: Any) -> str | None:
    page = client.get("/account", status="*")
    if page.status_int != 200:
        return None
    return page.html.find(string=lambda text: text and "Signed in as" in text)
