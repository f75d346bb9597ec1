"""/requests: the person files erasure, restriction, objection or correction
requests and follows each one; an erasure is confirmed from an emailed link."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.extensions import limiter
from app.models import RequestKind, Role
from app.services.platform.errors import ServiceError
from app.services.platform.links import external_url
from app.services.rights import objections, restrictions
from app.services.rights import requests as privacy_requests
from app.web.access import fresh_login, public, roles
from app.web.auth.forms import EmptyForm
from app.web.limits import link_holder
from app.web.privacy_requests.forms import NewRequestForm

bp = Blueprint("privacy_requests", __name__, url_prefix="/requests")


def _form(**defaults) -> NewRequestForm:
    form = NewRequestForm(**defaults)
    form.processing.choices = [(p.key, p.label) for p in objections.choices()]
    return form


def _page(form, status=200):
    return render_template("privacy_requests/list.html", form=form, cancel_form=EmptyForm(),
                           requests=privacy_requests.requests_of(current_user),
                           restrictions=restrictions.restrictions_of(current_user),
                           objection_labels={p.key: p.label for p in objections.choices()}), status


@bp.get("/")
@roles(Role.SUBJECT)
def index():
    form = _form(kind=request.args.get("kind", RequestKind.DELETION.value))
    return _page(form)


@bp.post("/")
@roles(Role.SUBJECT)
@fresh_login
@limiter.limit("10/hour")  # per person (app.extensions.person_or_address)
def file():
    form = _form()
    if not form.validate_on_submit():
        return _page(form, 400)
    kind = RequestKind(form.kind.data)
    try:
        filed = privacy_requests.file_request(
            current_user, kind, form.details.data or "",
            lambda token: external_url("privacy_requests.confirm", token=token),
            processing=form.processing.data if kind is RequestKind.OBJECTION else None)
    except objections.ObjectionError as e:
        getattr(form, e.field).errors = [e.message]
        return _page(form, 400)
    if filed.status == "awaiting_confirmation":
        flash(f"Check your email ({current_user.email}): confirm the erasure from the link we sent.", "success")
    elif filed.status == "completed":
        flash(f"Objection recorded and carried out: {objections.processing_of(filed).stopped}", "success")
    else:
        flash(f"Request received: “{filed.kind_label}”. We answer by {filed.due_at:%d %B %Y}.", "success")
    return redirect(url_for("privacy_requests.index") + f"#request-{filed.id}", 303)


@bp.post("/<int:request_id>/cancel")
@roles(Role.SUBJECT)
def cancel(request_id):
    if EmptyForm().validate_on_submit():
        privacy_requests.cancel_request(current_user, request_id)
        flash("Request cancelled. Nothing was erased.", "success")
    return redirect(url_for("privacy_requests.index"), 303)


def _requester(token: str) -> str:
    return f"person:{privacy_requests.request_for_token(token).user_id}"


@bp.route("/confirm/<token>", methods=["GET", "POST"])
@public  # the signed link is the proof; it only confirms, never reveals data
@limiter.limit("20/minute", methods=["POST"], key_func=link_holder(_requester))
def confirm(token):
    form = EmptyForm()
    try:
        if form.validate_on_submit():
            confirmed = privacy_requests.confirm_deletion(token)
            return render_template("privacy_requests/confirmed.html", request=confirmed)
        privacy_requests.request_for_token(token)  # refuse a bad link before showing the button
    except ServiceError as e:
        return render_template("privacy_requests/confirm.html", error=e.message, form=form), e.status
    return render_template("privacy_requests/confirm.html", form=form, error=None)
