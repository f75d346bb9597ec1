from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.models import RequestKind
from app.models.requests import KIND_LABELS


class NewRequestForm(FlaskForm):
    kind = SelectField("What do you want us to do?",
                       choices=[SelectChoice(k.value, KIND_LABELS[k]) for k in RequestKind],
                       validators=[DataRequired()])
    # Choices from app.services.rights.objections.choices(), set by the view.
    processing = RadioField("If you object: what do you object to?", choices=[], validators=[Optional()],
                            validate_choice=False)
    details = TextAreaField("Anything we should know (optional)", validators=[Length(max=5000)])

    def validate_processing(self, field):
        if self.kind.data == RequestKind.OBJECTION.value:
            if not field.data:
                raise ValidationError("Choose what you object to.")
            if field.data not in [value for value, _ in field.choices]:
                raise ValidationError("Choose what you object to from the list.")
