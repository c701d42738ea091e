"""Ending the person's own sessions: any other one, or all others (a lost phone, a
computer left logged in). The list is part of the account centre
(``views/account_centre.py``), which ``/account/sessions`` shows."""

from __future__ import annotations

from pyramid.request import Request
from pyramid.response import Response
from pyramid.view import view_config

from ...services import sessions
from ..navigation import see_other
from ..security import VIEW

PAGE = "camauth.account.sessions"
END = "camauth.account.sessions.end"
END_OTHERS = "camauth.account.sessions.end_others"


@view_config(route_name=END, request_method="POST", permission=VIEW)
def end_one(request: Request) -> Response:
    ended = sessions.end_own_session(
        request.camauth,
        request.user,
        int(request.matchdict["id"]),
        current_id=request.session.session_id,
    )
    # a second press (reload, double click) finds it gone and says so: nothing repeats
    request.session.flash("The session has ended." if ended else "That session had ended already.")
    return see_other(request.route_path(PAGE))


@view_config(route_name=END_OTHERS, request_method="POST", permission=VIEW)
def end_others(request: Request) -> Response:
    ended = sessions.end_user_sessions(
        request.camauth, request.user, keep_id=request.session.session_id
    )
    noun = "session" if ended == 1 else "sessions"
    request.session.flash(f"{ended} other {noun} ended." if ended else "No other session was open.")
    return see_other(request.route_path(PAGE))


@view_config(route_name=END, request_method="GET", permission=VIEW)
@view_config(route_name=END_OTHERS, request_method="GET", permission=VIEW)
def back_to_the_list(request: Request) -> Response:
    """A form's address opened as a page: the page the form is on."""
    return see_other(request.route_path(PAGE))
