"""Sales ops: newsletters and their subscribers."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.models import Role
from app.models.consent import ConsentSource
from app.services.accounts.people import count_by_role, count_without_password
from app.services.newsletters import catalogue, sales_analytics
from app.services.platform.errors import ServiceError
from app.services.platform.links import external_url
from app.web.access import roles
from app.web.auth.forms import EmptyForm
from app.web.inputs import int_arg
from app.web.rendering import render_page_or_fragment
from app.web.sales.forms import AddSubscriberForm, NewsletterForm

bp = Blueprint("sales", __name__, url_prefix="/sales")
STATUSES = ("subscribed", "pending", "unsubscribed")


@bp.get("/")
@roles(Role.SALES_OPS)
def home():
    return render_template("sales/home.html", end_users=count_by_role()[Role.SUBJECT],
                           without_password=count_without_password(),
                           per_week=sales_analytics.unsubscribes_per_week(),
                           by_newsletter=sales_analytics.unsubscribes_by_newsletter(),
                           by_reason=sales_analytics.unsubscribes_by_reason(),
                           conversion=sales_analytics.opt_in_conversion(),
                           bounces=sales_analytics.bounces_per_week())


@bp.get("/newsletters")
@roles(Role.SALES_OPS)
def newsletter_list():
    archived = request.args.get("archived") == "1"
    rows = [(n, catalogue.counts(n), catalogue.weekly_new_subscribers(n))
            for n in catalogue.newsletters(include_archived=archived)]
    return render_template("sales/newsletters/list.html", rows=rows, archived=archived)


@bp.route("/newsletters/new", methods=["GET", "POST"])
@roles(Role.SALES_OPS)
def newsletter_new():
    form = NewsletterForm()
    if form.validate_on_submit():
        try:
            created = catalogue.create_newsletter(form.name.data, form.description.data, form.topic.data or "",
                                                    form.double_opt_in.data, current_user)
        except ServiceError as e:
            form.name.errors = [e.message]
        else:
            flash(f"Newsletter “{created.purpose.name}” created. People can now sign up on their preferences page.",
                  "success")
            return redirect(url_for("sales.newsletter_detail", newsletter_id=created.id), 303)
    return render_template("sales/newsletters/form.html", form=form, newsletter=None), 400 if form.errors else 200


@bp.route("/newsletters/<int:newsletter_id>/edit", methods=["GET", "POST"])
@roles(Role.SALES_OPS)
def newsletter_edit(newsletter_id):
    newsletter = catalogue.get_newsletter(newsletter_id)
    form = NewsletterForm(obj=None, data=None if request.method == "POST" else {
        "name": newsletter.purpose.name, "description": newsletter.purpose.description,
        "topic": newsletter.topic, "double_opt_in": newsletter.double_opt_in})
    if form.validate_on_submit():
        catalogue.update_newsletter(newsletter, form.name.data, form.description.data, form.topic.data or "",
                                      form.double_opt_in.data, form.material.data, current_user)
        flash("Saved. A change of wording published a new notice version.", "success")
        return redirect(url_for("sales.newsletter_detail", newsletter_id=newsletter_id), 303)
    return render_template("sales/newsletters/form.html", form=form, newsletter=newsletter), \
        400 if form.errors else 200


@bp.post("/newsletters/<int:newsletter_id>/archive")
@roles(Role.SALES_OPS)
def newsletter_archive(newsletter_id):
    if EmptyForm().validate_on_submit():
        catalogue.archive(catalogue.get_newsletter(newsletter_id), current_user)
        flash("Archived: no longer offered or sent. Subscriptions and their proof are kept.", "success")
    return redirect(url_for("sales.newsletter_detail", newsletter_id=newsletter_id), 303)


@bp.get("/newsletters/<int:newsletter_id>")
@roles(Role.SALES_OPS)
def newsletter_detail(newsletter_id):
    newsletter = catalogue.get_newsletter(newsletter_id)
    status = request.args.get("status") if request.args.get("status") in STATUSES else "subscribed"
    search = request.args.get("q", "")[:254]
    rows, after = catalogue.subscribers(newsletter, status, search, int_arg("after"))
    return render_page_or_fragment("sales/newsletters/detail.html", "sales/newsletters/_subscriber_rows.html",
                                   newsletter=newsletter, counts=catalogue.counts(newsletter), rows=rows,
                                   next_after=after, status=status, search=search, statuses=STATUSES,
                                   add_form=AddSubscriberForm(formdata=None), archive_form=EmptyForm())


@bp.post("/newsletters/<int:newsletter_id>/subscribers")
@roles(Role.SALES_OPS)
def subscriber_add(newsletter_id):
    """Staff only ever start a sign-up: the person confirms it from the email."""
    newsletter = catalogue.get_newsletter(newsletter_id)
    form = AddSubscriberForm()
    if form.validate_on_submit():
        try:
            pending = catalogue.request_sign_up(newsletter, form.email.data, ConsentSource.STAFF, _confirm_link,
                                                  current_user, evidence=form.evidence.data)
        except ServiceError as e:
            form.email.errors = [e.message]
        else:
            flash("Asked the person to confirm by email: they are pending until they do." if pending else
                  "Already subscribed: nothing to do.", "success")
            return redirect(url_for("sales.newsletter_detail", newsletter_id=newsletter_id, status="pending"), 303)
    rows, after = catalogue.subscribers(newsletter)
    return render_template("sales/newsletters/detail.html", newsletter=newsletter,
                           counts=catalogue.counts(newsletter), rows=rows, next_after=after, status="subscribed",
                           search="", statuses=STATUSES, add_form=form, archive_form=EmptyForm()), 400


def _confirm_link(token: str) -> str:
    return external_url("newsletter_signup.confirm", token=token)
