"""/dpo/dpas: every Data Processing Addendum with its status, filtered and searched;
on each, its versions, its signatures and the countersignature. The rules are in
app.services.agreements.dpa."""
from __future__ import annotations

import io

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from app.extensions import limiter
from app.models import Role
from app.models.dpa import DpaDocument, DpaStatus
from app.services.agreements import dpa
from app.services.agreements.dpa import DpaError
from app.services.agreements.dpa_document import country_name, law_of
from app.web.access import roles
from app.web.dpo.blueprint import bp
from app.web.dpo.dpa_forms import CountersignForm, DpaFilterForm
from app.web.rendering import render_page_or_fragment

STAFF = (Role.DPO, Role.ADMIN)


@bp.get("/dpas")
@roles(*STAFF)
def dpa_list():
    form = DpaFilterForm(formdata=request.args)
    status = form.status.data if form.status.data in {s.value for s in DpaStatus} else ""
    rows = dpa.list_dpas(status=status, search=form.q.data or "")
    page = render_page_or_fragment("dpo/dpas/index.html", "dpo/dpas/_rows.html", form=form, rows=rows,
                                   counts=dpa.status_counts(), limit=dpa.LIST_LIMIT, status=DpaStatus,
                                   filtered=bool(status or (form.q.data or "").strip()))
    return page, 200, {"Vary": "HX-Request"}


@bp.get("/dpas/<int:dpa_id>")
@roles(*STAFF)
def dpa_detail(dpa_id):
    doc = dpa.get_dpa(dpa_id)
    form = CountersignForm(formdata=None, data={"name": current_user.name, "content_sha256": doc.content_sha256})
    return _detail_page(doc, form)


@bp.post("/dpas/<int:dpa_id>/countersign")
@roles(*STAFF)
def dpa_countersign(dpa_id):
    doc = dpa.get_dpa(dpa_id)
    form = CountersignForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        dpa.countersign_dpa(current_user, doc.id, form.name.data or "", form.title.data or "",
                            bool(form.authority.data), form.content_sha256.data or "", request.remote_addr)
    except DpaError as e:
        for field, message in e.errors.items():
            getattr(form, field).errors = [message]
        return _detail_page(doc, form)
    flash(f"Countersigned {doc.document_id}. It is in force; both parties can download the countersigned PDF.",
          "success")
    return redirect(url_for("dpo.dpa_detail", dpa_id=doc.id), 303)


@bp.get("/dpas/<int:dpa_id>/v<int:version>")
@roles(*STAFF)
@limiter.limit("240/hour")
def dpa_download(dpa_id, version):
    doc = dpa.get_dpa(dpa_id)
    data, row = dpa.open_version(doc, version)
    response = send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                         download_name=dpa.download_name(doc, row))
    response.headers["Cache-Control"] = "no-store"
    return response


def _detail_page(doc: DpaDocument, form: CountersignForm):
    return render_template("dpo/dpas/detail.html", doc=doc, form=form, files=dpa.files_of(doc),
                           signatures=dpa.signatures_of(doc), status=DpaStatus,
                           superseded_by=dpa.superseded_by(doc), country_name=country_name,
                           law_of=law_of), 400 if form.errors else 200
