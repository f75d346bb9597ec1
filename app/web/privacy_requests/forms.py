from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.models import RequestKind
from app.models.requests import KIND_LABELS


class NewRequestForm(FlaskForm):
    kind = SelectField("What do you want us to do?",
                       choices=[SelectChoice(k.value, KIND_LABELS[k]) for k in RequestKind],
                       validators=[DataRequired()])
    details = TextAreaField("Anything we should know (optional)", validators=[Length(max=5000)])
