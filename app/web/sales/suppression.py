"""/sales/suppression: check, add (one or many) and take back staff entries. The list
holds keyed hashes only, so it can be searched by address but never listed."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from app.models import Role
from app.services.consent import suppression
from app.services.platform.errors import ServiceError
from app.web.access import roles
from app.web.inputs import accepts_files
from app.web.sales.routes import bp


class CheckForm(FlaskForm):
    email = StringField("Email address", validators=[DataRequired("Enter an address."), Length(max=254)])


class AddForm(FlaskForm):
    addresses = TextAreaField("Addresses, one per line (or paste a CSV with an “email” column)",
                              validators=[Length(max=200_000)])
    file = FileField("…or upload a CSV file")


@bp.route("/suppression", methods=["GET", "POST"])
@roles(Role.SALES_OPS)
def suppression_list():
    check, add = CheckForm(prefix="check"), AddForm(prefix="add")
    found = None
    if request.method == "POST" and check.validate_on_submit():
        found = (check.email.data, suppression.entry_for(check.email.data))
    return _page(check, add, found)


@bp.post("/suppression/add")
@roles(Role.SALES_OPS)
@accepts_files("add-file")
def suppression_add():
    add = AddForm(prefix="add")
    if add.validate_on_submit():
        texts = [add.addresses.data or ""]
        if add.file.data:
            try:
                texts.append(add.file.data.read().decode("utf-8-sig"))
            except UnicodeDecodeError:
                add.file.errors = ["The file is not UTF-8 text: save it as “CSV UTF-8” and try again."]
                return _page(CheckForm(prefix="check", formdata=None), add, None, 400)
        outcome = suppression.add_by_staff([t for t in texts if t.strip()], current_user)
        flash(outcome.summary(), "success" if not outcome.rejected else "error")
    return redirect(url_for("sales.suppression_list"), 303)


@bp.post("/suppression/remove")
@roles(Role.SALES_OPS)
def suppression_remove():
    form = CheckForm(prefix="check")
    if form.validate_on_submit():
        try:
            suppression.remove_by_staff(form.email.data, current_user)
            flash("Removed: the address may be mailed again if the person has agreed.", "success")
        except ServiceError as e:
            flash(e.message, "error")
    return redirect(url_for("sales.suppression_list"), 303)


def _page(check, add, found, status=200):
    return render_template("sales/suppression.html", check=check, add=add, found=found,
                           counts=suppression.counts_by_reason(), labels=suppression.REASON_LABELS,
                           removable=suppression.REMOVABLE_BY_STAFF), status
