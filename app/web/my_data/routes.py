"""/my-data: everything held about the person (GDPR Art. 15), their export (Art. 20)
and the corrections they can make themselves (Art. 16)."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from app.extensions import limiter
from app.models import Role
from app.services.consent import age
from app.services.rights import exports
from app.services.rights.audience import holdings_for
from app.services.rights.personal_data import entry_by_slug, page_of_rows, slug_of
from app.services.rights.profiles import profile_of, rectify_profile
from app.web.access import fresh_login, roles
from app.web.my_data.forms import ProfileForm
from app.web.inputs import int_arg
from app.web.rendering import render_page_or_fragment

bp = Blueprint("my_data", __name__, url_prefix="/my-data")


def _export_context() -> dict:
    return {"export": exports.latest_export(current_user)}


@bp.get("/")
@roles(Role.SUBJECT)
def overview():
    return render_template("my_data/overview.html", holdings=holdings_for(current_user), slug_of=slug_of,
                           **_export_context())


@bp.get("/category/<slug>")
@roles(Role.SUBJECT)
def category(slug):
    entry = entry_by_slug(slug)
    rows, next_after = page_of_rows(entry, current_user, after=int_arg("after"))
    return render_page_or_fragment("my_data/category.html", "my_data/_rows.html", entry=entry, rows=rows,
                                   next_after=next_after, slug=slug)


@bp.post("/export")
@roles(Role.SUBJECT)
@limiter.limit("10/hour")
def start_export():
    exports.request_export(current_user)
    if request.htmx:
        return render_template("my_data/_export.html", **_export_context())
    flash("Your export is being built. We will email you when it is ready.", "success")
    return redirect(url_for("my_data.overview") + "#export", 303)


@bp.get("/export/status")
@roles(Role.SUBJECT)
def export_status():
    return render_page_or_fragment("my_data/export.html", "my_data/_export.html", **_export_context())


@bp.get("/exports/<int:export_id>/download")
@roles(Role.SUBJECT)
@fresh_login
@limiter.limit("30/hour")
def download_export(export_id):
    path = exports.open_download(current_user, export_id, request.remote_addr)
    response = send_file(path, mimetype="application/zip", as_attachment=True,
                         download_name=f"my-data-{export_id}.zip")
    response.headers["Cache-Control"] = "no-store"  # send_file's "no-cache" would still let it be stored
    return response


@bp.route("/profile", methods=["GET", "POST"])
@roles(Role.SUBJECT)
@fresh_login
def profile():
    current = profile_of(current_user)
    form = ProfileForm(data={"name": current_user.name, "phone": current.phone, "company": current.company,
                             "country": current.country, "time_zone": current.time_zone or "UTC",
                             "language": current.language or "en", "birth_date": current.birth_date})
    if form.validate_on_submit():
        changed = rectify_profile(current_user, form.data, request.remote_addr)
        if form.birth_date.data and form.birth_date.data != current.birth_date:
            age.record_birth_date(current_user, form.birth_date.data, request.remote_addr)
            changed.append("date of birth")
        flash(f"Saved: {', '.join(c.replace('_', ' ') for c in changed)}." if changed else "Nothing changed.",
              "success")
        return redirect(url_for("my_data.profile"), 303)
    return render_template("my_data/profile.html", form=form), 400 if form.errors else 200
