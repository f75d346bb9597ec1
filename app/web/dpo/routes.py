"""The DPO's console."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.models import OutboxStatus, RequestKind, RequestStatus, Role, User
from app.models.base import utcnow
from app.services.platform.audit import actions as audit_actions
from app.services.platform.audit import search_events
from app.services.platform.errors import ServiceError
from app.services.rights import child_reports, dpo, legal_holds, objections, restrictions
from app.services.rights.deadlines import JURISDICTIONS, days_left
from app.services.rights.dpo import QueueFilters
from app.services.rights.personal_data import holdings_of, registry_entries
from app.web.access import roles
from app.web.auth.forms import EmptyForm
from app.web.dpo.blueprint import bp
from app.web.dpo.forms import (
    ApproveForm,
    AssignForm,
    BulkForm,
    DenyForm,
    ExtendForm,
    JurisdictionForm,
    NoteForm,
)
from app.web.inputs import int_arg
from app.web.rendering import render_page_or_fragment


@bp.get("/audit")
@roles(Role.DPO, Role.ADMIN)
def audit_log():
    a = request.args
    events, next_before = search_events(action=a.get("action", "")[:64], actor=a.get("actor", "")[:254],
                                        subject_id=int_arg("subject"), before=int_arg("before"))
    return render_page_or_fragment("dpo/audit.html", "dpo/_audit_rows.html", events=events, next_before=next_before,
                                   actions=audit_actions(), filters=a)


@bp.get("/register")
@roles(Role.DPO, Role.ADMIN)
def registry():
    return render_template("dpo/registry.html", entries=registry_entries())


STAFF = (Role.DPO, Role.ADMIN)  # admins see and act too; the audit log names who acted


def _filters() -> QueueFilters:
    a = request.args
    return QueueFilters(kind=a.get("kind") or None, status=a.get("status") or None,
                        jurisdiction=a.get("jurisdiction") or None, assignee=int_arg("assignee"),
                        due=a.get("due") if a.get("due") in ("overdue", "week") else None,
                        email=a.get("email", "")[:254])


@bp.get("/requests")
@roles(*STAFF)
def request_queue():
    filters = _filters()
    page = dpo.queue(filters, after=request.args.get("after"))
    return render_page_or_fragment("dpo/requests.html", "dpo/_queue_rows.html", page=page, filters=filters,
                                   child_reports=list(child_reports.open_reports()), now=utcnow(), staff=dpo.staff(), kinds=list(RequestKind),
                                   statuses=list(RequestStatus), jurisdictions=JURISDICTIONS, days_left=days_left)


def _staff_choices() -> list[tuple[int, str]]:
    return [(0, "Nobody")] + [(u.id, u.display_name) for u in dpo.staff()]


def _approve_form(person: User, formdata=None) -> ApproveForm:
    form = ApproveForm(formdata=formdata)
    form.keep.choices = [(h.entry.category, f"{h.entry.category} ({h.rows})") for h in legal_holds.holdable(person)]
    return form


def _detail(request_id: int, status=200, **forms):
    """The request page; a form that failed comes back in `forms` with its errors."""
    privacy_request = dpo.get_request(request_id)
    person = User.get_by_id(privacy_request.user_id)
    assign_form = AssignForm(formdata=None, assignee=privacy_request.assignee_id or 0)
    assign_form.assignee.choices = _staff_choices()
    defaults = dict(
        deny_form=DenyForm(formdata=None), extend_form=ExtendForm(formdata=None), assign_form=assign_form,
        approve_form=_approve_form(person) if privacy_request.kind == RequestKind.DELETION.value else EmptyForm(),
        note_form=NoteForm(formdata=None), button_form=EmptyForm(),
        jurisdiction_form=JurisdictionForm(formdata=None, jurisdiction=privacy_request.jurisdiction))
    return render_template("dpo/request.html", r=privacy_request, person=person, holdings=holdings_of(person),
                           reasons=dpo.denial_reasons(privacy_request), now=utcnow(), days_left=days_left,
                           notes=dpo.notes_of(request_id), holds=legal_holds.holds_of(privacy_request),
                           restrictions=restrictions.restrictions_of(person),
                           objection=objections.processing_of(privacy_request)
                           if privacy_request.kind == RequestKind.OBJECTION.value else None,
                           **(defaults | forms)), status


@bp.get("/requests/<int:request_id>")
@roles(*STAFF)
def request_detail(request_id):
    return _detail(request_id)


def _flash_decision(decided, said: str) -> None:
    """How the decision's email went at its first attempt (app.services.rights.dpo._told)."""
    if getattr(decided, "told", True):
        flash(said, "success")
    elif decided.mail_status in (OutboxStatus.PENDING, OutboxStatus.SENDING):
        flash(said.split(";")[0] + "; the email to the person is queued: the mail server did not take it yet, "
              "and it is retried for up to 3 days.", "info")
    else:
        flash(said.split(";")[0] + "; but the email to the person could not be sent: tell them another way "
              "(the timeline notes it).", "error")


def _one_click(request_id: int, decide, done: str):
    """A decision that is only a button: CSRF-checked, then back to the request."""
    if EmptyForm().validate_on_submit():
        _flash_decision(decide(request_id, current_user), f"Request {request_id} {done}; the person was told.")
    return redirect(url_for("dpo.request_detail", request_id=request_id), 303)


@bp.post("/requests/<int:request_id>/approve")
@roles(*STAFF)
def approve(request_id):
    person = User.get_by_id(dpo.get_request(request_id).user_id)
    form = _approve_form(person, formdata=request.form)
    if not form.validate_on_submit():
        return _detail(request_id, approve_form=form, status=400)
    try:
        approved = dpo.approve(request_id, current_user, keep=form.keep.data or [],
                               hold_reason=form.hold_reason.data or "", hold_until=form.hold_until.data)
    except legal_holds.HoldError as e:
        getattr(form, e.field).errors = [e.message]
        return _detail(request_id, approve_form=form, status=400)
    _flash_decision(approved, f"Request {request_id} approved{' in part' if approved.legal_holds else ''}; "
                              "the person was told.")
    return redirect(url_for("dpo.request_detail", request_id=request_id), 303)


@bp.post("/requests/<int:request_id>/complete")
@roles(*STAFF)
def complete(request_id):
    return _one_click(request_id, dpo.complete, "marked as carried out")


@bp.post("/requests/<int:request_id>/deny")
@roles(*STAFF)
def deny(request_id):
    form = DenyForm()
    if not form.validate_on_submit():
        return _detail(request_id, deny_form=form, status=400)
    try:
        denied = dpo.deny(request_id, form.reason.data, current_user, grounds=form.grounds.data or "")
    except ServiceError as e:
        if e.message != dpo.GROUNDS_NEEDED:
            raise
        form.grounds.errors = [e.message]
        return _detail(request_id, deny_form=form, status=400)
    _flash_decision(denied, f"Request {request_id} refused; the person was told why and how to complain.")
    return redirect(url_for("dpo.request_detail", request_id=request_id), 303)


@bp.post("/requests/<int:request_id>/extend")
@roles(*STAFF)
def extend(request_id):
    form = ExtendForm()
    if not form.validate_on_submit():
        return _detail(request_id, extend_form=form, status=400)
    extended = dpo.extend(request_id, form.reason.data, current_user)
    _flash_decision(extended, f"Extended to {extended.due_at:%d %B %Y}; the person was told why.")
    return redirect(url_for("dpo.request_detail", request_id=request_id), 303)


@bp.post("/requests/<int:request_id>/assign")
@roles(*STAFF)
def assign(request_id):
    form = AssignForm()
    form.assignee.choices = _staff_choices()
    if form.validate_on_submit():
        dpo.assign(request_id, form.assignee.data or None, current_user)
        flash("Assignment saved.", "success")
    return redirect(url_for("dpo.request_detail", request_id=request_id), 303)


@bp.post("/requests/<int:request_id>/jurisdiction")
@roles(*STAFF)
def set_jurisdiction(request_id):
    form = JurisdictionForm()
    if form.validate_on_submit():
        changed = dpo.set_jurisdiction(request_id, form.jurisdiction.data, current_user)
        flash(f"Jurisdiction {changed.jurisdiction}: due {changed.due_at:%d %B %Y}.", "success")
    return redirect(url_for("dpo.request_detail", request_id=request_id), 303)


@bp.post("/requests/<int:request_id>/notes")
@roles(*STAFF)
def add_note(request_id):
    form = NoteForm()
    if form.validate_on_submit():
        dpo.add_note(request_id, form.body.data, current_user)
        form = NoteForm(formdata=None)
    elif not request.htmx:
        return _detail(request_id, note_form=form, status=400)
    if request.htmx:
        return render_template("dpo/_notes.html", r=dpo.get_request(request_id), notes=dpo.notes_of(request_id),
                               note_form=form), 200 if not form.errors else 400
    return redirect(url_for("dpo.request_detail", request_id=request_id) + "#notes", 303)


@bp.post("/requests/bulk")
@roles(*STAFF)
def bulk():
    form = BulkForm()
    back = _queue_url(request.form.get("next", ""))
    if not form.validate_on_submit():
        return redirect(back, 303)
    if not form.ids.data:
        flash("Select at least one request first.", "error")
        return redirect(back, 303)
    if form.action.data == "approve":
        outcome = dpo.bulk(form.ids.data, dpo.approve_routine, current_user)
    else:
        assignee = form.assignee.data or None
        outcome = dpo.bulk(form.ids.data, lambda rid, actor: dpo.assign(rid, assignee, actor), current_user)
    flash(outcome.summary("approved" if form.action.data == "approve" else "assigned"),
          "success" if not outcome.skipped else "error")
    return redirect(back, 303)


def _queue_url(candidate: str) -> str:
    """Back to the queue as it was filtered; never anywhere else (no open redirect)."""
    queue = url_for("dpo.request_queue")
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc or parts.path != queue:
        return queue
    return queue + (f"?{parts.query}" if parts.query else "")
