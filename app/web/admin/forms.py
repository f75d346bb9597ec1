from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class PurposeForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Give the purpose a name."), Length(max=120)])
    description = TextAreaField("Notice shown to people", validators=[
        DataRequired("Write the plain-language notice people agree to."), Length(max=2000)])
    default_granted = BooleanField("On unless the person objects (legitimate interest only)")
    material = BooleanField("This is a material change: publish a new notice version and ask people who agreed to confirm again")


class ApiKeyForm(FlaskForm):
    name = StringField("Which system will use the key?", validators=[
        DataRequired("Name the system, e.g. “Newsletter sender”."), Length(max=100)])
