from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length


class NewsletterForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Give the newsletter a name."), Length(max=120)])
    description = TextAreaField("What subscribers will receive (the notice they consent to)", validators=[
        DataRequired("Describe what people will receive: it is what they consent to."),
        Length(min=20, max=2000, message="Describe it in 20 to 2,000 characters.")])
    topic = StringField("Topic", validators=[Length(max=80)])
    double_opt_in = BooleanField("Double opt-in: people confirm from an emailed link before anything is sent",
                                 default=True)
    material = BooleanField("This is a material change: subscribers who agreed to the old wording must confirm "
                            "again")


class AddSubscriberForm(FlaskForm):
    email = StringField("Email address", validators=[DataRequired("Enter the person's email address."),
                                                     Length(max=254)])
    evidence = TextAreaField("How they asked to be subscribed (kept as evidence)", validators=[
        DataRequired("Say how and when the person asked, e.g. “signed up at the trade fair stand, 3 May”."),
        Length(max=2000)])
