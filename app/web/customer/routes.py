"""The business customer's admin: what we process on their behalf, and the export of
all of it (app.web.customer.exports)."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from app.models import Role
from app.services.agreements import companies, customer_exports
from app.services.rights.personal_data import registry_entries
from app.web.access import roles

bp = Blueprint("customer", __name__, url_prefix="/customer")


def export_context() -> dict:
    """What the export panel shows: the admin's company and its latest export."""
    company = companies.company_of(current_user)
    return {"company": company, "export": customer_exports.latest_customer_export(current_user) if company else None}


@bp.get("/")
@roles(Role.CUSTOMER_ADMIN)
def home():
    return render_template("customer/home.html", entries=registry_entries(), **export_context())
