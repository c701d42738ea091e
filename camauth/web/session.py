"""camauth's Pyramid ``ISession``: server-side, one database row per session.

- The cookie carries a random token; the row is found by its SHA-256 digest.
- A visitor who stores nothing gets no row and no session cookie. The CSRF
  token of such a visitor (the login form needs one) lives in a small cookie of
  its own until a row exists, so rendering /login writes nothing.
- Changes are written from a before-commit hook on the request's transaction,
  because pyramid_tm commits before response callbacks run. Cookies are set in
  a response callback, and only if that hook ran (the transaction committed).
- The data column is JSON, compared with what was loaded, and written only
  when it differs; ``last_seen_at`` is written at most once per touch interval.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pyramid.interfaces import ISession
from pyramid.request import Request
from pyramid.response import Response
from zope.interface import implementer

from ..models import SessionKind, User, WebSession
from ..services import sessions
from ..services.context import Context
from .context import anonymous_context, app_settings

SESSION_COOKIE = "camauth_session"
CSRF_COOKIE = "camauth_csrf"
CSRF_KEY = "_csrf"
FLASH_PREFIX = "_flash."
_MAX_TOKEN_LENGTH = 100  # real tokens are 43 characters; longer is garbage


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


@implementer(ISession)
class DatabaseSession(dict[str, Any]):
    def __init__(self, request: Request, ctx: Context, loaded: sessions.LoadedSession | None):
        self.request = request
        self._ctx = ctx
        self.row: WebSession | None = loaded.row if loaded else None
        self.user: User | None = loaded.user if loaded else None
        self.new = loaded is None
        if loaded is not None:
            super().__init__(json.loads(loaded.row.data))
            self._loaded_data = loaded.row.data
            self.created = loaded.row.created_at.timestamp()
        else:
            self._loaded_data = "{}"
            self.created = ctx.clock().timestamp()
        self._issued_token: str | None = None
        self._drop_cookie = False
        self._committed = False
        self._csrf_cookie_token: str | None = None

    # --- ISession -------------------------------------------------------------

    def invalidate(self) -> None:
        """Delete the row; the cookie goes with the response. Data stored afterwards
        starts a new anonymous session."""
        if self.row is not None:
            self._ctx.db.delete(self.row)
        self.row = None
        self.user = None
        self.clear()
        self._loaded_data = "{}"
        self._issued_token = None
        self._drop_cookie = True

    def changed(self) -> None:
        """Nothing to do: changes are found by comparing the JSON at commit."""

    def flash(self, msg: Any, queue: str = "", allow_duplicate: bool = True) -> None:
        messages = self.setdefault(FLASH_PREFIX + queue, [])
        if allow_duplicate or msg not in messages:
            messages.append(msg)

    def pop_flash(self, queue: str = "") -> list[Any]:
        messages: list[Any] = self.pop(FLASH_PREFIX + queue, [])
        return messages

    def peek_flash(self, queue: str = "") -> list[Any]:
        messages: list[Any] = self.get(FLASH_PREFIX + queue, [])
        return messages

    # --- CSRF (Pyramid's default storage policy and deform call these) --------

    def get_csrf_token(self) -> str:
        token = self.get(CSRF_KEY)
        if isinstance(token, str):
            return token
        if self.row is not None:
            return self.new_csrf_token()
        return self._anonymous_csrf_token()

    def new_csrf_token(self) -> str:
        token = secrets.token_urlsafe(32)
        if self.row is None and CSRF_KEY not in self:
            self._csrf_cookie_token = token
        else:
            self[CSRF_KEY] = token
        return token

    def _anonymous_csrf_token(self) -> str:
        if self._csrf_cookie_token is None:
            cookie = self.request.cookies.get(CSRF_COOKIE, "")
            if 20 <= len(cookie) <= _MAX_TOKEN_LENGTH:
                self._csrf_cookie_token = cookie
            else:
                return self.new_csrf_token()
        return self._csrf_cookie_token

    # --- logging in and out ---------------------------------------------------

    def login(self, user: User, kind: SessionKind = SessionKind.BROWSER) -> None:
        """Start an authenticated session: always a new token and a new CSRF token."""
        ctx = self._ctx
        if self.row is not None:
            ctx.db.delete(self.row)
        if kind is SessionKind.BROWSER and app_settings(self.request.registry).session_one_per_user:
            sessions.end_user_sessions(ctx, user, kind=SessionKind.BROWSER)
        carried = {k: v for k, v in self.items() if k != CSRF_KEY}
        self.clear()
        self.update(carried)
        self[CSRF_KEY] = secrets.token_urlsafe(32)
        self._issued_token, self.row = sessions.create_session(
            ctx, user=user, kind=kind, data=dict(self)
        )
        self._loaded_data = self.row.data
        self.user = user
        self.new = False

    @property
    def authenticated_age(self) -> timedelta | None:
        if self.row is None or self.row.authenticated_at is None:
            return None
        return self._ctx.clock() - self.row.authenticated_at

    # --- persistence ----------------------------------------------------------

    def before_commit(self) -> None:
        ctx = self._ctx
        data = _dumps(self)
        if self.row is None:
            if not self:
                return
            # an anonymous visitor stored something: now it needs a row, and the
            # CSRF token moves from its cookie into the row
            self.setdefault(CSRF_KEY, self._anonymous_csrf_token())
            self._issued_token, self.row = sessions.create_session(ctx, user=None, data=dict(self))
            return
        if data != self._loaded_data:
            self.row.data = data
        now = ctx.clock()
        interval = timedelta(seconds=ctx.settings.session_touch_interval_seconds)
        if now - self.row.last_seen_at >= interval:
            self.row.last_seen_at = now

    def after_commit(self, succeeded: bool) -> None:
        self._committed = succeeded

    def set_cookies(self, request: Request, response: Response) -> None:
        secure = app_settings(request.registry).session_cookie_secure
        cookie = {"path": "/", "secure": secure, "httponly": True, "samesite": "Lax"}
        if self._committed and self._issued_token:
            response.set_cookie(SESSION_COOKIE, self._issued_token, **cookie)
        elif self._drop_cookie:
            response.delete_cookie(SESSION_COOKIE, path="/")
        if self._committed and self.row is not None:
            if CSRF_COOKIE in request.cookies:
                response.delete_cookie(CSRF_COOKIE, path="/")
        elif (
            self._csrf_cookie_token and request.cookies.get(CSRF_COOKIE) != self._csrf_cookie_token
        ):
            response.set_cookie(CSRF_COOKIE, self._csrf_cookie_token, **cookie)


def session_factory(request: Request) -> DatabaseSession:
    ctx = anonymous_context(request)
    token = request.cookies.get(SESSION_COOKIE)
    loaded = None
    if token and len(token) <= _MAX_TOKEN_LENGTH:
        loaded = sessions.load_session(ctx, token, ctx.origin.ip)
    session = DatabaseSession(request, ctx, loaded)
    if token and loaded is None:
        session._drop_cookie = True
    current = request.tm.get()
    current.addBeforeCommitHook(session.before_commit)
    current.addAfterCommitHook(session.after_commit)
    callback: Callable[[Request, Response], None] = session.set_cookies
    request.add_response_callback(callback)
    return session
