"""Sales ops."""
from __future__ import annotations

from flask import Blueprint, render_template

from app.models import Role
from app.services.people import count_by_role, count_without_password
from app.web.access import roles

bp = Blueprint("sales", __name__, url_prefix="/sales")


@bp.get("/")
@roles(Role.SALES_OPS)
def home():
    return render_template("sales/home.html", end_users=count_by_role()[Role.SUBJECT],
                           without_password=count_without_password())
