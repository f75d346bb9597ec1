"""Children: a parent's report of a child's data (public), a parent's consent for a
child (public, by signed link), and the child's side (date of birth, asking a parent)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.extensions import limiter
from app.models import Role
from app.models.user import normalise_email
from app.services.consent import age, children, ledger
from app.services.platform.errors import ServiceError
from app.services.platform.links import external_url
from app.services.rights import child_reports
from app.web.access import public, roles
from app.web.auth.forms import EmptyForm
from app.web.children.forms import AskParentForm, BirthDateForm, ReportChildForm
from app.web.limits import link_holder

bp = Blueprint("children", __name__)


def _parent_key() -> str:
    return "parent:" + normalise_email(request.form.get("parent_email", ""))


# --- a parent reports a child's data ---------------------------------------------------

@bp.route("/report-a-child", methods=["GET", "POST"])
@public
@limiter.limit("5/minute;20/hour", methods=["POST"])
@limiter.limit("3/hour", methods=["POST"], key_func=_parent_key)
def report():
    form = ReportChildForm()
    if form.validate_on_submit():
        try:
            child_reports.report_child(child_reports.ChildReport(
                form.parent_email.data, form.child_email.data, form.relationship.data, form.details.data or ""),
                lambda token: external_url("children.confirm_report", token=token))
        except ServiceError as e:
            form.child_email.errors.append(e.message)
            return render_template("children/report.html", form=form), e.status
        # The same answer for every child's address: the page reveals nothing.
        return redirect(url_for("children.report_sent"), 303)
    return render_template("children/report.html", form=form), 400 if form.errors else 200


@bp.get("/report-a-child/sent")
@public
def report_sent():
    return render_template("children/report_sent.html")


def _reporting_parent(token: str) -> str:
    return "parent:" + child_reports.report_for_token(token).parent_email


def _consenting_parent(token: str) -> str:
    return "parent:" + children.ask_for_token(token).parent_email


@bp.route("/report-a-child/confirm/<token>", methods=["GET", "POST"])
@public  # the signed link is the proof; it reveals nothing about the child's account
@limiter.limit("20/minute", methods=["POST"], key_func=link_holder(_reporting_parent))
def confirm_report(token):
    form = EmptyForm()
    try:
        report_ = child_reports.report_for_token(token)
        if form.validate_on_submit():
            child_reports.confirm_report(token)
            return render_template("children/report_confirmed.html", days=child_reports.EXPEDITED_DAYS)
    except ServiceError as e:
        return render_template("children/report_confirm.html", error=e.message, form=form), e.status
    return render_template("children/report_confirm.html", form=form, report=report_, error=None)


# --- a parent's consent for a child ----------------------------------------------------

@bp.route("/parent-consent/<token>", methods=["GET", "POST"])
@public  # the signed link, mailed to the parent, is the proof of their address
@limiter.limit("20/minute", methods=["POST"], key_func=link_holder(_consenting_parent))
def parent_consent(token):
    form = EmptyForm()
    try:
        if form.validate_on_submit():
            ask = children.give_parental_consent(token, request.remote_addr, request.user_agent.string)
            return render_template("children/parent_consented.html", ask=ask)
        ask = children.ask_for_token(token)
    except ServiceError as e:
        return render_template("children/parent_consent.html", error=e.message, form=form), e.status
    return render_template("children/parent_consent.html", ask=ask, form=form, error=None)


# --- the child's side ------------------------------------------------------------------

@bp.route("/preferences/ask-parent/<key>", methods=["GET", "POST"])
@roles(Role.SUBJECT)
@limiter.limit("5/hour", methods=["POST"])
def ask_parent(key):
    purpose = ledger.purpose_by_key(key)
    form = AskParentForm()
    minor = age.minor_status(current_user)
    if form.validate_on_submit():
        try:
            sent_to = children.ask_parent(current_user, purpose, form.parent_email.data,
                                          lambda token: external_url("children.parent_consent", token=token))
        except ServiceError as e:
            form.parent_email.errors.append(e.message)
            return render_template("children/ask_parent.html", form=form, purpose=purpose, minor=minor), e.status
        flash(f"We emailed {sent_to}. {purpose.name} switches on when they agree from that email.", "success")
        return redirect(url_for("preferences.page") + f"#purpose-{purpose.key}", 303)
    return render_template("children/ask_parent.html", form=form, purpose=purpose, minor=minor), \
        400 if form.errors else 200


@bp.post("/about-you/birth-date")
@roles(Role.SUBJECT)
def birth_date():
    form = BirthDateForm()
    if form.validate_on_submit():
        try:
            age.record_birth_date(current_user, form.birth_date.data, request.remote_addr)
        except ServiceError as e:
            flash(f"We could not save it: the {e.message}.", "error")
        else:
            flash("Saved your date of birth. You can correct it on My data → Correct your profile.", "success")
    else:
        flash("Enter your date of birth, like 2010-04-30.", "error")
    return redirect(url_for("portal.home"), 303)
