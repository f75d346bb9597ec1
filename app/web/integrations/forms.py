from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, StringField
from wtforms.validators import DataRequired, Length

DIRECTIONS = {
    "in": "One way into the CRM: read from the provider, never write to it",
    "out": "One way out: contacts you add here are added to the provider once",
    "two_way": "Both ways: contacts from the provider are kept in step, and contacts you add here are added there once",
}


class DirectionForm(FlaskForm):
    direction = RadioField("How to sync", default="in")

    def offer(self, directions) -> "DirectionForm":
        self.direction.choices = [SelectChoice(d, DIRECTIONS[d]) for d in directions]
        return self


class DisconnectForm(FlaskForm):
    imported = RadioField("What this connection brought into the CRM", default="delete", choices=[
        SelectChoice("delete", "Delete it (recommended)"),
        SelectChoice("keep", "Keep it, as ordinary contacts I manage myself")])


class SheetImportForm(FlaskForm):
    spreadsheet = StringField("Spreadsheet id", validators=[
        DataRequired("Give the spreadsheet's id."), Length(max=200)])
    cells = StringField("Cells (optional)", default="A1:Z1000", validators=[Length(max=60)])
