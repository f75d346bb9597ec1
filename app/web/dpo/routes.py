"""The DPO's console."""
from __future__ import annotations

from flask import Blueprint, render_template

from app.models import AuditEvent, Role
from app.services.audit import verify_chain
from app.services.personal_data import registry_entries
from app.web.access import roles

bp = Blueprint("dpo", __name__, url_prefix="/dpo")


@bp.get("/")
@roles(Role.DPO)
def home():
    recent = AuditEvent.select().order_by(AuditEvent.id.desc()).limit(20)
    intact, checked, broken_at = verify_chain()
    return render_template("dpo/home.html", recent=recent, chain_intact=intact,
                           chain_checked=checked, chain_broken_at=broken_at)


@bp.get("/register")
@roles(Role.DPO, Role.ADMIN)
def registry():
    return render_template("dpo/registry.html", entries=registry_entries())
