"""Forms of the customer admin's DPA pages. They only parse: the rules (which
fields are required, which countries, what signing needs) are in app.services.agreements.dpa,
which reports every problem per field, so one submission shows every error."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectChoice, SelectField, StringField, TextAreaField

from app.services.agreements import dpa
from app.services.agreements.dpa_document import law_of


class DpaRequestForm(FlaskForm):
    legal_name = StringField("Company legal name")
    address = TextAreaField("Registered address")
    registration_number = StringField("Company registration number")
    country = SelectField("Country of registration", choices=[], validate_choice=False)
    signatory_name = StringField("Signatory's full name")
    signatory_title = StringField("Signatory's job title")
    contact_email = StringField("Contact email for privacy matters")
    transfers_outside_eea = BooleanField("Personal data leaves the EEA or the UK (the Standard Contractual "
                                         "Clauses, module 2, apply)")
    uk_transfer = BooleanField("UK personal data leaves the UK (the UK Addendum applies)")
    governing_law = SelectField("Law governing the DPA", choices=[], validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.country.choices = [SelectChoice("", "Choose a country")] + [
            SelectChoice(code, f"{c.name} ({code})") for code, c in dpa.countries()]
        self.governing_law.choices = [SelectChoice("", "Choose a law")] + [
            SelectChoice(code, f"The law of {law_of(code)}") for code, _ in dpa.governing_laws()]

    def request(self) -> dpa.DpaRequest:
        return dpa.DpaRequest(**{name: getattr(self, name).data or ("" if name not in BOOLEANS else False)
                                 for name in dpa.TERM_FIELDS})


BOOLEANS = {"transfers_outside_eea", "uk_transfer"}


class SignForm(FlaskForm):
    typed_name = StringField("Type the signatory's full name to sign")
    authority = BooleanField("I have authority to bind the company to this Data Processing Addendum")
    content_sha256 = HiddenField()


class GenerateForm(FlaskForm):
    """A CSRF-protected button."""
