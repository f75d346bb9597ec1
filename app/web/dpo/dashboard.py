"""The DPO console's home: the dashboard and the audit chain check."""
from __future__ import annotations

from flask import render_template

from app.models import Role
from app.services.audit import recent_events, verify_chain
from app.web.access import roles
from app.web.dpo.blueprint import bp
from app.web.rendering import render_page_or_fragment


@bp.get("/")
@roles(Role.DPO)
def home():
    return render_template("dpo/home.html", recent=recent_events(20), verification=None)


@bp.post("/audit/verify")
@roles(Role.DPO)
def verify_audit():
    # On demand, not on every page view: the walk reads the whole log.
    intact, checked, broken_at = verify_chain()
    return render_page_or_fragment("dpo/home.html", "dpo/_verification.html", recent=recent_events(20),
                                   verification={"intact": intact, "checked": checked, "broken_at": broken_at})
