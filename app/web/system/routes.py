"""Operational endpoints."""
from __future__ import annotations

from flask import Blueprint

from app.db import database
from app.web.access import public

bp = Blueprint("system", __name__)


@bp.get("/healthz")
@public
def healthz():
    try:
        database.execute_sql("SELECT 1")
    except Exception:  # any driver error means the same thing to a load balancer
        return {"status": "degraded", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}
