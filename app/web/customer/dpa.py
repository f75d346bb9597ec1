"""/customer/dpa: the business customer's admin requests a Data Processing Addendum,
reviews it, signs it and downloads every version. Only their own: any other id is
"not found". The rules are in app.services.agreements.dpa."""
from __future__ import annotations

import io

from flask import abort, current_app, flash, make_response, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from markupsafe import Markup

from app.extensions import limiter
from app.models import Role
from app.models.dpa import DpaDocument, DpaStatus
from app.services.agreements import dpa
from app.services.agreements.dpa import DpaError
from app.services.platform.errors import ServiceError
from app.web.access import roles
from app.web.customer.dpa_forms import DpaRequestForm, GenerateForm, SignForm
from app.web.customer.routes import bp

# The preview is the document's own HTML, shown in a sandboxed frame: no script, no
# forms, no navigation, no other origin, its own styles; only our pages may frame it.
# "allow-same-origin" (safe without "allow-scripts": nothing in it can run) keeps the
# frame in the page's process: Chromium isolates opaque-origin frames in a process of
# their own, and then mouse clicks on the sign form below it were lost (measured in
# headless Chromium, tests/test_dpa_signing.py).
PREVIEW_POLICY = ("sandbox allow-same-origin; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                  "font-src data:; frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


@bp.get("/dpa")
@roles(Role.CUSTOMER_ADMIN)
def dpa_list():
    return render_template("customer/dpa/index.html", dpas=dpa.dpas_of(current_user))


@bp.route("/dpa/new", methods=["GET", "POST"])
@roles(Role.CUSTOMER_ADMIN)
def dpa_new():
    form = DpaRequestForm()
    if form.validate_on_submit():
        try:
            doc = dpa.request_dpa(current_user, form.request(), request.remote_addr)
        except DpaError as e:
            _show_errors(form, e)
        else:
            _generate(doc)
            return redirect(url_for("customer.dpa_detail", dpa_id=doc.id), 303)
    return render_template("customer/dpa/new.html", form=form), 400 if form.errors else 200


@bp.route("/dpa/<int:dpa_id>/edit", methods=["GET", "POST"])
@roles(Role.CUSTOMER_ADMIN)
def dpa_edit(dpa_id):
    doc = _own(dpa_id)
    if doc.status not in dpa.UNSIGNED_STATUSES:
        raise ServiceError("This DPA is signed or superseded: nothing in it can be changed. Request a new DPA "
                           "instead.", 409)
    form = DpaRequestForm(data={name: getattr(doc, name) for name in dpa.TERM_FIELDS})
    if form.validate_on_submit():
        try:
            dpa.amend_dpa(current_user, doc.id, form.request(), request.remote_addr)
        except DpaError as e:
            _show_errors(form, e)
        else:
            flash("Saved. Review the document again before you sign it.", "success")
            return redirect(url_for("customer.dpa_detail", dpa_id=doc.id), 303)
    return render_template("customer/dpa/edit.html", form=form, doc=doc), 400 if form.errors else 200


@bp.get("/dpa/<int:dpa_id>")
@roles(Role.CUSTOMER_ADMIN)
def dpa_detail(dpa_id):
    doc = _own(dpa_id)
    return _detail_page(doc, SignForm(formdata=None, data={"content_sha256": doc.content_sha256}))


@bp.get("/dpa/<int:dpa_id>/preview")
@roles(Role.CUSTOMER_ADMIN)
def dpa_preview(dpa_id):
    doc = _own(dpa_id)
    response = make_response(render_template("customer/dpa/preview.html", doc=doc,
                                             body=Markup(dpa.preview_html(doc))))
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.post("/dpa/<int:dpa_id>/generate")
@roles(Role.CUSTOMER_ADMIN)
def dpa_generate(dpa_id):
    doc = _own(dpa_id)
    if not GenerateForm().validate_on_submit():
        abort(400)
    _generate(doc)
    return redirect(url_for("customer.dpa_detail", dpa_id=doc.id), 303)


@bp.post("/dpa/<int:dpa_id>/sign")
@roles(Role.CUSTOMER_ADMIN)
def dpa_sign(dpa_id):
    doc = _own(dpa_id)
    form = SignForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        dpa.sign_dpa(current_user, doc.id, form.typed_name.data or "", bool(form.authority.data),
                     form.content_sha256.data or "", request.remote_addr)
    except DpaError as e:
        _show_errors(form, e)
        return _detail_page(doc, form)
    flash("Signed. We will countersign it and email you when it is in force; you can download the signed PDF now.", "success")
    return redirect(url_for("customer.dpa_detail", dpa_id=doc.id), 303)


@bp.get("/dpa/<int:dpa_id>/v<int:version>")
@roles(Role.CUSTOMER_ADMIN)
@limiter.limit("120/hour")
def dpa_download(dpa_id, version):
    doc = _own(dpa_id)
    data, row = dpa.open_version(doc, version)
    response = send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                         download_name=dpa.download_name(doc, row))
    response.headers["Cache-Control"] = "no-store"
    return response


def _own(dpa_id: int) -> DpaDocument:
    return dpa.get_own_dpa(current_user, dpa_id)  # someone else's: ServiceError 404


def _generate(doc: DpaDocument) -> None:
    try:
        dpa.generate_dpa(doc, current_user, request.remote_addr)
    except ServiceError:
        raise
    except Exception:  # rendering failed: the request is kept, and can be generated again
        current_app.logger.exception("Generating DPA %s failed", doc.document_id)
        flash("Your request is saved, but the document could not be generated just now. Try again in a moment.",
              "error")
    else:
        flash("Your DPA is ready. Review it, then sign it below.", "success")


def _detail_page(doc: DpaDocument, form: SignForm):
    return render_template("customer/dpa/detail.html", doc=doc, form=form, generate_form=GenerateForm(),
                           files=dpa.files_of(doc), signatures=dpa.signatures_of(doc),
                           superseded_by=dpa.superseded_by(doc), status=DpaStatus), 400 if form.errors else 200


def _show_errors(form, error: DpaError) -> None:
    for field, message in error.errors.items():
        getattr(form, field).errors = [message]
