"""Forms of the sub-processor register. The rules (what a location needs, which
categories exist) live in app.services.agreements.subprocessors, which reports every problem
per field; these forms only parse, so one submission shows every error at once."""
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.models.subprocessors import MECHANISMS


class SubprocessorForm(FlaskForm):
    name = StringField("Company name")
    purpose = TextAreaField("What it does with the data")
    data_categories = SelectMultipleField("Personal data it receives", choices=[], validate_choice=False,
                                          widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    country = SelectField("Where it processes the data", choices=[], validate_choice=False)
    transfer_mechanism = RadioField("Transfer mechanism", validate_choice=False,
                                    choices=[SelectChoice(key, label) for key, label in MECHANISMS.items()])
    uk_addendum = BooleanField("The UK Addendum to the SCCs applies (UK personal data goes there)")
    since = DateField("Processing data since", validators=[Optional()])
    reason = TextAreaField("Reason for this change (kept in the history)")


class RemoveSubprocessorForm(FlaskForm):
    removal_reason = TextAreaField("Reason for removing it (kept in the history)")


class AsOfForm(FlaskForm):
    """The register's date filter: a GET form, so no CSRF token."""
    class Meta:
        csrf = False

    as_of = DateField("Show the register as of", validators=[Optional()])
