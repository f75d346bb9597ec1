"""Administration: the people on file and their roles, purposes, API keys, and the
scheduled jobs."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.models import Purpose, Role
from app.models.base import utcnow
from app.services.accounts.api_keys import active_keys, create_api_key, revoke_api_key
from app.services.accounts.people import count_by_role, search_people
from app.services.consent.ledger import purpose_by_key
from app.services.consent.purposes import update_purpose
from app.services.platform import outbox, schedule
from app.services.platform.errors import ServiceError
from app.web.access import roles
from app.web.admin.forms import ApiKeyForm, PurposeForm
from app.web.auth.forms import EmptyForm
from app.web.inputs import int_arg
from app.web.rendering import render_page_or_fragment

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/users")
@roles(Role.ADMIN)
def users():
    text = request.args.get("q", "")[:200]
    role = request.args.get("role") if request.args.get("role") in {r.value for r in Role} else None
    after = int_arg("after")
    page = search_people(text, role, after)
    return render_page_or_fragment("admin/users.html", "admin/_user_rows.html", page=page, q=text,
                                   role=role, roles=list(Role), counts=count_by_role(), after=after)


@bp.get("/purposes")
@roles(Role.ADMIN)
def purposes():
    return render_template("admin/purposes.html", purposes=Purpose.catalogue())


@bp.route("/purposes/<key>", methods=["GET", "POST"])
@roles(Role.ADMIN)
def edit_purpose(key):
    purpose = purpose_by_key(key)
    form = PurposeForm(obj=purpose)
    if form.validate_on_submit():
        try:
            update_purpose(purpose, name=form.name.data, description=form.description.data,
                           default_granted=form.default_granted.data, material=form.material.data,
                           actor=current_user)
        except ServiceError as e:  # shown beside the form, with what was typed kept
            form.default_granted.errors = [e.message]
            return render_template("admin/purpose_edit.html", form=form, purpose=purpose), e.status
        flash(f"{purpose.name} saved" + (f": notice version {purpose.notice_version} published."
                                          if form.material.data else "."), "success")
        return redirect(url_for("admin.purposes"), 303)
    return render_template("admin/purpose_edit.html", form=form, purpose=purpose), 400 if form.errors else 200


@bp.route("/api-keys", methods=["GET", "POST"])
@roles(Role.ADMIN)
def api_keys():
    form = ApiKeyForm()
    new_key = None
    if form.validate_on_submit():
        _, new_key = create_api_key(form.name.data, current_user)
        form = ApiKeyForm(formdata=None)
    # The new key is rendered once in this response, never flashed: the session
    # cookie is signed, not encrypted.
    return render_template("admin/api_keys.html", form=form, keys=active_keys(), new_key=new_key,
                           revoke_form=EmptyForm()), 201 if new_key else (400 if form.errors else 200)


@bp.post("/api-keys/<int:key_id>/revoke")
@roles(Role.ADMIN)
def revoke_key(key_id):
    if EmptyForm().validate_on_submit():
        key = revoke_api_key(key_id, current_user)
        flash(f"Key “{key.name}” revoked. Systems using it are refused from now on.", "success")
    return redirect(url_for("admin.api_keys"), 303)


@bp.get("/jobs")
@roles(Role.ADMIN)
def scheduled_jobs():
    schedule_of = current_app.extensions["scheduled_jobs"]
    now = utcnow()
    outcomes = schedule.last_outcomes()
    rows = []
    for job in schedule_of():
        last = outcomes.get(job["id"])
        rows.append({**job, "last": last,
                     "next": schedule.next_fire_time(job["trigger"], now, last.started_at if last else None)})
    return render_template("admin/jobs.html", rows=rows, form=EmptyForm(), undelivered=outbox.undelivered())


@bp.post("/jobs/<job_id>/run")
@roles(Role.ADMIN)
def run_scheduled_job(job_id):
    schedule_of = current_app.extensions["scheduled_jobs"]
    if EmptyForm().validate_on_submit():
        try:
            schedule.request_run(job_id, [j["id"] for j in schedule_of()], current_user)
        except ServiceError as e:
            abort(e.status)
        flash(f"{job_id.replace('_', ' ').capitalize()} will run within a few seconds.", "success")
    return redirect(url_for("admin.scheduled_jobs"), 303)
