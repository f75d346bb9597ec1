"""Forms of the subscriber import (app.web.sales.imports)."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import SelectField

NO_COLUMN = -1


class ImportUploadForm(FlaskForm):
    file = FileField("CSV file", validators=[
        FileRequired("Choose a CSV file to upload."),
        FileAllowed(["csv", "txt"], "Upload a .csv file (save the spreadsheet as “CSV UTF-8”).")])


class ImportMappingForm(FlaskForm):
    email = SelectField("Email address column", coerce=int)
    evidence = SelectField("Consent evidence column (how and when each person agreed)", coerce=int)
    name = SelectField("Name column (optional)", coerce=int)
    birth = SelectField("Birth date or age column (optional)", coerce=int)

    def offer(self, header: list[str]) -> "ImportMappingForm":
        """The file's own columns as the choices."""
        columns = [(i, f"{i + 1}: {name}") for i, name in enumerate(header)]
        self.email.choices = [(NO_COLUMN, "Choose a column"), *columns]
        self.evidence.choices = [(NO_COLUMN, "Choose a column"), *columns]
        self.name.choices = [(NO_COLUMN, "No name column"), *columns]
        self.birth.choices = [(NO_COLUMN, "No birth date or age column"), *columns]
        return self
