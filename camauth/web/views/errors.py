"""Error pages: every refusal is a clear 4xx page, a database outage a 503, never a trace."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from pyramid.exceptions import BadCSRFOrigin, BadCSRFToken, PredicateMismatch
from pyramid.httpexceptions import HTTPException
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import exception_view_config, forbidden_view_config, notfound_view_config
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import ObjectDeletedError, StaleDataError

from ...services.required_actions import Action
from ..bearer import is_bearer_request, wants_json
from ..json_errors import json_error
from ..navigation import RecordNotFound, login_url, see_other
from ..rendering import render_page
from ..security import owed_action

log = logging.getLogger(__name__)

ACTION_ROUTES = {
    Action.CHANGE_PASSWORD: "camauth.account.password",
    Action.AGREE_TERMS: "camauth.account.terms",
    Action.SET_UP_TWO_FACTOR: "camauth.account.two_factor",
}


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    if wants_json(request):
        return json_error(status, message, token_given=is_bearer_request(request))
    try:
        return render_page(request, "error.html", status=status, title=title, message=message)
    except Exception:  # the page itself needs the database (session); fall back to text
        log.exception("could not render the error page")
        return Response(f"{title}\n\n{message}\n", status=status, content_type="text/plain")


@forbidden_view_config()
def forbidden(request: Request) -> Response:
    wanted = request.path_qs if request.method == "GET" else None
    tool = wants_json(request)
    if tool and (request.user is None or not is_bearer_request(request)):
        # tools authenticate with a token; a browser's cookie does not open the API
        return json_error(401, "Send an API token: Authorization: Bearer TOKEN.")
    if request.user is None:
        return see_other(login_url(request, wanted))
    owed = owed_action(request)
    if owed is not None and tool:
        return json_error(
            403,
            f"Log in with a browser first: the account owes an action ({owed.value}).",
            "action_required",
        )
    if owed is not None:
        url = request.route_path(ACTION_ROUTES[owed])
        return see_other(f"{url}?{urlencode({'next': wanted})}" if wanted else url)
    return error_page(request, 403, "Not allowed", "You do not have access to this page.")


def allowed_methods(request: Request) -> list[str]:
    """The methods the matched route's views answer, from Pyramid's introspector."""
    route = request.matched_route
    introspector = request.registry.introspector
    route_entry = introspector.get("routes", route.name) if route is not None else None
    if route_entry is None:
        return []
    methods: set[str] = set()
    for related in introspector.related(route_entry):
        wanted = related["request_methods"] if related.category_name == "views" else None
        if wanted:
            methods.update((wanted,) if isinstance(wanted, str) else wanted)
    return sorted(methods)


@notfound_view_config()
def not_found(exc: HTTPException, request: Request) -> Response:
    if isinstance(exc, PredicateMismatch) and wants_json(request):
        allowed = allowed_methods(request)
        response = json_error(405, f"{request.method[:20]} is not allowed here.")
        response.headers["Allow"] = ", ".join(allowed)
        return response
    if isinstance(exc, RecordNotFound) and isinstance(exc.detail, str):
        return error_page(request, 404, "Not found", exc.detail)
    return error_page(request, 404, "Not found", "There is no page at this address.")


@exception_view_config(BadCSRFToken)
@exception_view_config(BadCSRFOrigin)
def bad_csrf(request: Request) -> Response:
    return error_page(
        request,
        400,
        "Form expired",
        "This form was not accepted because its security token is missing or out of date, "
        "or cookies are blocked. Go back, reload the page and try again.",
    )


@exception_view_config(UnicodeDecodeError)
@exception_view_config(DeprecationWarning)  # WebOb's refusal of non-UTF-8 form charsets
def bad_encoding(request: Request) -> Response:
    return error_page(request, 400, "Bad request", "The request is not valid UTF-8 text.")


@exception_view_config(HTTPException)
def http_exception(exc: HTTPException, request: Request) -> Response:
    if exc.code is not None and exc.code < 400:
        return exc
    # camauth raises these with a message for the person (``detail``)
    message = exc.detail if isinstance(exc.detail, str) and exc.detail else exc.explanation
    return error_page(request, exc.code or 400, exc.title, message or exc.title)


@exception_view_config(IntegrityError)
@exception_view_config(StaleDataError)  # an UPDATE or DELETE found its row gone
@exception_view_config(ObjectDeletedError)  # a row read earlier was deleted since
def conflict(request: Request) -> Response:
    """Two requests changed the same thing at once and the database kept one (a
    double-clicked button, say): a 409 the person can retry, not an outage."""
    log.info("integrity conflict", exc_info=True)
    if wants_json(request):
        return json_error(409, "Another request changed the same thing at the same moment.")
    # the failed flush left the ORM session unusable (the transaction is rolled
    # back after this page): the page must not read the user or the session
    return render_page(
        request,
        "error.html",
        status=409,
        use_session=False,
        title="Changed at the same moment",
        message="Another request changed the same thing at the same moment. Reload the page "
        "to see where things stand, and try again if needed.",
    )


@exception_view_config(OperationalError)
@exception_view_config(DBAPIError)
def database_unavailable(request: Request) -> Response:
    log.exception("database error")
    response = (
        json_error(503, "The service cannot reach its database.")
        if wants_json(request)
        else render_page(
            request,
            "error.html",
            status=503,
            use_session=False,
            title="Temporarily unavailable",
            message="The service cannot reach its database. Please try again in a moment.",
        )
    )
    response.headers["Retry-After"] = "10"
    return response


@exception_view_config(Exception)
def unexpected(request: Request) -> Response:
    log.exception("unexpected error")
    if wants_json(request):
        return json_error(500, "Something went wrong on our side; it has been logged.")
    return Response(
        "Something went wrong on our side; it has been logged.\n",
        status=500,
        content_type="text/plain",
    )
