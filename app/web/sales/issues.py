"""Sales ops: composing a newsletter issue and sending it. These routes join the
sales blueprint (imported by app.web.register_web)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.models import Role
from app.services.newsletters import catalogue, sending
from app.services.platform.errors import ServiceError
from app.web.access import roles
from app.web.auth.forms import EmptyForm
from app.web.rendering import render_page_or_fragment
from app.web.sales.issue_forms import IssueForm
from app.web.sales.routes import bp


@bp.route("/newsletters/<int:newsletter_id>/issues", methods=["GET", "POST"])
@roles(Role.SALES_OPS)
def issue_list(newsletter_id):
    newsletter = catalogue.get_newsletter(newsletter_id)
    form = IssueForm()
    if form.validate_on_submit():
        try:
            issue = sending.compose(newsletter, form.subject.data, form.body.data, current_user)
        except ServiceError as e:
            form.subject.errors = [e.message]
        else:
            flash("Draft saved. Check the preview, then send it.", "success")
            return redirect(url_for("sales.issue_detail", issue_id=issue.id), 303)
    return render_template("sales/issues/list.html", newsletter=newsletter, form=form,
                           issues=sending.issues_of(newsletter)), 400 if form.errors else 200


@bp.get("/issues/<int:issue_id>")
@roles(Role.SALES_OPS)
def issue_detail(issue_id):
    # htmx polls this while the issue is sending: it then gets only the progress part.
    return render_page_or_fragment("sales/issues/detail.html", "sales/issues/_sending.html",
                                   **_issue_context(issue_id))


@bp.post("/issues/<int:issue_id>/send")
@roles(Role.SALES_OPS)
def issue_send(issue_id):
    issue = sending.get_issue(issue_id)
    if not EmptyForm().validate_on_submit():
        return render_template("sales/issues/detail.html", **_issue_context(issue_id)), 400
    sending.send_issue(issue, current_user)
    if request.htmx:
        return render_template("sales/issues/_sending.html", **_issue_context(issue_id))
    flash("Sending has started.", "success")
    return redirect(url_for("sales.issue_detail", issue_id=issue_id), 303)


def _issue_context(issue_id: int) -> dict:
    issue = sending.get_issue(issue_id)
    return {"issue": issue, "job": sending.job_of(issue), "form": EmptyForm(),
            "preview": sending.preview(issue),
            "audience": sending.audience_size(issue.newsletter)}
