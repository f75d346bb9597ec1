"""Erasure (GDPR Art. 17), category by category as the registry says: delete,
anonymise, or keep under a named legal hold. Run by a job; each category is one
transaction and is recorded in the request's report when done, so a killed job
resumes where it stopped and never does a category twice.

The account itself goes last: until then the person's address is still known, for
the completion notice and its certificate of erasure."""
from __future__ import annotations

import json
from pathlib import Path

import weasyprint
from flask import current_app, render_template

from app.db import database
from app.models import (
    REGISTRY, ALL_MODELS, ApiKey, AuditEvent, ConsentEvent, DataExport, Job, PrivacyRequest, RequestEvent,
    RequestStatus, UploadedFile, User,
)
from app.models.base import utcnow
from app.models.registry import Erasure, PersonalData
from app.services import audit, jobs
from app.services.mail import send_email
from app.services.personal_data import rows_of
from app.services.suppression import suppress

ERASED_LABEL = "erased person #{id}"


def _erased_email(user_id: int) -> str:
    return f"erased-{user_id}@erased.invalid"


# --- what each strategy does to a category ---------------------------------------

def _delete(entry: PersonalData, user: User) -> int:
    model = entry.model
    ids = [r.id for r in rows_of(entry, user).select(model.id)]
    if model is UploadedFile:
        for f in UploadedFile.select().where(UploadedFile.id.in_(ids)):
            (Path(current_app.instance_path) / "uploads" / f.stored_name).unlink(missing_ok=True)
    if model is DataExport:
        for e in DataExport.select().where(DataExport.id.in_(ids), DataExport.file_name.is_null(False)):
            (Path(current_app.instance_path) / "exports" / e.file_name).unlink(missing_ok=True)
    return model.delete().where(model.id.in_(ids)).execute() if ids else 0


def _anonymise_account(user: User) -> int:
    return User.update(email=_erased_email(user.id), name="", password_hash=None, totp_secret=None,
                       totp_last_step=None, active=False, last_login_at=None).where(User.id == user.id).execute()


def _anonymise_api_keys(user: User) -> int:
    return ApiKey.update(created_by=None).where(ApiKey.created_by == user.id).execute()


def _hold_audit(user: User) -> int:
    return audit.pseudonymise_person(user.id)


def _hold_consent(user: User) -> int:
    return ConsentEvent.update(actor_label=ERASED_LABEL.format(id=user.id), ip=None, user_agent="").where(
        ConsentEvent.user == user.id).execute()


def _hold_requests(user: User) -> int:
    return PrivacyRequest.update(details="").where(PrivacyRequest.user == user.id).execute()


def _hold_request_events(user: User) -> int:
    mine = PrivacyRequest.select(PrivacyRequest.id).where(PrivacyRequest.user == user.id)
    return RequestEvent.update(actor_label=ERASED_LABEL.format(id=user.id)).where(
        RequestEvent.request.in_(mine), RequestEvent.actor_label == user.email).execute()


# Kept rows are stripped of what identifies the person beyond the hold's need.
ANONYMISERS = {User: _anonymise_account, ApiKey: _anonymise_api_keys}
HOLDERS = {AuditEvent: _hold_audit, ConsentEvent: _hold_consent, PrivacyRequest: _hold_requests,
           RequestEvent: _hold_request_events}


def _apply(entry: PersonalData, user: User) -> dict:
    rows = rows_of(entry, user).count()
    if entry.erasure is Erasure.DELETE:
        done = _delete(entry, user)
        return {"category": entry.category, "action": "deleted", "rows": done}
    if entry.erasure is Erasure.ANONYMISE:
        ANONYMISERS[entry.model](user)
        return {"category": entry.category, "action": "anonymised", "rows": rows}
    HOLDERS[entry.model](user)
    return {"category": entry.category, "action": "kept", "rows": rows, "reason": entry.hold_reason,
            "until": entry.retention}


# --- the job -------------------------------------------------------------------------

def erasure_order() -> list[PersonalData]:
    """Dependents before what they point at; the account (and the labels that
    still name the person) last."""
    entries = [REGISTRY[m] for m in reversed(ALL_MODELS) if m in REGISTRY]
    last = [REGISTRY[m] for m in (AuditEvent, RequestEvent, User)]
    return [e for e in entries if e not in last] + last


@jobs.handler("erasure")
def erase(job: Job, progress: jobs.Progress) -> None:
    request = PrivacyRequest.get(PrivacyRequest.job == job.id)
    user = User.get_by_id(request.user_id)
    report = json.loads(request.report or '{"done": [], "notice_sent": false, "address_seen": null}')
    if report["address_seen"] is None:
        report["address_seen"] = user.email  # kept in the report only until the notice is sent
    order = erasure_order()
    progress.total(len(order) + 1)
    with database.atomic():
        if request.status == RequestStatus.APPROVED.value:
            PrivacyRequest.update(status=RequestStatus.IN_PROGRESS.value).where(PrivacyRequest.id == request.id).execute()
            RequestEvent.create(request=request, status=RequestStatus.IN_PROGRESS.value, note="Erasure started.",
                                actor_label="system")
        suppress(user.email, "erasure")
    for entry in order:
        if entry.model is User and not report["notice_sent"]:
            _send_notice(request, report)
        if entry.category not in {d["category"] for d in report["done"]}:
            with database.atomic():
                report["done"].append(_apply(entry, user))
                PrivacyRequest.update(report=json.dumps(report)).where(PrivacyRequest.id == request.id).execute()
        progress.advance()
    with database.atomic():
        PrivacyRequest.update(status=RequestStatus.COMPLETED.value, completed_at=utcnow(),
                              report=json.dumps(report)).where(PrivacyRequest.id == request.id).execute()
        RequestEvent.create(request=request, status=RequestStatus.COMPLETED.value, actor_label="system",
                            note="Erased: " + ", ".join(f"{d['category']} ({d['action']})" for d in report["done"]))
        audit.record(audit.Event("erasure.completed", subject=user, details={"request_id": request.id}))
    progress.advance()


def _send_notice(request: PrivacyRequest, report: dict) -> None:
    """The completion notice with its certificate, sent before the address is erased."""
    pdf = certificate_pdf(request, report["done"], pending=[e.category for e in erasure_order()
                                                            if e.category not in {d["category"] for d in report["done"]}])
    send_email(report["address_seen"], "Your data has been erased", "erasure_done",
               attachments=[("certificate-of-erasure.pdf", pdf, "application/pdf")], request_id=request.id)
    report["notice_sent"], report["address_seen"] = True, None  # the address is not needed any more
    PrivacyRequest.update(report=json.dumps(report)).where(PrivacyRequest.id == request.id).execute()


def certificate_pdf(request: PrivacyRequest, done: list[dict], pending: list[str]) -> bytes:
    html = render_template("erasure/certificate.html", request=request, done=done, pending=pending,
                           issued_at=utcnow(), controller=current_app.config["CONTROLLER_NAME"],
                           contact=current_app.config["CONTROLLER_CONTACT"])
    return weasyprint.HTML(string=html).write_pdf()
