from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse


@login_required
def protected(request: HttpRequest) -> HttpResponse:
    """The page timed: what camauth's protected host view answers, done the Django way."""
    return HttpResponse(f"Signed in as {request.user.get_username()}")
