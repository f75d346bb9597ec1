"""The end user's own pages."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from app.models import Role
from app.services.consent import age
from app.services.rights.audience import holdings_for
from app.services.rights.profiles import profile_of
from app.web.access import roles
from app.web.children.forms import BirthDateForm

bp = Blueprint("portal", __name__, url_prefix="/portal")


@bp.get("/")
@roles(Role.SUBJECT)
def home():
    # Sign-up asks for the date of birth here, on the first page a new account sees,
    # until it is given: the age of consent decides what the person may agree to.
    age_form = BirthDateForm() if age.age_of(profile_of(current_user)) is None else None
    return render_template("portal/home.html", holdings=holdings_for(current_user), age_form=age_form)
