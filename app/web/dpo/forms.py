from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from app.services.rights.deadlines import JURISDICTIONS
from app.web.inputs import database_int


class DenyForm(FlaskForm):
    reason = TextAreaField("Reason the person will read (with its legal ground)", validators=[
        DataRequired("Give the reason for the refusal."),
        Length(min=10, max=2000, message="Write the reason out, with its legal ground: the person will read it.")])
    # Shown for an objection the DPO weighs, where the service requires it (Art. 21(1)).
    grounds = TextAreaField("Compelling legitimate grounds that override the person's interests (recorded, and "
                            "sent to the person)", validators=[Optional(), Length(max=4000)])


class ExtendForm(FlaskForm):
    reason = TextAreaField("Why more time is needed (the person will read it)", validators=[
        DataRequired("Give the reason for the extension."),
        Length(min=10, max=2000, message="Write the reason out: the person will read it.")])


class AssignForm(FlaskForm):
    assignee = SelectField("Assign to", coerce=database_int)


class ApproveForm(FlaskForm):
    """Approve; for an erasure, optionally keep some categories under a legal hold."""
    keep = SelectMultipleField("Keep these under a legal hold (approve in part)", choices=[],
                               widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    hold_reason = TextAreaField("Legal ground for keeping them (the person will read it)",
                                validators=[Optional(), Length(max=2000)])
    hold_until = DateField("Kept until (at the latest)", validators=[Optional()])


class NoteForm(FlaskForm):
    body = TextAreaField("Internal note (the privacy team only)", validators=[
        DataRequired("Write the note first."), Length(max=4000, message="Keep a note under 4,000 characters.")])


class JurisdictionForm(FlaskForm):
    jurisdiction = SelectField("Jurisdiction", choices=list(JURISDICTIONS))


class BulkForm(FlaskForm):
    """The queue's selected rows: assign them, or approve the routine ones."""
    ids = SelectMultipleField(coerce=database_int, choices=[], validate_choice=False)
    assignee = SelectField("Assign selected to", coerce=database_int, choices=[], validate_choice=False)
    action = SelectField(choices=["assign", "approve"])


class RetentionPolicyForm(FlaskForm):
    days = IntegerField("Keep for (days)", validators=[
        InputRequired("Say how many days rows are kept."),
        NumberRange(max=3650, message="Keep rows at most 3,650 days.")])
    action = RadioField("Then", choices=[
        SelectChoice("delete", "Delete the rows"),
        SelectChoice("anonymise", "Anonymise: cut the link to the person, keep the rest for statistics")])
    blank_fields = SelectMultipleField("Text fields anonymisation also blanks", choices=[],
                                       widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    note = TextAreaField("Legal basis or reason", validators=[Length(max=2000)])
    enabled = BooleanField("Enforced by the nightly sweep")


class RetentionRunForm(FlaskForm):
    category = HiddenField()


class LiftRestrictionForm(FlaskForm):
    reason = TextAreaField("Why the restriction ends (the person will read it)", validators=[
        DataRequired("Say why the restriction is lifted."),
        Length(min=10, max=2000, message="Write the reason out: the person will read it.")])
