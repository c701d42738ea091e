"""The page of a mailed link on which a person chooses a password: a forgotten
password's reset link and an administrator's invitation share it. The link's
GET only shows the form; the POST checks the link again, applies the policy (a
refused password keeps the link usable) and spends the link."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import deform
from pyramid.request import Request
from pyramid.response import Response

from ..models import User
from ..services.context import Context
from ..services.password_policy import PasswordPolicyError
from ..services.tokens import LinkError
from .forms import form_controls, make_form, new_password_schema
from .navigation import see_other
from .refusals import link_problem_page
from .rendering import form_html, render_page


@dataclass(frozen=True)
class PasswordLink:
    route: str
    formid: str
    button: str
    template: str
    check: Callable[[Context, str], User]  # the link's account, or LinkError
    apply: Callable[[Context, str, str], User]  # set the password, spend the link
    notice: str  # the login page's ?notice= afterwards
    after: Callable[[Request, User], None] = lambda request, user: None

    def _form(self, request: Request, token: str) -> deform.Form:
        action = request.route_path(self.route, token=token)
        return make_form(new_password_schema(request), self.button, self.formid, action)

    def _page(
        self,
        request: Request,
        username: str,
        rendered: str,
        status: int = 200,
        error: str = "",
        strength: int | None = None,
    ) -> Response:
        return render_page(
            request,
            self.template,
            status=status,
            username=username,
            form=form_html(rendered),
            error=error,
            strength=strength,
        )

    def show(self, request: Request) -> Response:
        token = request.matchdict["token"]
        try:
            user = self.check(request.camauth, token)
        except LinkError as problem:
            return link_problem_page(request, problem, self.route)
        return self._page(request, user.username, self._form(request, token).render())

    def submit(self, request: Request) -> Response:
        token = request.matchdict["token"]
        ctx = request.camauth
        try:
            user = self.check(ctx, token)
        except LinkError as problem:
            return link_problem_page(request, problem, self.route)
        form = self._form(request, token)
        try:
            values = form.validate(form_controls(request))
        except deform.ValidationFailure as failure:
            return self._page(request, user.username, failure.render(), 400)
        try:
            self.apply(ctx, token, values["new_password"])
        except LinkError as problem:
            return link_problem_page(request, problem, self.route)
        except PasswordPolicyError as refused:
            return self._page(
                request, user.username, form.render(), 400, str(refused), refused.score
            )
        self.after(request, user)
        return see_other(request.route_path("camauth.login", _query={"notice": self.notice}))
