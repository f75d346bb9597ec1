"""Administration: the people on file and their roles."""
from __future__ import annotations

from flask import Blueprint, request

from app.models import Role
from app.services.people import count_by_role, search_people
from app.web.access import roles
from app.web.rendering import render_page_or_fragment

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/users")
@roles(Role.ADMIN)
def users():
    text = request.args.get("q", "")[:200]
    role = request.args.get("role") if request.args.get("role") in {r.value for r in Role} else None
    after = request.args.get("after", type=int)
    page = search_people(text, role, after)
    return render_page_or_fragment("admin/users.html", "admin/_user_rows.html", page=page, q=text,
                                   role=role, roles=list(Role), counts=count_by_role(), after=after)
