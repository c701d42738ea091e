"""Pages for refusals several views share: a mailed link that cannot be used, a rate limit."""

from __future__ import annotations

from pyramid.request import Request
from pyramid.response import Response

from ..services.mail_limits import TooManyRequests
from ..services.tokens import LinkError, LinkProblem
from .rendering import render_page

_LINK_TITLES = {
    LinkProblem.UNKNOWN: "This link is not valid",
    LinkProblem.EXPIRED: "This link has expired",
    LinkProblem.USED: "This link was already used",
}
# which advice the page gives: what the person can do to get a working link
_LINK_PURPOSES = {
    "camauth.password.reset": "reset",
    "camauth.account.email.confirm": "email",
    "camauth.password.set": "invite",
}
_LINK_STATUS = {LinkProblem.UNKNOWN: 404, LinkProblem.EXPIRED: 410, LinkProblem.USED: 410}


def link_problem_page(request: Request, error: LinkError, route_name: str) -> Response:
    """A clear page for a used, expired or unknown mailed link, saying what to do now."""
    return render_page(
        request,
        "link_problem.html",
        status=_LINK_STATUS[error.problem],
        title=_LINK_TITLES[error.problem],
        problem=error.problem.value,
        purpose=_LINK_PURPOSES.get(route_name, "verify"),
    )


def too_many_requests_page(request: Request, refused: TooManyRequests) -> Response:
    return render_page(
        request,
        "error.html",
        status=429,
        title="Too many requests",
        message=(
            "There have been too many requests from your network address. Please try again "
            f"after {refused.until:%Y-%m-%d %H:%M} UTC."
        ),
    )
