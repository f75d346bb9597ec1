"""Sales ops: importing subscribers from a CSV file into one newsletter. Upload, map
the columns and see the dry run, start the import, watch it and read its report.
These routes join the sales blueprint (imported by app.web.register_web)."""
from __future__ import annotations

from flask import flash, redirect, render_template, send_file, url_for
from flask_login import current_user

from app.models import ImportStatus, Job, Role
from app.services.newsletters import catalogue, subscriber_import
from app.services.platform.errors import ServiceError
from app.web.access import roles
from app.web.auth.forms import EmptyForm
from app.web.inputs import accepts_files
from app.web.rendering import render_page_or_fragment
from app.web.sales.import_forms import NO_COLUMN, ImportMappingForm, ImportUploadForm
from app.web.sales.routes import bp

NOT_STARTED = (ImportStatus.UPLOADED.value, ImportStatus.PLANNED.value)


@bp.route("/newsletters/<int:newsletter_id>/import", methods=["GET", "POST"])
@roles(Role.SALES_OPS)
@accepts_files("file")
def import_upload(newsletter_id):
    newsletter = catalogue.get_newsletter(newsletter_id)
    form = ImportUploadForm()
    if form.validate_on_submit():
        try:
            imp = subscriber_import.receive_upload(newsletter, form.file.data.stream, form.file.data.filename,
                                                   current_user)
        except ServiceError as e:
            form.file.errors = [e.message]
        else:
            return redirect(url_for("sales.import_preview", import_id=imp.id), 303)
    return render_template("sales/imports/upload.html", form=form, newsletter=newsletter,
                           imports=subscriber_import.imports_of(newsletter).limit(10),
                           max_mb=subscriber_import.MAX_UPLOAD_BYTES // 2**20), 400 if form.errors else 200


@bp.route("/imports/<int:import_id>", methods=["GET", "POST"])
@roles(Role.SALES_OPS)
def import_preview(import_id):
    imp = subscriber_import.get_import(import_id)
    if imp.status not in NOT_STARTED:
        return redirect(url_for("sales.import_progress", import_id=imp.id), 303)
    mapping = imp.mapping_dict()
    form = ImportMappingForm(data={k: NO_COLUMN if v is None else v for k, v in mapping.items()}).offer(
        imp.header_list())
    if form.validate_on_submit():
        try:
            subscriber_import.plan_import(imp, form.email.data, form.evidence.data, form.name.data,
                                          form.birth.data)
        except ServiceError as e:
            form.email.errors = [e.message]
        else:
            return redirect(url_for("sales.import_preview", import_id=imp.id) + "#preview", 303)
    return render_template("sales/imports/preview.html", imp=subscriber_import.get_import(import_id), form=form,
                           newsletter=catalogue.get_newsletter(imp.newsletter_id), start_form=EmptyForm(),
                           labels=subscriber_import.OUTCOME_LABELS), 400 if form.errors else 200


@bp.post("/imports/<int:import_id>/start")
@roles(Role.SALES_OPS)
def import_start(import_id):
    imp = subscriber_import.get_import(import_id)
    if not EmptyForm().validate_on_submit():
        flash("The form expired. Check the preview and start the import again.", "error")
        return redirect(url_for("sales.import_preview", import_id=imp.id), 303)
    subscriber_import.start_import(imp, current_user)
    return redirect(url_for("sales.import_progress", import_id=imp.id), 303)


@bp.get("/imports/<int:import_id>/progress")
@roles(Role.SALES_OPS)
def import_progress(import_id):
    imp = subscriber_import.get_import(import_id)
    if imp.status in NOT_STARTED:
        return redirect(url_for("sales.import_preview", import_id=imp.id), 303)
    return render_page_or_fragment("sales/imports/progress.html", "sales/imports/_progress.html", imp=imp,
                                   job=Job.get_or_none(Job.id == imp.job_id),
                                   newsletter=catalogue.get_newsletter(imp.newsletter_id),
                                   labels=subscriber_import.OUTCOME_LABELS)


@bp.get("/imports/<int:import_id>/rejected.csv")
@roles(Role.SALES_OPS)
def import_rejected(import_id):
    imp = subscriber_import.get_import(import_id)
    response = send_file(subscriber_import.report_path(imp), mimetype="text/csv", as_attachment=True,
                         download_name=f"import-{imp.id}-rejected-rows.csv")
    response.headers["Cache-Control"] = "no-store"  # it lists people's addresses
    return response
