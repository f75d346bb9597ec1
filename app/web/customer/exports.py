"""/customer/export: the company's admin takes everything we processed on the
company's behalf, as a ZIP built by a job. Only the company's own admins download it:
any other id, or another company's, is "not found". The rules are in
app.services.agreements.customer_exports."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from app.extensions import limiter
from app.models import Role
from app.services.agreements import customer_exports
from app.web.access import fresh_login, roles
from app.web.customer.routes import bp, export_context
from app.web.rendering import render_page_or_fragment


@bp.post("/export")
@roles(Role.CUSTOMER_ADMIN)
@limiter.limit("10/hour")
def start_export():
    customer_exports.request_customer_export(current_user)
    if request.htmx:
        return render_template("customer/_export.html", **export_context())
    flash("Your company's export is being built. This page shows when it is ready.", "success")
    return redirect(url_for("customer.home") + "#export", 303)


@bp.get("/export/status")
@roles(Role.CUSTOMER_ADMIN)
def export_status():
    return render_page_or_fragment("customer/export.html", "customer/_export.html", **export_context())


@bp.get("/exports/<int:export_id>/download")
@roles(Role.CUSTOMER_ADMIN)
@fresh_login
@limiter.limit("30/hour")
def download_export(export_id):
    path = customer_exports.open_customer_download(current_user, export_id, request.remote_addr)
    response = send_file(path, mimetype="application/zip", as_attachment=True,
                         download_name=f"company-data-{export_id}.zip")
    response.headers["Cache-Control"] = "no-store"  # send_file's "no-cache" would still let it be stored
    return response
