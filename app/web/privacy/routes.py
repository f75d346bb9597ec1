"""The public privacy notice: anyone may read it, signed in or not."""
from __future__ import annotations

from flask import Blueprint, render_template

from app.services.notices.privacy_page import privacy_notice
from app.web.access import public

bp = Blueprint("privacy", __name__)


@bp.get("/privacy")
@public
def notice():
    return render_template("privacy/notice.html", notice=privacy_notice())
