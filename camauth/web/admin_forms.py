"""colander schemas for the administrator console's forms."""

from __future__ import annotations

from typing import Any

import colander
import deform
from pyramid.request import Request

from ..models import TotpAlgorithm
from ..services import totp
from .context import app_settings
from .forms import CSRFSchema, code_node, email_node, stripped, username_node

MAX_NAME = 200


def _optional_email() -> colander.SchemaNode:
    node = email_node()
    node.missing = ""
    node.title = "Email"
    node.description = "Optional; password recovery mails go here."
    # another person's address: the browser must not offer the administrator's own
    node.widget = deform.widget.TextInputWidget(
        attributes={"type": "email", "autocomplete": "off", "spellcheck": "false"}
    )
    return node


def _full_name() -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name="full_name",
        title="Full name",
        missing="",
        preparer=stripped,
        validator=colander.Length(max=MAX_NAME, max_err=f"Use at most {MAX_NAME} characters."),
        widget=deform.widget.TextInputWidget(attributes={"autocomplete": "off"}),
    )


def _temporary_password(request: Request) -> colander.SchemaNode:
    settings = app_settings(request.registry)
    maximum = settings.password_max_length
    return colander.SchemaNode(
        colander.String(),
        name="temporary_password",
        title="Temporary password",
        description="Leave empty to generate one; it is shown once, on the next page.",
        missing="",
        validator=colander.Length(max=maximum, max_err=f"Use at most {maximum} characters."),
        widget=deform.widget.PasswordWidget(attributes={"autocomplete": "new-password"}),
    )


def _checkbox(name: str, title: str, default: bool, description: str = "") -> colander.SchemaNode:
    # deform shows the checkbox's own label; a title would repeat it above the box
    return colander.SchemaNode(
        colander.Boolean(),
        name=name,
        title="",
        label=title,
        description=description,
        default=default,
        missing=False,
        widget=deform.widget.CheckboxWidget(),
    )


def _force_change() -> colander.SchemaNode:
    return _checkbox(
        "force_change",
        "Force a password change at next login",
        True,
        "The user then chooses a password nobody else knows.",
    )


def _send_link(request: Request) -> colander.SchemaNode:
    hours = app_settings(request.registry).password_invite_hours
    return _checkbox(
        "send_link",
        "Mail a link to choose a password instead",
        False,
        f"Needs the account's email address; the link works once, for {hours} hours. "
        "No temporary password is set or shown.",
    )


def new_user_schema(request: Request) -> colander.SchemaNode:
    schema = CSRFSchema()
    schema.add(username_node())
    schema.add(_optional_email())
    schema.add(_full_name())
    schema.add(_checkbox("is_admin", "Administrator", False))
    schema.add(_send_link(request))
    schema.add(_temporary_password(request))
    schema.add(_force_change())
    return schema.bind(request=request)


def edit_user_schema(request: Request) -> colander.SchemaNode:
    schema = CSRFSchema()
    schema.add(_optional_email())
    schema.add(_full_name())
    return schema.bind(request=request)


def reset_password_schema(request: Request) -> colander.SchemaNode:
    schema = CSRFSchema()
    schema.add(_send_link(request))
    schema.add(_temporary_password(request))
    schema.add(_force_change())
    schema.add(once_node())
    return schema.bind(request=request)


def once_node() -> colander.SchemaNode:
    """The one-time action token (web/once.py): a resubmitted form does nothing."""
    return colander.SchemaNode(
        colander.String(), name="once", widget=deform.widget.HiddenWidget(), missing=""
    )


MAX_SECRET = 200  # characters: a 512-bit secret in hex is 128


def hardware_token_schema(request: Request, *, replacing: bool) -> colander.SchemaNode:
    schema = CSRFSchema()
    schema.add(
        colander.SchemaNode(
            colander.String(),
            name="secret",
            title="Secret",
            description="As printed on the token's sheet: base32, or hexadecimal (tick below).",
            preparer=stripped,
            validator=colander.Length(
                max=MAX_SECRET, max_err=f"Use at most {MAX_SECRET} characters."
            ),
            # a secret is never sent back into a page, not even after a refusal
            widget=deform.widget.PasswordWidget(
                redisplay=False, attributes={"autocomplete": "off", "spellcheck": "false"}
            ),
        )
    )
    schema.add(_checkbox("hexadecimal", "The secret is hexadecimal", False))
    code = code_node()
    code.title = "Code the token shows now"
    schema.add(code)
    schema.add(_choice("period", "Time step (seconds)", totp.PERIODS))
    schema.add(_choice("digits", "Digits", totp.DIGITS))
    algorithms = tuple(algorithm.value for algorithm in TotpAlgorithm)
    schema.add(_choice("algorithm", "Algorithm", algorithms))
    if replacing:
        schema.add(
            _checkbox(
                "replace",
                "Replace the user's current two-factor method",
                False,
                "Their recovery codes stop working too (the old device may be lost).",
            )
        )
    schema.add(once_node())
    return schema.bind(request=request)


def _choice(name: str, title: str, values: tuple[Any, ...]) -> colander.SchemaNode:
    options = [(str(value), str(value)) for value in values]
    return colander.SchemaNode(
        colander.String(),
        name=name,
        title=title,
        default=str(values[0]),
        validator=colander.OneOf([value for value, _ in options]),
        widget=deform.widget.SelectWidget(values=options),
    )
