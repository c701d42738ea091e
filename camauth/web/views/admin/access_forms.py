"""The forms of the console's roles and groups pages: colander schemas bound to the
request (its CSRF token), and deform forms around them.

Fields a person types (a name, a username) are deform forms that show their
errors at the field. The one-click buttons (grant or revoke one permission,
remove one member) are small forms the templates write; their hidden field is
checked here all the same, since anyone can post anything.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import colander
import deform
from pyramid.request import Request

from ....models.access import DESCRIPTION_LENGTH, NAME_LENGTH
from ....services import accounts, roles
from ....services.paging import MAX_ID
from ....services.permissions import CAMAUTH_PERMISSIONS, permission_problem
from ...forms import CSRFSchema, make_form, stripped


def _name_validator(kind: str) -> colander.Validator:
    def validate(node: colander.SchemaNode, value: str) -> None:
        problem = roles.name_problem(kind, roles.normalized_name(value))
        if problem is not None:
            raise colander.Invalid(node, problem)

    return validate


def _plain_text(node: colander.SchemaNode, value: str) -> None:
    if len(value) > DESCRIPTION_LENGTH:
        raise colander.Invalid(node, f"Use at most {DESCRIPTION_LENGTH} characters.")
    # PostgreSQL refuses NUL in text; no control character belongs in a description
    if any(unicodedata.category(character) == "Cc" for character in value):
        raise colander.Invalid(node, "Use no control characters.")


def name_node(kind: str, title: str = "Name") -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name="name",
        title=title,
        preparer=stripped,
        missing_msg=f"A {kind} needs a name.",
        validator=_name_validator(kind),
        description="Lower-case letters, digits, '.', '-' and '_'.",
        widget=deform.widget.TextInputWidget(
            attributes={"autocomplete": "off", "spellcheck": "false", "maxlength": NAME_LENGTH}
        ),
    )


def _description_node() -> colander.SchemaNode:
    return colander.SchemaNode(
        colander.String(),
        name="description",
        title="Description",
        missing="",
        preparer=stripped,
        validator=_plain_text,
        widget=deform.widget.TextInputWidget(
            attributes={"autocomplete": "off", "maxlength": DESCRIPTION_LENGTH}
        ),
    )


def offered_permissions(known: Mapping[str, str]) -> dict[str, str]:
    """The permissions a role can be given here: the host application's. camauth's
    own two are not held through roles (``camauth.admin`` is ``is_admin``)."""
    return {name: text for name, text in sorted(known.items()) if name not in CAMAUTH_PERMISSIONS}


def _only(choices: list[str]) -> colander.Validator:
    def validate(node: colander.SchemaNode, value: Any) -> None:
        if not set(value) <= set(choices):
            raise colander.Invalid(node, "Choose permissions from the list.")

    return validate


def new_role_form(request: Request, action: str, known: Mapping[str, str]) -> deform.Form:
    offered = offered_permissions(known)
    schema = CSRFSchema()
    schema.add(name_node("role"))
    schema.add(_description_node())
    if not offered:  # the host application declares none (yet)
        return make_form(schema.bind(request=request), "Create role", "new-role", action)
    schema.add(
        colander.SchemaNode(
            colander.Set(),
            name="permissions",
            title="Permissions",
            missing=frozenset(),
            validator=_only(list(offered)),
            widget=deform.widget.CheckboxChoiceWidget(
                values=[(name, f"{name} — {text}") for name, text in offered.items()]
            ),
        )
    )
    return make_form(schema.bind(request=request), "Create role", "new-role", action)


def new_group_form(request: Request, action: str) -> deform.Form:
    schema = CSRFSchema()
    schema.add(name_node("group"))
    schema.add(_description_node())
    return make_form(schema.bind(request=request), "Create group", "new-group", action)


def _unfocused(form: deform.Form) -> deform.Form:
    """One of several forms on a page: none takes the focus (and scrolls to it)."""
    for field in form.children:
        field.autofocus = None
    return form


def rename_form(request: Request, kind: str, action: str) -> deform.Form:
    schema = CSRFSchema()
    schema.add(name_node(kind, "New name"))
    return _unfocused(make_form(schema.bind(request=request), "Rename", f"rename-{kind}", action))


@colander.deferred
def _existing_username(node: colander.SchemaNode, kw: dict[str, Any]) -> colander.Validator:
    ctx = kw["request"].camauth

    def validate(node: colander.SchemaNode, value: str) -> None:
        if accounts.username_problem(value) or accounts.find_user(ctx, value) is None:
            raise colander.Invalid(node, "There is no user with this username.")

    return validate


def username_form(
    request: Request, action: str, formid: str, button: str, *, group_admin_box: bool = False
) -> deform.Form:
    """A username to look up (an unknown one is an error at the field)."""
    schema = CSRFSchema()
    schema.add(
        colander.SchemaNode(
            colander.String(),
            name="username",
            title="Username",
            preparer=stripped,
            missing_msg="Enter a username.",
            validator=_existing_username,
            # another person's username: the browser must not offer the viewer's own
            widget=deform.widget.TextInputWidget(
                attributes={"autocomplete": "off", "spellcheck": "false"}
            ),
        )
    )
    if group_admin_box:
        schema.add(
            colander.SchemaNode(
                colander.Boolean(),
                name="group_admin",
                title="",
                label="Group administrator (may add and remove this group's members)",
                default=False,
                missing=False,
                widget=deform.widget.CheckboxWidget(),
            )
        )
    return _unfocused(make_form(schema.bind(request=request), button, formid, action))


def choice_form(
    request: Request, action: str, formid: str, field: str, choices: Sequence[str], button: str
) -> deform.Form:
    """One of ``choices`` (role or group names) from a list."""
    schema = CSRFSchema()
    schema.add(
        colander.SchemaNode(
            colander.String(),
            name=field,
            title=field.capitalize(),
            missing_msg=f"Choose a {field}.",
            validator=colander.OneOf(list(choices), msg_err=f"Choose a {field} from the list."),
            widget=deform.widget.SelectWidget(
                values=[("", f"Choose a {field}…")] + [(name, name) for name in choices]
            ),
        )
    )
    return _unfocused(make_form(schema.bind(request=request), button, formid, action))


def _permission_validator(node: colander.SchemaNode, value: str) -> None:
    problem = permission_problem(value)
    if problem is not None:
        raise colander.Invalid(node, "That is not a permission.")


def _hidden(name: str, kind: colander.SchemaType, validator: colander.Validator) -> Any:
    return colander.SchemaNode(
        kind, name=name, validator=validator, widget=deform.widget.HiddenWidget()
    )


def button_form(
    request: Request, action: str, field: str, choices: Sequence[str] | None = None
) -> deform.Form:
    """What one of the page's buttons posts: the CSRF token and ``field``, hidden:
    ``permission`` (one of ``choices`` if given), ``role``, ``group`` (names) or
    ``user_id``."""
    schema = CSRFSchema()
    if field == "permission":
        validator = _permission_validator
        if choices is not None:
            validator = colander.All(validator, colander.OneOf(list(choices)))
        schema.add(_hidden(field, colander.String(), validator))
    elif field == "user_id":
        schema.add(_hidden(field, colander.Int(), colander.Range(min=1, max=MAX_ID)))
    else:
        schema.add(_hidden(field, colander.String(), _name_validator(field)))
    return make_form(schema.bind(request=request), "Submit", f"button-{field}", action)
