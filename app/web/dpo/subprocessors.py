"""/dpo/subprocessors: the sub-processor register, as it stands or as it stood on a
past date, adding, changing and removing sub-processors with each one's version
history. The rules are in app.services.agreements.subprocessors."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from app.models import Role
from app.models.base import utcnow
from app.models.subprocessors import Subprocessor
from app.services.agreements import subprocessor_notices, subprocessors
from app.services.agreements.subprocessors import Details, SubprocessorError
from app.services.platform.errors import ServiceError
from app.web.access import roles
from app.web.dpo.blueprint import bp
from app.web.dpo.subprocessor_forms import AsOfForm, RemoveSubprocessorForm, SubprocessorForm
from app.web.rendering import render_page_or_fragment

STAFF = (Role.DPO, Role.ADMIN)


@bp.get("/subprocessors")
@roles(*STAFF)
def subprocessors_register():
    form = AsOfForm(formdata=request.args)
    as_of = form.as_of.data if form.validate() else None
    rows = subprocessors.register_as_of(as_of) if as_of else subprocessors.list_subprocessors()
    page = render_page_or_fragment("dpo/subprocessors/index.html", "dpo/subprocessors/_register.html",
                                   rows=rows, as_of=as_of, form=form, today=as_of or utcnow().date(),
                                   removed=[] if as_of else subprocessors.removed_subprocessors())
    return page, 400 if form.errors else 200, {"Vary": "HX-Request"}


@bp.get("/subprocessors/objections")
@roles(*STAFF)
def subprocessor_objections():
    return render_template("dpo/subprocessors/objections.html", objections=subprocessor_notices.objections_for_dpo())


@bp.route("/subprocessors/new", methods=["GET", "POST"])
@roles(*STAFF)
def subprocessor_new():
    form = _with_choices(SubprocessorForm())
    if form.validate_on_submit():
        try:
            row = subprocessors.add_subprocessor(_details(form), form.reason.data or "", current_user)
        except SubprocessorError as e:
            _show_errors(form, e)
        else:
            flash(f"Added {row.name} to the register.", "success")
            return redirect(url_for("dpo.subprocessors_register"), 303)
    return render_template("dpo/subprocessors/new.html", form=form), 400 if form.errors else 200


@bp.route("/subprocessors/<int:subprocessor_id>", methods=["GET", "POST"])
@roles(*STAFF)
def subprocessor_detail(subprocessor_id):
    row = _subprocessor(subprocessor_id)
    if request.method == "POST":
        form = _with_choices(SubprocessorForm())
    else:
        form = _with_choices(SubprocessorForm(data=_current_data(row)))
    if form.validate_on_submit():
        try:
            version = subprocessors.change_subprocessor(row.id, _details(form), form.reason.data or "", current_user)
        except SubprocessorError as e:
            _show_errors(form, e)
        except ServiceError as e:
            abort(e.status)  # removed meanwhile
        else:
            if version is None:
                flash("Nothing changed, so no new version was saved.", "info")
            else:
                flash(f"Saved version {version.number} of {version.name.rstrip('.')}.", "success")
            return redirect(url_for("dpo.subprocessor_detail", subprocessor_id=row.id), 303)
    return _detail_page(row, form, RemoveSubprocessorForm())


@bp.post("/subprocessors/<int:subprocessor_id>/remove")
@roles(*STAFF)
def subprocessor_remove(subprocessor_id):
    row = _subprocessor(subprocessor_id)
    remove_form = RemoveSubprocessorForm()
    if not remove_form.validate_on_submit():
        abort(400)
    try:
        subprocessors.remove_subprocessor(row.id, remove_form.removal_reason.data or "", current_user)
    except SubprocessorError as e:
        remove_form.removal_reason.errors = [e.errors.get("reason", e.message)]
    except ServiceError as e:
        abort(e.status)
    else:
        flash(f"Removed {row.name} from the register. Its history is kept.", "success")
        return redirect(url_for("dpo.subprocessors_register"), 303)
    return _detail_page(row, _with_choices(SubprocessorForm(formdata=None, data=_current_data(row))), remove_form)


def _detail_page(row: Subprocessor, form: SubprocessorForm, remove_form: RemoveSubprocessorForm):
    failed = form.errors or remove_form.errors
    return render_template("dpo/subprocessors/detail.html", subprocessor=row, form=form, remove_form=remove_form,
                           versions=subprocessors.history(row.id)), 400 if failed else 200


def _subprocessor(subprocessor_id: int) -> Subprocessor:
    try:
        return subprocessors.get_subprocessor(subprocessor_id)
    except ServiceError as e:
        abort(e.status)


def _current_data(row: Subprocessor) -> dict:
    return {"name": row.name, "purpose": row.purpose, "data_categories": row.categories, "country": row.country,
            "transfer_mechanism": row.transfer_mechanism, "uk_addendum": row.uk_addendum, "since": row.since}


def _with_choices(form: SubprocessorForm) -> SubprocessorForm:
    form.data_categories.choices = [SelectChoice(c, c) for c in subprocessors.data_categories()]
    form.country.choices = [SelectChoice("", "Choose a country")] + [
        SelectChoice(code, f"{country.name} ({code})") for code, country in subprocessors.countries()]
    return form


def _details(form: SubprocessorForm) -> Details:
    return Details(name=form.name.data or "", purpose=form.purpose.data or "",
                   data_categories=list(form.data_categories.data or []), country=form.country.data or "",
                   transfer_mechanism=form.transfer_mechanism.data or "", uk_addendum=bool(form.uk_addendum.data),
                   since=form.since.data)


def _show_errors(form: SubprocessorForm, error: SubprocessorError) -> None:
    for field, message in error.errors.items():
        getattr(form, field).errors = [message]
