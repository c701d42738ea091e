"""colander schemas and deform helpers for camauth's pages.

Every form carries the CSRF token in a hidden ``csrf_token`` field; Pyramid's
``require_csrf`` checks it before any POST view runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

import colander
import deform
from pyramid.request import Request

from ..services.accounts import email_problem, username_problem
from ..services.password_policy import rules as password_rules
from ..settings import Settings
from .context import app_settings
from .navigation import safe_next

MAX_FIELD = 1024


@colander.deferred
def _csrf_default(node: colander.SchemaNode, kw: dict[str, Any]) -> str:
    token: str = kw["request"].session.get_csrf_token()
    return token


def stripped(value: Any) -> Any:
    """A colander preparer: text without surrounding blanks."""
    return value.strip() if isinstance(value, str) else value


def _username_validator(node: colander.SchemaNode, value: str) -> None:
    problem = username_problem(value)
    if problem:
        raise colander.Invalid(node, problem)


def _email_validator(node: colander.SchemaNode, value: str) -> None:
    problem = email_problem(value)
    if problem:
        raise colander.Invalid(node, problem)


def _max_length(maximum: int) -> colander.Length:
    return colander.Length(max=maximum, max_err=f"Use at most {maximum} characters.")


class CSRFSchema(colander.MappingSchema):
    csrf_token = colander.SchemaNode(
        colander.String(),
        widget=deform.widget.HiddenWidget(),
        default=_csrf_default,
        missing="",
    )


def username_node(title: str = "Username") -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name="username",
        title=title,
        preparer=stripped,
        validator=_username_validator,
        widget=deform.widget.TextInputWidget(attributes={"autocomplete": "username"}),
    )


def password_node(
    name: str, title: str, autocomplete: str, settings: Settings
) -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name=name,
        title=title,
        validator=_max_length(settings.password_max_length),
        widget=deform.widget.PasswordWidget(attributes={"autocomplete": autocomplete}),
    )


def _safe_next_or_empty(value: Any) -> Any:
    return (safe_next(value) or "") if isinstance(value, str) else value


def next_node() -> colander.SchemaNode:
    """Where to go afterwards. Anything but a local path is dropped, not refused: the
    field is hidden, so an error on it would be one the person cannot see or fix."""
    return colander.SchemaNode(
        colander.String(),
        name="next",
        widget=deform.widget.HiddenWidget(),
        missing="",
        preparer=_safe_next_or_empty,
    )


def login_schema(request: Request, *, bound: bool = True) -> colander.SchemaNode:
    """The login form's schema; ``bound=False`` leaves the CSRF field's default
    unresolved, for checking a POST (see ``views/login.py``)."""
    settings = app_settings(request.registry)
    schema = CSRFSchema()
    schema.add(next_node())
    schema.add(username_node())
    schema.add(password_node("password", "Password", "current-password", settings))
    return schema.bind(request=request) if bound else schema


def _new_passwords_match(node: colander.SchemaNode, value: dict[str, Any]) -> None:
    if value["new_password"] != value["confirm_password"]:
        error = colander.Invalid(node)
        error["confirm_password"] = "The two new passwords do not match."
        raise error


def _add_new_password_pair(schema: colander.SchemaNode, settings: Settings) -> None:
    new_password = password_node("new_password", "New password", "new-password", settings)
    new_password.description = password_rules(settings)  # shown before the first try
    schema.add(new_password)
    schema.add(password_node("confirm_password", "Confirm new password", "new-password", settings))


@colander.deferred
def _own_username(node: colander.SchemaNode, kw: dict[str, Any]) -> str:
    user = kw["request"].user
    return str(user.username) if user is not None else ""


def account_username_node() -> colander.SchemaNode:
    """The account's username, not to be typed: a password manager saving the new
    password reads which account it belongs to from it. Ignored when posted."""
    return colander.SchemaNode(
        colander.String(),
        name="username",
        default=_own_username,
        missing="",
        # a text input (a type=hidden one is ignored by password managers), not shown:
        # deform leaves a widget marked hidden without label or wrapper
        widget=deform.widget.TextInputWidget(
            hidden=True,
            attributes={"autocomplete": "username", "readonly": "readonly", "hidden": "hidden"},
        ),
    )


def change_password_schema(request: Request) -> colander.SchemaNode:
    settings = app_settings(request.registry)
    schema = CSRFSchema(validator=_new_passwords_match)
    schema.add(account_username_node())
    schema.add(password_node("current_password", "Current password", "current-password", settings))
    _add_new_password_pair(schema, settings)
    schema.add(next_node())
    return schema.bind(request=request)


def new_password_schema(request: Request) -> colander.SchemaNode:
    """Choose a new password through a mailed reset link."""
    schema = CSRFSchema(validator=_new_passwords_match)
    _add_new_password_pair(schema, app_settings(request.registry))
    return schema.bind(request=request)


def forgot_password_schema(request: Request) -> colander.SchemaNode:
    schema = CSRFSchema()
    schema.add(
        colander.SchemaNode(
            colander.String(),
            name="login",
            title="Username or email",
            preparer=stripped,
            validator=_max_length(254),
            widget=deform.widget.TextInputWidget(attributes={"autocomplete": "username"}),
        )
    )
    return schema.bind(request=request)


def email_node() -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name="email",
        title="Email",
        preparer=stripped,
        validator=_email_validator,
        widget=deform.widget.TextInputWidget(
            attributes={"type": "email", "autocomplete": "email", "spellcheck": "false"}
        ),
    )


def register_schema(request: Request) -> colander.SchemaNode:
    settings = app_settings(request.registry)
    schema = CSRFSchema(validator=_new_passwords_match)
    schema.add(username_node())
    schema.add(email_node())
    _add_new_password_pair(schema, settings)
    return schema.bind(request=request)


MAX_CODE = 64  # far longer than any code, short enough to refuse garbage early


def code_node(name: str = "code", title: str = "Authentication code") -> colander.SchemaNode:
    """A one-time code from a device, or a recovery code; checked by the service."""
    attributes = {"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"}
    if name == "code":
        attributes["inputmode"] = "numeric"
    return colander.SchemaNode(
        colander.String(),
        name=name,
        title=title,
        preparer=stripped,
        validator=_max_length(MAX_CODE),
        widget=deform.widget.TextInputWidget(attributes=attributes),
    )


def second_step_schema(request: Request, *, recovery: bool) -> colander.SchemaNode:
    """The login's second step: a code from the device, or a recovery code."""
    schema = CSRFSchema()
    schema.add(code_node("recovery_code", "Recovery code") if recovery else code_node())
    return schema.bind(request=request)


def enable_two_factor_schema(request: Request) -> colander.SchemaNode:
    schema = CSRFSchema()
    schema.add(code_node())
    schema.add(next_node())
    return schema.bind(request=request)


def reauthenticate_schema(request: Request, *, with_code: bool) -> colander.SchemaNode:
    """The password again, and a code when two-factor is set up (also what turning
    two-factor off asks for)."""
    settings = app_settings(request.registry)
    schema = CSRFSchema()
    schema.add(password_node("password", "Password", "current-password", settings))
    if with_code:
        node = code_node()
        node.description = "From your authenticator app or token, or one of your recovery codes."
        node.widget.attributes.pop("inputmode", None)
        schema.add(node)
    schema.add(next_node())
    return schema.bind(request=request)


def confirm_schema(request: Request) -> colander.SchemaNode:
    """A form that is only a button (agree to the terms), remembering where to go next."""
    schema = CSRFSchema()
    schema.add(next_node())
    return schema.bind(request=request)


class FirstRenderSerialised:
    """deform's template renderer, with each template's first render one at a time.

    Chameleon compiles a template on its first render, and CPython 3.11's
    ``compile()`` can fail with "SystemError: AST constructor recursion depth
    mismatch" when threads compile at once: a burst of /login requests to a
    freshly started waitress gave 500s (found by the concurrency test). Once a
    template has rendered, renders run in parallel with no lock taken.
    """

    def __init__(self, renderer: Callable[..., str]) -> None:
        self._renderer = renderer
        self._lock = threading.RLock()  # re-entrant: templates render their children
        self._ready: set[str] = set()

    def __call__(self, template_name: str, **kw: Any) -> str:
        if template_name in self._ready:
            return self._renderer(template_name, **kw)
        with self._lock:
            html = self._renderer(template_name, **kw)
            self._ready.add(template_name)
            return html


# camauth's few overrides of deform's templates first (errors at the field with
# aria-invalid and aria-describedby, no generic banner), deform's own for the rest
_OVERRIDES = Path(__file__).resolve().parent.parent / "deform_templates"
_RENDERER = FirstRenderSerialised(
    deform.ZPTRendererFactory((str(_OVERRIDES), str(files("deform") / "templates")))
)


# the style of a button whose action cannot be taken back (ends sessions, removes
# a credential, deletes): the same red everywhere, so it is never pressed by habit
DESTRUCTIVE = "btn-danger"


def make_form(
    schema: colander.SchemaNode,
    button: str,
    formid: str,
    action: str = "",
    *,
    button_class: str = "btn-primary",
) -> deform.Form:
    return deform.Form(
        schema,
        buttons=(deform.Button("submit", button, css_class=button_class),),
        formid=formid,
        action=action,
        renderer=_RENDERER,
    )


def form_controls(request: Request) -> Sequence[tuple[str, str]]:
    """The POST fields as deform wants them (a list of pairs, order kept)."""
    return list(request.POST.items())
