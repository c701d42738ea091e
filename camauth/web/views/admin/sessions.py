"""``/admin/sessions``: every live session; end one, or all but your own."""

from __future__ import annotations

import deform
from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ....models import User, WebSession
from ....services import sessions
from ...forms import DESTRUCTIVE, confirm_schema, form_controls, make_form
from ...navigation import RecordNotFound, see_other
from ...rendering import form_html
from ...security import ADMIN
from .common import admin_page, confirm_page, cursor_from, id_from_url, paging_links

LIST = "camauth.admin.sessions"
END = "camauth.admin.session.end"
END_ALL = "camauth.admin.sessions.end_all"


@view_config(route_name=LIST, request_method="GET", permission=ADMIN)
def sessions_page(request: Request) -> Response:
    ctx = request.camauth
    page = sessions.live_sessions_page(ctx, cursor_from(request, sessions.SESSION_CURSOR_TYPES))
    return admin_page(
        request,
        "sessions.html",
        "sessions",
        page=page,
        total=sessions.count_live_sessions(ctx),
        own_session=request.session.session_id,
        pages=paging_links(request, LIST, page, {}),
        now=request.registry["camauth.clock"](),
    )


def _session(request: Request) -> WebSession:
    row = sessions.find_live_session(request.camauth, id_from_url(request))
    if row is None:
        raise RecordNotFound("There is no such session: it may have ended already.")
    return row


def _confirm(request: Request, heading: str, consequence: str, form: deform.Form) -> Response:
    back = request.route_path(LIST)
    rendered = form_html(form.render())
    return confirm_page(
        request, "sessions", heading, consequence, rendered, back, "Back to sessions"
    )


def _end_form(request: Request, row: WebSession) -> deform.Form:
    url = request.route_path(END, id=row.id)
    return make_form(
        confirm_schema(request), "End session", "end-session", url, button_class=DESTRUCTIVE
    )


def _describe(request: Request, row: WebSession) -> str:
    user = request.camauth.db.get(User, row.user_id)
    owner = user.username if user is not None else "?"
    return f"End this {row.kind} session of {owner} (from {row.ip or 'an unknown address'})?"


@view_config(route_name=END, request_method="GET", permission=ADMIN)
def end_page(request: Request) -> Response:
    row = _session(request)
    consequence = "Whoever uses it is logged out at their next request."
    return _confirm(request, _describe(request, row), consequence, _end_form(request, row))


@view_config(route_name=END, request_method="POST", permission=ADMIN)
def end_submit(request: Request) -> Response:
    row = _session(request)
    try:
        _end_form(request, row).validate(form_controls(request))
    except deform.ValidationFailure:
        return see_other(request.route_path(END, id=row.id))
    own = row.id == request.session.session_id
    sessions.end_session(request.camauth, row, reason="ended by administrator")
    if own:
        return see_other(request.route_path("camauth.login"))
    request.session.flash("The session has ended.")
    return see_other(request.route_path(LIST))


def _end_all_form(request: Request) -> deform.Form:
    url = request.route_path(END_ALL)
    return make_form(
        confirm_schema(request),
        "End all other sessions",
        "end-all-sessions",
        url,
        button_class=DESTRUCTIVE,
    )


@view_config(route_name=END_ALL, request_method="GET", permission=ADMIN)
def end_all_page(request: Request) -> Response:
    return _confirm(
        request,
        "End every session but yours?",
        "Everyone else is logged out, command-line clients included. Your own session stays.",
        _end_all_form(request),
    )


@view_config(route_name=END_ALL, request_method="POST", permission=ADMIN)
def end_all_submit(request: Request) -> Response:
    try:
        _end_all_form(request).validate(form_controls(request))
    except deform.ValidationFailure:
        return see_other(request.route_path(END_ALL))
    ended = sessions.end_all_other_sessions(request.camauth, request.session.session_id)
    request.session.flash(f"{ended} session{'' if ended == 1 else 's'} ended.")
    return see_other(request.route_path(LIST))
