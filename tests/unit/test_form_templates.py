"""camauth's overrides of deform's templates, rendered directly: an error of the
form as a whole (no field's) is shown once, as an alert, without deform's banner."""

from __future__ import annotations

import colander
import deform
import pytest
from bs4 import BeautifulSoup

from camauth.web.forms import make_form


def _whole_form_wrong(node: colander.SchemaNode, value: object) -> None:
    raise colander.Invalid(node, "These two do not go together.")


def schema() -> colander.SchemaNode:
    mapping = colander.MappingSchema(validator=_whole_form_wrong)
    mapping.add(colander.SchemaNode(colander.String(), name="first", title="First"))
    return mapping


def test_an_error_of_the_whole_form_is_one_alert_and_no_field_is_marked():
    form = make_form(schema(), "Go", "whole")
    with pytest.raises(deform.ValidationFailure) as failure:
        form.validate([("first", "x")])
    page = BeautifulSoup(failure.value.render(), "html.parser")
    [alert] = page.select('[role="alert"]')
    assert alert.get_text(strip=True) == "These two do not go together."
    assert "There was a problem" not in page.get_text()
    assert not page.select_one('[name="first"]').has_attr("aria-invalid")


def test_a_form_without_errors_has_no_alert():
    page = BeautifulSoup(make_form(schema(), "Go", "whole").render(), "html.parser")
    assert page.select('[role="alert"]') == []
    assert page.select("script") == []  # the overrides carry no script (CSP)
    # the templates' own notes are Chameleon comments (<!--! ... -->): never sent
    assert "-->" not in str(page) and "deform's" not in page.get_text()
