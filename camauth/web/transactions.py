"""The request's transaction, begun only when the request uses it.

pyramid_tm begins and commits a transaction around every request. For a page
that only reads (most page views: the session is looked up without the ORM,
web/session.py) that costs more than the session lookup itself. This tween
sits just outside pyramid_tm's and, for requests on the default thread-local
transaction manager, takes its place:

- nothing is begun up front; whatever uses the transaction begins it
  (``request.tm.get()``, ``request.tm.doom()``, an ORM session joining through
  zope.sqlalchemy, a mail queued for after the commit);
- at the end, if the request began one or its session has something to write
  (new data, the last-seen time, a change to ``request.user``), the session's
  writes join it and it is finished as pyramid_tm finishes it: committed;
  aborted on an exception, when doomed, or when the commit veto says so;
  retryable errors tagged for pyramid_retry; a failed commit answered by the
  exception views;
- otherwise the response is returned as it is: there was nothing to commit.

pyramid_tm keeps the requests this tween cannot vouch for: another transaction
manager (``tm.manager_hook``), an activate hook, a transaction annotated with
the user, or a transaction already under way.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import Any, Protocol

import transaction
from pyramid.exceptions import NotFound
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response
from pyramid.settings import asbool
from pyramid.util import DottedNameResolver
from pyramid_tm import maybe_tag_retryable

Handler = Callable[[Request], Response]
CommitVeto = Callable[[Request, Response], bool]

# set while this tween is in charge: the session then leaves joining the
# transaction to the end of the request (DatabaseSession.join_transaction)
LAZY_TRANSACTION = "camauth.lazy_transaction"


class SessionWrites(Protocol):
    def has_writes(self) -> bool: ...

    def join_transaction(self, txn: Any) -> None: ...


def in_transaction(manager: Any) -> bool:
    """Whether this thread's transaction manager holds a transaction, without
    creating one (its ``get()`` would). The thread-local manager keeps its
    current transaction on the wrapped ``manager`` (tests/unit pins this)."""
    return manager.manager._txn is not None


def _settings_allow_lazy(settings: dict[str, Any]) -> bool:
    return not (
        settings.get("tm.manager_hook")
        or settings.get("tm.activate_hook")
        or asbool(settings.get("tm.annotate_user", True))
    )


def lazy_transaction_tween_factory(handler: Handler, registry: Registry) -> Handler:
    settings = registry.settings
    if not _settings_allow_lazy(settings):
        return handler  # pyramid_tm's tween, just below, does it all
    veto_name = settings.get("tm.commit_veto", settings.get("pyramid_tm.commit_veto"))
    commit_veto: CommitVeto | None = (
        DottedNameResolver(None).maybe_resolve(veto_name) if veto_name else None
    )

    def lazy_transaction_tween(request: Request) -> Response:
        environ = request.environ
        manager = request.tm
        if (
            "tm.active" in environ
            or "repoze.tm.active" in environ
            or manager is not transaction.manager
        ):
            return handler(request)
        if in_transaction(manager):
            manager.abort()  # left open by earlier code in this thread, as pyramid_tm would
        environ["tm.active"] = True  # pyramid_tm's tween steps aside
        environ["tm.manager"] = manager
        # the request itself, not a flag: a subrequest made from a copy of this
        # environ has its own session, which must join the transaction at once
        environ[LAZY_TRANSACTION] = request
        try:
            response = handler(request)
        except Exception:
            maybe_tag_retryable(request, sys.exc_info())
            answer = _finish(request, manager.abort)
            if answer is not None:
                return answer
            raise

        def finish_as_decided() -> None:
            # inside _finish: an error deciding (a commit veto that raises, session
            # data JSON cannot hold) is aborted and answered like a failed commit
            session: SessionWrites | None = request.__dict__.get("session")
            if not in_transaction(manager) and (session is None or not session.has_writes()):
                return  # nothing was begun and nothing is to be written
            txn = manager.get()
            if session is not None:
                session.join_transaction(txn)
            if manager.isDoomed() or (commit_veto is not None and commit_veto(request, response)):
                manager.abort()
                return
            exc_info = getattr(request, "exc_info", None)
            if exc_info is not None:
                # an exception view answered: its work is not committed, as with pyramid_tm
                maybe_tag_retryable(request, exc_info)
                if commit_veto is None:
                    manager.abort()
                    return
            manager.commit()

        return _finish(request, finish_as_decided, response)

    return lazy_transaction_tween


def _leave(environ: dict[str, Any]) -> None:
    for key in ("tm.active", "tm.manager", LAZY_TRANSACTION):
        environ.pop(key, None)


def _finish(
    request: Request, finisher: Callable[[], Any], response: Response | None = None
) -> Response | None:
    """Commit or abort (``finisher``); an error doing so is answered by the
    exception views, the transaction aborted."""
    _leave(request.environ)
    try:
        finisher()
    except Exception:
        exc_info = sys.exc_info()
        # Tagged while the data managers can still say whether it is retryable, then
        # aborted now: a commit that failed (a before-commit hook raised, say) leaves
        # the transaction open, and with it the database transaction and its locks,
        # until this thread's next request (pyramid_tm leaves it so).
        maybe_tag_retryable(request, exc_info)
        _abort_quietly()
        try:
            answer: Response = request.invoke_exception_view(exc_info)
            return answer
        except NotFound:
            error = exc_info[1]
            assert error is not None
            raise error from None
        finally:
            del exc_info
    return response


def _abort_quietly() -> None:
    # the commit's own error is the one to report
    with contextlib.suppress(Exception):
        transaction.manager.abort()
