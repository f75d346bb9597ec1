"""The business customer's admin: what we process on their behalf."""
from __future__ import annotations

from flask import Blueprint, render_template

from app.models import Role
from app.services.rights.personal_data import registry_entries
from app.web.access import roles

bp = Blueprint("customer", __name__, url_prefix="/customer")


@bp.get("/")
@roles(Role.CUSTOMER_ADMIN)
def home():
    return render_template("customer/home.html", entries=registry_entries())
