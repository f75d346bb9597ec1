"""The end user's own pages."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from app.models import Role
from app.services.rights.audience import holdings_for
from app.web.access import roles

bp = Blueprint("portal", __name__, url_prefix="/portal")


@bp.get("/")
@roles(Role.SUBJECT)
def home():
    return render_template("portal/home.html", holdings=holdings_for(current_user))
