"""Forms of the DPO's DPA pages; they only parse (rules: app.services.agreements.dpa)."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectChoice, SelectField, StringField

from app.models.dpa import DpaStatus


class CountersignForm(FlaskForm):
    name = StringField("Your full name")
    title = StringField("Your title", default="Data Protection Officer")
    authority = BooleanField("I have authority to sign this Data Processing Addendum for us, the processor")
    content_sha256 = HiddenField()


class DpaFilterForm(FlaskForm):
    """The list's filters: a GET form, so no CSRF token."""
    class Meta:
        csrf = False

    status = SelectField("Status", validate_choice=False, choices=[SelectChoice("", "Any status")] + [
        SelectChoice(s.value, s.label) for s in DpaStatus])
    q = StringField("Company name or document id")
