"""The form for a newsletter issue (beside forms.py, which another part owns)."""
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class IssueForm(FlaskForm):
    subject = StringField("Subject", validators=[DataRequired("Give the issue a subject."), Length(max=200)])
    body = TextAreaField("Text (plain text; links starting with https:// become clickable)", validators=[
        DataRequired("Write the text of the issue."), Length(max=100_000)])
