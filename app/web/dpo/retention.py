"""/dpo/retention: the retention policies, what the next sweep would act on, running
a sweep now with its progress, and the history of runs. The rules are in
app.services.retention.policies."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from app.models import Job, Role
from app.models.retention import RetentionPolicy
from app.services.platform.errors import ServiceError
from app.services.retention import policies
from app.web.access import roles
from app.web.dpo.blueprint import bp
from app.web.dpo.forms import RetentionPolicyForm, RetentionRunForm
from app.web.rendering import render_page_or_fragment

STAFF = (Role.DPO, Role.ADMIN)


@bp.get("/retention")
@roles(*STAFF)
def retention_policies():
    rows = policies.preview()
    return render_template("dpo/retention/index.html", rows=rows, totals=policies.totals(
        [r for r in rows if r["policy"].row.enabled]), last=policies.last_run(), run_form=RetentionRunForm())


@bp.route("/retention/<int:policy_id>", methods=["GET", "POST"])
@roles(*STAFF)
def retention_policy(policy_id):
    current = _policy(policy_id)
    saved = current.row
    form = RetentionPolicyForm() if request.method == "POST" else RetentionPolicyForm(data={
        "days": saved.days, "action": saved.action, "blank_fields": saved.blanked, "note": saved.note,
        "enabled": saved.enabled})
    form.blank_fields.choices = [SelectChoice(f, f.replace("_", " ")) for f in current.rule.blankable]
    if form.validate_on_submit():
        try:
            policies.update_policy(current.category, form.days.data, form.action.data, form.blank_fields.data or [],
                                    form.note.data or "", form.enabled.data, current_user)
        except ServiceError as e:
            form.action.errors = [e.message]
        else:
            flash(f"Saved the policy for {current.category}. The preview below shows its effect.", "success")
            return redirect(url_for("dpo.retention_policy", policy_id=policy_id) + "#preview", 303)
    row = next(r for r in policies.preview() if r["policy"].category == current.category)
    return render_template("dpo/retention/policy.html", policy=current, form=form, row=row,
                           run_form=RetentionRunForm(category=current.category)), 400 if form.errors else 200


@bp.post("/retention/run")
@roles(*STAFF)
def retention_run():
    form = RetentionRunForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        run = policies.start_run("dpo", current_user, only=form.category.data or None)
    except ServiceError as e:
        abort(e.status)
    return redirect(url_for("dpo.retention_run_detail", run_id=run.id), 303)


@bp.get("/retention/runs")
@roles(*STAFF)
def retention_runs():
    return render_template("dpo/retention/runs.html", runs=policies.runs(), weeks=policies.removed_per_week())


@bp.get("/retention/runs/<int:run_id>")
@roles(*STAFF)
def retention_run_detail(run_id):
    try:
        run = policies.get_run(run_id)
    except ServiceError:
        abort(404)
    return render_page_or_fragment("dpo/retention/run.html", "dpo/retention/_run_progress.html", run=run,
                                   job=Job.get_or_none(Job.id == run.job_id))


def _policy(policy_id: int) -> policies.Policy:
    row = RetentionPolicy.get_or_none(RetentionPolicy.id == policy_id)
    if row is None:
        abort(404)
    return policies.policy(row.category)

