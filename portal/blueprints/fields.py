"""Form fields shared by the areas: choices whose refusal of an unknown value is in Japanese (WTForms'
own says "Not a valid choice"), and the rule that a box is ticked."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import Field, RadioField, SelectMultipleField
from wtforms.validators import StopValidation
from wtforms.widgets import CheckboxInput, ListWidget


class RadioChoiceField(RadioField):
    """Radio buttons."""

    def pre_validate(self, form: FlaskForm) -> None:
        if self.data not in {choice.value for choice in self.choices or []}:
            raise StopValidation("一覧から選んでください")


class _GroupBox(CheckboxInput):
    # A `required` attribute on every box would make the browser demand all of them; "at least one"
    # (Ticked) is checked on the server.
    validation_attrs = ["disabled"]


class CheckboxesField(SelectMultipleField):
    """Several checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = _GroupBox()

    def pre_validate(self, form: FlaskForm) -> None:
        known = {choice.value for choice in self.choices or []}
        if any(value not in known for value in self.data or []):
            raise StopValidation("一覧にない値が選ばれています")


class Ticked:
    """A checkbox that must be ticked, or a group of which at least one box must be; stops the chain."""

    field_flags = {"required": True}

    def __init__(self, message: str):
        self.message = message

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if not field.data:
            raise StopValidation(self.message)
