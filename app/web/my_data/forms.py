import zoneinfo

from flask_wtf import FlaskForm
from wtforms import DateField, SelectChoice, SelectField, StringField, ValidationError
from wtforms.validators import Length, Optional, Regexp

from app.services.consent.age import check_birth_date
from app.services.platform.errors import ServiceError

TIME_ZONES = [SelectChoice(tz) for tz in sorted(zoneinfo.available_timezones())]
LANGUAGES = [SelectChoice(code, label) for code, label in (
    ("en", "English"), ("de", "Deutsch"), ("fr", "Français"), ("es", "Español"), ("nl", "Nederlands"),
    ("it", "Italiano"), ("pt", "Português"))]


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=200)])
    phone = StringField("Phone", validators=[Optional(), Length(max=40), Regexp(
        r"^\+?[0-9 ()./-]{5,40}$", message="Use digits, spaces and + ( ) - only, like +44 20 7946 0000.")])
    company = StringField("Company", validators=[Length(max=200)])
    country = StringField("Country (two-letter code)", validators=[Optional(), Regexp(
        r"^[A-Za-z]{2}$", message="Use the two-letter code, like GB, DE or US.")])
    time_zone = SelectField("Time zone", choices=TIME_ZONES)
    language = SelectField("Language", choices=LANGUAGES)
    birth_date = DateField("Date of birth", validators=[Optional()])

    def validate_birth_date(self, field):
        if field.data:
            try:
                check_birth_date(field.data)
            except ServiceError as e:
                raise ValidationError(f"The {e.message}.")
