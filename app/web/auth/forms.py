from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length, Regexp


class PasswordLoginForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired("Enter your email address."),
                                                    Email("Enter an email address like name@example.com.")])
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])


class SignInLinkForm(FlaskForm):
    email = EmailField("Email address", validators=[DataRequired("Enter your email address."),
                                                    Email("Enter an email address like name@example.com."),
                                                    Length(max=254)])


class TotpForm(FlaskForm):
    code = StringField("6-digit code", validators=[
        DataRequired("Enter the code from your authenticator app."),
        Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message="The code is 6 digits, like 123456.")])


class EmptyForm(FlaskForm):
    """A CSRF-protected button."""
