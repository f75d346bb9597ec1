"""The public end of a double opt-in: the emailed link shows a button; pressing it
confirms. Never on GET alone, which mail scanners follow on their own."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from app.extensions import limiter
from app.services.newsletters import catalogue
from app.services.platform.errors import ServiceError
from app.web.access import public
from app.web.auth.forms import EmptyForm

bp = Blueprint("newsletter_signup", __name__, url_prefix="/newsletters")


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@public  # the signed link is the proof; it only confirms a sign-up, never reveals data
@limiter.limit("20/minute", methods=["POST"])
def confirm(token):
    form = EmptyForm()
    try:
        if form.validate_on_submit():
            newsletter = catalogue.confirm(token, request.remote_addr, request.user_agent.string)
            return render_template("newsletters/confirmed.html", newsletter=newsletter)
        pending = catalogue.pending_for_token(token)  # refuse a bad link before showing the button
    except ServiceError as e:
        return render_template("newsletters/confirm.html", error=e.message, form=form, pending=None), e.status
    return render_template("newsletters/confirm.html", form=form, error=None, pending=pending)
