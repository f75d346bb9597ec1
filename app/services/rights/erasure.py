"""Erasure (GDPR Art. 17), category by category as the registry says: delete,
anonymise, or keep under a named legal hold. Run by a job; each category is one
transaction and is recorded in the request's report when done, so a killed job
resumes where it stopped and never does a category twice.

The account is closed at the start and anonymised last. The address is kept,
encrypted, until the completion notice and its certificate of erasure are written to
the outbox, in the transaction that completes the erasure; the outbox then sends them
(the person's other outbox rows are erased like any category): a mail server that is
down delays the notice, never the erasure.

Each completed erasure is appended to the erasure log (app.services.rights.erasure_log), which a
backup restore replays so that it brings nobody back."""
from __future__ import annotations

import json
from pathlib import Path

import weasyprint
from flask import current_app, render_template

from app.db import database
from app.models import (
    ALL_MODELS,
    REGISTRY,
    ApiKey,
    AuditEvent,
    ConsentEvent,
    DataExport,
    Job,
    NewsletterIssue,
    OutboxMessage,
    PrivacyRequest,
    RequestEvent,
    RequestNote,
    RequestStatus,
    UploadedFile,
    User,
)
from app.models.base import utcnow
from app.models.fields import Cipher
from app.models.imports import ImportEvidence, SubscriberImport
from app.models.registry import Erasure, PersonalData
from app.services.consent.suppression import ERASURE, suppress
from app.services.platform import audit, jobs, outbox
from app.services.platform.outbox import queue_email
from app.services.rights import audience, erasure_log, legal_holds, requests
from app.services.rights.laws import law_of
from app.services.rights.personal_data import found_under, rows_of

ERASED_LABEL = "erased person #{id}"
NOTICE = "erasure"  # the outbox ref of a completion notice: "erasure:<request id>"


def _erased_email(user_id: int) -> str:
    return f"erased-{user_id}@erased.invalid"


# --- what each strategy does to a category ---------------------------------------

# Work a category needs before its rows go, in the same transaction: a connection's
# grant is queued for revocation at its provider (app.services.integrations.connections
# registers it). Nothing here may call out over the network: an erasure, or its replay
# after a restore, must not wait on another system or need its settings.
BEFORE_DELETE: dict = {}


def _delete(entry: PersonalData, user: User) -> int:
    model = entry.model
    mine = rows_of(entry, user).select(model.id)  # a subquery: no id list, however many rows
    return model.delete().where(model.id.in_(mine)).execute()


def _anonymise_account(user: User) -> int:
    return User.update(email=_erased_email(user.id), name="", password_hash=None, totp_secret=None,
                       totp_last_step=None, active=False, last_login_at=None).where(User.id == user.id).execute()


def _anonymise_api_keys(user: User) -> int:
    return ApiKey.update(created_by=None).where(ApiKey.created_by == user.id).execute()


def _anonymise_issue_authors(user: User) -> int:
    # The issue stays: its deliveries and statistics are about other people.
    return NewsletterIssue.update(created_by=None).where(NewsletterIssue.created_by == user.id).execute()


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


def _hold_request_notes(user: User) -> int:
    return 0  # staff's words about the handling: kept as written, with the request


# Kept rows are stripped of what identifies the person beyond the hold's need.
ANONYMISERS = {User: _anonymise_account, ApiKey: _anonymise_api_keys, NewsletterIssue: _anonymise_issue_authors}
HOLDERS = {AuditEvent: _hold_audit, ConsentEvent: _hold_consent, PrivacyRequest: _hold_requests,
           RequestEvent: _hold_request_events, RequestNote: _hold_request_notes}


# Subscriber imports (app.services.newsletters.subscriber_import): the import stays, since its
# consents belong to the people imported; who ran it is dropped. The evidence of an
# imported consent is kept as written, with the consent record it proves.
def _anonymise_importers(user: User) -> int:
    return SubscriberImport.update(created_by=None).where(SubscriberImport.created_by == user.id).execute()


ANONYMISERS[SubscriberImport] = _anonymise_importers
HOLDERS[ImportEvidence] = lambda user: 0


def _apply(entry: PersonalData, user: User, held: dict[str, legal_holds.Hold]) -> dict:
    rows = rows_of(entry, user).count()
    if entry.category in held:  # the DPO's hold on this request (approved in part)
        hold = held[entry.category]
        return {"category": entry.category, "action": "kept", "rows": rows, "reason": hold.reason, "until": hold.ends}
    if entry.erasure is Erasure.DELETE:
        found = found_under(entry, user)  # for the certificate: what each identifier found
        done = _delete(entry, user)
        return {"category": entry.category, "action": "deleted", "rows": done, "found": found}
    if entry.erasure is Erasure.ANONYMISE:
        ANONYMISERS[entry.model](user)
        return {"category": entry.category, "action": "anonymised", "rows": rows}
    HOLDERS[entry.model](user)
    return {"category": entry.category, "action": "kept", "rows": rows, "reason": entry.hold_reason,
            "until": entry.retention}


# --- the jobs ------------------------------------------------------------------------

def erasure_order() -> list[PersonalData]:
    """Dependents before what they point at; the account (and the labels that
    still name the person) last."""
    entries = [REGISTRY[m] for m in reversed(ALL_MODELS) if m in REGISTRY]
    last = [REGISTRY[m] for m in (AuditEvent, RequestEvent, User)]
    return [e for e in entries if e not in last] + last


@jobs.handler("erasure")
def erase(job: Job, progress: jobs.Progress) -> None:
    request = PrivacyRequest.get(PrivacyRequest.job == job.id)
    if request.status not in (RequestStatus.APPROVED.value, RequestStatus.IN_PROGRESS.value):
        return  # cancelled or already done: an erasure never runs without a live approval
    user = User.get_by_id(request.user_id)
    report = json.loads(request.report or '{"done": [], "notice_to": null}')
    order = erasure_order()
    holds = legal_holds.holds_of(request)
    held = {h.category: h for h in holds}
    progress.total(len(order) + 1)
    with database.atomic():
        if report["notice_to"] is None and not report["done"]:
            # Kept only until the completion notice is sent, and encrypted meanwhile.
            report["notice_to"] = Cipher.get().encrypt(user.email.encode()).decode()
        # Closed at once: no session of theirs adds rows behind the erasure's back.
        User.update(active=False).where(User.id == user.id).execute()
        requests.move(request.id, [RequestStatus.APPROVED], RequestStatus.IN_PROGRESS, "Erasure started.", "system")
        suppress(user.email, ERASURE)
        _save(request, report)
    _delete_files(user, keep_uploads=legal_holds.kept_uploads(holds))
    _erase_categories(user, held, report["done"], lambda: _save(request, report), progress.advance)
    address = Cipher.get().decrypt(report["notice_to"].encode()).decode()
    certificate = certificate_pdf(request, report["done"])
    with database.atomic():
        requests.move(request.id, [RequestStatus.IN_PROGRESS], RequestStatus.COMPLETED, "Erased: " + ", ".join(
            f"{d['category']} ({d['action']})" for d in report["done"]), "system", completed_at=utcnow())
        audit.record(audit.Event("erasure.completed", subject=user, details={"request_id": request.id}))
        # Logged before the commit, so no erasure completes unlogged (a retry may log it
        # twice; the replay after a backup restore is idempotent).
        erasure_log.log_erasure(user, address, holds, request.id)
        _queue_notice(request, report, address, certificate)
    progress.advance()


def _queue_notice(request: PrivacyRequest, report: dict, address: str, certificate: bytes) -> None:
    """The completion notice and its certificate to the outbox, written after the
    person's own outbox rows were erased, so it is the one message that still goes to
    the erased address; the address then lives only in that message, until it is sent."""
    queue_email(address, "Your data has been erased", "erasure_done", ref=f"{NOTICE}:{request.id}",
                attachments=[("certificate-of-erasure.pdf", certificate, "application/pdf")], request_id=request.id)
    report["notice_to"] = None
    _save(request, report)


@outbox.follow_up(NOTICE)
def _forget_address(message: OutboxMessage) -> None:
    """Sent or given up, the notice was the last thing the address was kept for."""
    OutboxMessage.update(recipient="").where(OutboxMessage.id == message.id).execute()


def _erase_categories(user: User, held: dict, done: list[dict], save=lambda: None, advance=lambda: None) -> None:
    """Each category not yet in `done`, in erasure order, in a transaction of its own
    (which `save` joins, recording the category as done)."""
    for entry in erasure_order():
        if entry.category not in {d["category"] for d in done}:
            with database.atomic():
                if entry.model in BEFORE_DELETE and entry.category not in held and entry.erasure is Erasure.DELETE:
                    BEFORE_DELETE[entry.model](user)
                done.append(_apply(entry, user, held))
                save()
        advance()


def erase_again(user: User, holds: list[legal_holds.Hold]) -> list[dict] | None:
    """Re-apply a completed erasure to a person a restored backup brought back
    (app.services.retention.backups): the job's steps, outside its request. None if the account
    is erased already."""
    if user.email == _erased_email(user.id):
        return None
    User.update(active=False).where(User.id == user.id).execute()
    _delete_files(user, keep_uploads=legal_holds.kept_uploads(holds))
    done = []
    _erase_categories(user, {h.category: h for h in holds}, done)
    return done


def _save(request: PrivacyRequest, report: dict) -> None:
    PrivacyRequest.update(report=json.dumps(report)).where(PrivacyRequest.id == request.id).execute()


def _delete_files(user: User, keep_uploads: bool) -> None:
    """Uploads (unless under a hold), and every export archive of theirs, finished or
    half-written."""
    folder = Path(current_app.instance_path)
    # Theirs, and those attached to leads about them (a customer's photo of their card).
    uploads = [] if keep_uploads else rows_of(REGISTRY[UploadedFile], user)
    for f in uploads:
        (folder / "uploads" / f.stored_name).unlink(missing_ok=True)
    for export in DataExport.select(DataExport.id).where(DataExport.user == user.id):
        for path in (folder / "exports").glob(f"export-{export.id}[-.]*"):
            path.unlink(missing_ok=True)


@jobs.handler("erasure_notice")
def send_notices(job: Job, progress: jobs.Progress) -> None:
    """Erasures completed by an earlier version, which sent the notice from this job:
    their notice goes to the outbox now (a job queued before an upgrade still runs)."""
    pending = PrivacyRequest.select().where(PrivacyRequest.status == RequestStatus.COMPLETED.value,
                                            PrivacyRequest.kind == "deletion",
                                            PrivacyRequest.report.contains('"notice_to": "'))
    for request in pending:
        report = json.loads(request.report)
        address = Cipher.get().decrypt(report["notice_to"].encode()).decode()
        certificate = certificate_pdf(request, report["done"])
        with database.atomic():
            _queue_notice(request, report, address, certificate)
        progress.advance()


def certificate_pdf(request: PrivacyRequest, done: list[dict]) -> bytes:
    html = render_template("erasure/certificate.html", request=request, done=done,
                           shown=audience.certificate_rows(done, law_of(request.jurisdiction)),  # the empty folded
                           holds=legal_holds.holds_of(request),
                           kept_uploads=legal_holds.kept_uploads(legal_holds.holds_of(request)),
                           issued_at=utcnow(), controller=current_app.config["CONTROLLER_NAME"],
                           contact=current_app.config["CONTROLLER_CONTACT"])
    return weasyprint.HTML(string=html).write_pdf()
