"""camauth's Pyramid ``ISession``: server-side, one database row per session.

- The cookie carries a random token; the row is found by its SHA-256 digest,
  with the user, in one raw query (``services/session_lookup.py``). Reading a
  session opens no ORM session; writes go through ``request.dbsession`` so they
  commit with the request.
- A visitor who stores nothing gets no row and no session cookie. The CSRF
  token of such a visitor (the login form needs one) lives in a small cookie of
  its own until a row exists, so rendering /login writes nothing.
- Changes are written from a before-commit hook on the request's transaction,
  because pyramid_tm commits before response callbacks run. Cookies are set in
  a response callback, and only if that hook ran (the transaction committed).
- The data column is JSON, written only when the data differs from the copy
  taken at load (compared as Python values: a 1 replaced by True or 1.0 alone
  is not written; a list or dict changed in place is); ``last_seen_at`` at most
  once per touch interval.
- The cookie callback is added only once there may be a cookie to set.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from typing import Any

from pyramid.interfaces import ISession
from pyramid.request import Request
from pyramid.response import Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_state
from zope.interface import implementer

from ..clock import Clock
from ..models import SessionKind, User, WebSession
from ..services import serial, session_start, sessions
from ..services.session_lookup import SessionRecord
from ..settings import Settings
from .context import anonymous_context
from .cookies import read_cookie, set_cookie

SESSION_COOKIE = "camauth_session"
CSRF_COOKIE = "camauth_csrf"
CSRF_KEY = "_csrf"
FLASH_PREFIX = "_flash."
EXPIRES = "_expires"  # marks an entry stored with put_expiring
MAX_TOKEN_LENGTH = 100  # real tokens are 43 characters; longer is garbage


def _expired(entry: Any, now: datetime) -> bool:
    if not isinstance(entry, dict) or EXPIRES not in entry:
        return False
    try:
        return datetime.fromisoformat(entry[EXPIRES]) <= now
    except (TypeError, ValueError):
        return True  # unreadable: treat as gone


_encode = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode


def _dumps(data: dict[str, Any]) -> str:
    return _encode(data)


@implementer(ISession)
class DatabaseSession(dict[str, Any]):
    def __init__(
        self,
        request: Request,
        record: SessionRecord | None = None,
        user: User | None = None,
        *,
        bearer: bool = False,
    ):
        self.request = request
        registry = request.registry
        self._settings: Settings = registry["camauth.settings"]
        self._clock: Clock = registry["camauth.clock"]
        self._touch_interval = self._settings.session_touch_interval
        self.record = record
        self.user = user
        self.new = record is None
        self._loaded: dict[str, Any] = {}
        if record is not None:
            data = json.loads(record.data)
            super().__init__(data)
            # The copy to compare with at the end (a bearer's data is never written).
            # Most sessions hold plain values only (the CSRF token): the parsed dict
            # is that copy, since nothing in it can change in place. A list or dict
            # can: then a deep copy, and parsing again costs less than encoding at
            # the end. Only such a value can be an entry that expires.
            if any(isinstance(value, (dict, list)) for value in data.values()):
                if not bearer:
                    self._loaded = json.loads(record.data)
                self._drop_expired()
            elif not bearer:
                self._loaded = data
        self._created: float | None = None
        self._issued_token: str | None = None
        self._drop_cookie = False
        self._committed = False
        self._csrf_cookie_token: str | None = None
        self._cookie_callback = False
        # an API session used with a bearer token: no cookies, nothing stored but
        # the last-seen time (see web/bearer.py)
        self.bearer = bearer
        self.conflicting_credentials = False
        self._joined: Any = None  # the transaction whose commit writes this session

    @property
    def created(self) -> float:  # ISession: asked for rarely, so worked out when asked
        if self.record is not None:
            return self.record.created_at.timestamp()
        self._created = self._created or self._clock().timestamp()
        return self._created

    @property
    def session_id(self) -> int | None:
        return self.record.id if self.record is not None else None

    def token_in_use(self) -> str | None:
        """The token this browser holds (or will, after this response); None when
        there is no session to speak of."""
        if self._issued_token is not None:
            return self._issued_token
        if self.record is None or self.bearer:
            return None
        return read_cookie(self.request, self._settings.cookie_prefix + SESSION_COOKIE)

    def take_stored(self, key: str) -> Any:
        """Remove ``key`` and return its value as the database holds it now, this
        session's row locked until the transaction ends. Of two requests taking the
        same value at once (a one-time form token sent twice by a double click),
        the second waits for the first to commit and finds it gone; the copy each
        request loaded at its start cannot tell them apart."""
        self.pop(key, None)
        if self.record is None or self.bearer:
            return None
        db: Session = self.request.dbsession
        row = select(WebSession.data).where(WebSession.id == self.record.id)
        if db.get_bind().dialect.name == "postgresql":
            stored = db.execute(row.with_for_update()).scalar()
        else:
            # SQLite: the read inside the write transaction (its one writer lock)
            serial.hold(self.request.camauth, "session-row")
            stored = db.execute(row).scalar()
        return json.loads(stored).get(key) if stored else None

    def take_expiring(self, key: str) -> Any:
        """``take_stored`` for a value stored with ``put_expiring``: the value once,
        or None if absent or expired (a single-use challenge, say)."""
        entry = self.take_stored(key)
        if not isinstance(entry, dict) or EXPIRES not in entry or _expired(entry, self._clock()):
            return None
        return entry.get("value")

    # --- ISession -------------------------------------------------------------

    def invalidate(self) -> None:
        """Delete the row; the cookie goes with the response. Data stored afterwards
        starts a new anonymous session."""
        if self.record is not None:
            sessions.delete_session(anonymous_context(self.request), self.record.id)
        self.record = None
        self.user = None
        self.clear()
        self._issued_token = None
        self.drop_cookie()

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

    # --- entries that expire -----------------------------------------------

    def put_expiring(self, key: str, value: Any, until: datetime) -> None:
        """Store ``value`` until ``until``. Expired entries are dropped whenever the
        session is next loaded, whatever page is asked for, so secrets such as new
        recovery codes do not linger in the table."""
        self[key] = {EXPIRES: until.isoformat(), "value": value}

    def get_expiring(self, key: str) -> Any:
        """The value stored with ``put_expiring``, or None once expired or absent."""
        self._drop_expired()
        entry = self.get(key)
        return entry["value"] if isinstance(entry, dict) and EXPIRES in entry else None

    def _drop_expired(self) -> None:
        expiring = [
            key for key, entry in self.items() if isinstance(entry, dict) and EXPIRES in entry
        ]
        if expiring:  # most sessions hold none: no need to read the clock
            now = self._clock()
            for key in [key for key in expiring if _expired(self[key], now)]:
                del self[key]

    # --- CSRF (Pyramid's default storage policy and deform call these) --------

    def get_csrf_token(self) -> str:
        token = self.get(CSRF_KEY)
        if isinstance(token, str):
            return token
        if self.record is not None:
            return self.new_csrf_token()
        return self._anonymous_csrf_token()

    def new_csrf_token(self) -> str:
        token = secrets.token_urlsafe(32)
        if self.record is None and CSRF_KEY not in self:
            self._csrf_cookie_token = token
            self._expect_cookies()
        else:
            self[CSRF_KEY] = token
        return token

    def _anonymous_csrf_token(self) -> str:
        if self._csrf_cookie_token is None:
            cookie = read_cookie(self.request, self._settings.cookie_prefix + CSRF_COOKIE) or ""
            if 20 <= len(cookie) <= MAX_TOKEN_LENGTH:
                self._csrf_cookie_token = cookie  # already set: no cookie to send
            else:
                return self.new_csrf_token()
        return self._csrf_cookie_token

    # --- logging in and out ---------------------------------------------------

    def login(
        self, user: User, kind: SessionKind = SessionKind.BROWSER, *, user_row_held: bool = False
    ) -> None:
        """Start an authenticated session: always a new token and a new CSRF token.
        ``user_row_held``: this transaction already holds the user's row."""
        ctx = anonymous_context(self.request)
        if self.record is not None:
            sessions.delete_session(ctx, self.record.id)
        # What an anonymous visitor (or this same user) stored carries over; another
        # user's data never does: on a shared browser it may hold their new
        # recovery codes or a half-done two-factor set-up.
        previous = self.user
        same_person = previous is None or previous.id == user.id
        carried = {k: v for k, v in self.items() if k != CSRF_KEY} if same_person else {}
        self.clear()
        self.update(carried)
        self[CSRF_KEY] = secrets.token_urlsafe(32)
        self._issued_token, self.record = session_start.start_logged_in_session(
            ctx, user, kind=kind, data=dict(self), user_row_held=user_row_held
        )
        self._loaded = json.loads(self.record.data)
        self.user = user
        self.new = False
        self._expect_cookies()

    def mark_authenticated(self) -> None:
        """Re-authentication succeeded: the session counts as freshly logged in."""
        if self.record is not None:
            ctx = anonymous_context(self.request)
            self.record.authenticated_at = sessions.mark_authenticated(ctx, self.record.id)

    @property
    def authenticated_age(self) -> timedelta | None:
        if self.record is None or self.record.authenticated_at is None:
            return None
        return self._clock() - self.record.authenticated_at

    # --- persistence ----------------------------------------------------------

    def has_writes(self) -> bool:
        """Whether committing would write anything (``before_commit``)."""
        user = self.user
        if not self.bearer and user is not None and instance_state(user).modified:
            return True
        if self.record is None:
            return not self.bearer and bool(self)
        return bool(self._row_changes(self.record))

    def join_transaction(self, txn: Any) -> None:
        """Write this session's changes when ``txn`` commits; set cookies after."""
        if self._joined is txn:
            return
        self._joined = txn
        txn.addBeforeCommitHook(self.before_commit)
        txn.addAfterCommitHook(self.after_commit)

    def _row_changes(self, record: SessionRecord) -> dict[str, Any]:
        """The row's new data if it differs (not for bearers); last_seen_at per interval."""
        changes: dict[str, Any] = {}
        if not self.bearer and self != self._loaded:
            changes["data"] = _dumps(self)
        now = self._clock()
        if now - record.last_seen_at >= self._touch_interval:
            changes["last_seen_at"] = now
        return changes

    def before_commit(self) -> None:
        record = self.record
        if self.bearer:
            if record is not None and (changes := self._row_changes(record)):
                self._write(record, changes)
            return
        user = self.user
        state = instance_state(user) if user is not None else None
        if state is not None and state.detached and state.modified:
            # request.user was changed but never attached: creating the ORM session
            # attaches it (db.py), and flushing joins that session to the commit
            self.request.dbsession.flush()
        if record is None:
            if not self:
                return
            # an anonymous visitor stored something: now it needs a row, and the
            # CSRF token moves from its cookie into the row
            self.setdefault(CSRF_KEY, self._anonymous_csrf_token())
            ctx = anonymous_context(self.request)
            self._issued_token, self.record = session_start.insert_session(
                ctx, user=None, data=dict(self)
            )
            self._loaded = json.loads(self.record.data)
            return
        changes = self._row_changes(record)
        if changes:
            self._write(record, changes)

    def _write(self, record: SessionRecord, changes: dict[str, Any]) -> None:
        update_row = update(WebSession).where(WebSession.id == record.id).values(**changes)
        self.request.dbsession.execute(update_row)

    def after_commit(self, succeeded: bool) -> None:
        self._committed = succeeded
        if succeeded:
            self._expect_cookies()  # a new session's, or the end of a CSRF cookie

    def drop_cookie(self) -> None:
        """The browser's session cookie names no live session: expire it."""
        self._drop_cookie = True
        self._expect_cookies()

    def _expect_cookies(self) -> None:
        # most requests set no cookie: they are spared the callback
        if not self._cookie_callback and not self.bearer:
            self._cookie_callback = True
            self.request.add_response_callback(self.set_cookies)

    def set_cookies(self, request: Request, response: Response) -> None:
        if self.bearer:
            return
        settings = self._settings
        secure = settings.session_cookie_secure
        if self._committed and self._issued_token:
            session_cookie = settings.cookie_prefix + SESSION_COOKIE
            set_cookie(response, session_cookie, self._issued_token, secure)
        elif self._drop_cookie:
            _expire_cookie(response, settings.cookie_prefix + SESSION_COOKIE, secure)
        csrf_cookie = settings.cookie_prefix + CSRF_COOKIE
        if self._committed and self.record is not None:
            if read_cookie(request, csrf_cookie) is not None:
                _expire_cookie(response, csrf_cookie, secure)
        elif self._csrf_cookie_token and self._csrf_cookie_token != read_cookie(
            request, csrf_cookie
        ):
            set_cookie(response, csrf_cookie, self._csrf_cookie_token, secure)


def _expire_cookie(response: Response, name: str, secure: bool) -> None:
    # with the attributes it was set with: a browser ignores a __Host- cookie (even
    # an expiring one) that is not Secure
    response.set_cookie(name, "", max_age=0, path="/", secure=secure, httponly=True, samesite="Lax")
