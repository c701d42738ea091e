"""Forms of the account centre: the person's profile and a new email address."""

from __future__ import annotations

import colander
import deform
from pyramid.request import Request

from ..time_zones import zone_names
from .context import app_settings
from .forms import CSRFSchema, email_node, stripped


def _time_zone_choices(site_zone: str) -> list[tuple[str, str]]:
    return [("", f"The site's time zone ({site_zone})"), *((name, name) for name in zone_names())]


def profile_schema(request: Request) -> colander.SchemaNode:
    schema = CSRFSchema()
    schema.add(
        colander.SchemaNode(
            colander.String(),
            name="full_name",
            title="Full name",
            missing="",
            preparer=stripped,
            widget=deform.widget.TextInputWidget(attributes={"autocomplete": "name"}),
        )
    )
    choices = _time_zone_choices(app_settings(request.registry).timezone)
    schema.add(
        colander.SchemaNode(
            colander.String(),
            name="time_zone",
            title="Time zone",
            description="Times on these pages are shown in this zone (UTC when you point at one).",
            missing="",
            validator=colander.OneOf([value for value, _ in choices]),
            widget=deform.widget.SelectWidget(values=choices),
        )
    )
    return schema.bind(request=request)


def email_change_schema(request: Request) -> colander.SchemaNode:
    schema = CSRFSchema()
    new_address = email_node()
    new_address.title = "New email address"
    new_address.description = "We mail a link to it; the change is made when you follow it."
    schema.add(new_address)
    return schema.bind(request=request)
