from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, RadioField, SelectChoice, TextAreaField
from wtforms.validators import DataRequired, Email, InputRequired, Length

EMAIL = [Email("Enter an email address like name@example.com."), Length(max=254)]


class ReportChildForm(FlaskForm):
    parent_email = EmailField("Your email address", validators=[DataRequired("Enter your email address."), *EMAIL])
    relationship = RadioField("You are the child's", choices=[SelectChoice("parent", "Parent"),
                                                                 SelectChoice("guardian", "Legal guardian")],
                              validators=[InputRequired("Say whether you are the child's parent or guardian.")])
    child_email = EmailField("The child's email address", validators=[
        DataRequired("Enter the email address the child used with us."), *EMAIL])
    details = TextAreaField("Anything that helps us find the child's data (optional)", validators=[Length(max=2000)])


class AskParentForm(FlaskForm):
    parent_email = EmailField("Your parent's or guardian's email address", validators=[
        DataRequired("Enter your parent's or guardian's email address."), *EMAIL])


class BirthDateForm(FlaskForm):
    birth_date = DateField("Your date of birth", validators=[
        InputRequired("Enter your date of birth, like 2010-04-30.")])
