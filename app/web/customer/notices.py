"""/customer/notices: the sub-processor change notices a customer admin received,
each with a form to object while the deadline has not passed. Only their own: any
other id is "not found". The rules are in app.services.agreements.subprocessor_notices."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField

from app.models import Role
from app.services.agreements import subprocessor_notices
from app.services.agreements.subprocessor_notices import NoticeError
from app.web.access import roles
from app.web.customer.routes import bp


class ObjectionForm(FlaskForm):
    reason = TextAreaField("Why does your company object?")


@bp.get("/notices")
@roles(Role.CUSTOMER_ADMIN)
def notices():
    return _page(ObjectionForm(formdata=None))


@bp.post("/notices/<int:notice_id>/object")
@roles(Role.CUSTOMER_ADMIN)
def notice_object(notice_id):
    form = ObjectionForm()
    if not form.validate_on_submit():
        abort(400)  # a bad or missing CSRF token
    try:
        subprocessor_notices.object_to(current_user, notice_id, form.reason.data or "", request.remote_addr)
    except NoticeError as e:
        return _page(form, failed=notice_id, error=e.errors.get("reason", e.message))
    flash("Your objection is recorded. Our data protection officer will contact you about it.", "success")
    return redirect(url_for("customer.notices"), 303)


def _page(form: ObjectionForm, failed: int | None = None, error: str | None = None):
    page = render_template("customer/notices/index.html", notices=subprocessor_notices.notices_of(current_user),
                           form=form, failed=failed, error=error)
    return page, 400 if failed is not None else 200
