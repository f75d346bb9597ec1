from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.validators import DataRequired, Length


class DenyForm(FlaskForm):
    reason = TextAreaField("Reason the person will read (with its legal ground)", validators=[
        DataRequired("Give the reason for the refusal."),
        Length(min=10, max=2000, message="Write the reason out, with its legal ground: the person will read it.")])


class ExtendForm(FlaskForm):
    reason = TextAreaField("Why more time is needed (the person will read it)", validators=[
        DataRequired("Give the reason for the extension."),
        Length(min=10, max=2000, message="Write the reason out: the person will read it.")])


class AssignForm(FlaskForm):
    assignee = SelectField("Assign to", coerce=int)
