"""Privacy requests: filing, the emailed confirmation of an erasure, the cooling-off
period, cancellation, and the DPO's approval that starts the erasure job.

Every change of status is a guarded UPDATE (`… WHERE status IN (expected)`): of a
cancellation and an approval racing, exactly one wins, and a stale copy of a row can
never write an old status back."""
from __future__ import annotations

from datetime import timedelta
from typing import Callable, Iterable

from app.db import database, is_postgres
from app.models import PrivacyRequest, Profile, RequestEvent, RequestKind, RequestStatus, User
from app.models.base import utcnow
from app.services.platform import audit, jobs
from app.services.platform.errors import ServiceError
from app.services.platform.outbox import queue_email
from app.services.platform.signed_links import SignedLink
from app.services.rights import legal_holds, objections, restrictions
from app.services.rights.deadlines import due_date, jurisdiction_for

COOLING_OFF = timedelta(days=14)
CONFIRM_LINK_LIFETIME = timedelta(hours=48)
S = RequestStatus
OPEN = (S.AWAITING_CONFIRMATION, S.COOLING_OFF, S.PENDING_REVIEW, S.APPROVED, S.IN_PROGRESS)
CANCELLABLE = (S.AWAITING_CONFIRMATION, S.COOLING_OFF, S.PENDING_REVIEW)


CONFIRMATION_LINK = SignedLink(
    "request-confirmation", CONFIRM_LINK_LIFETIME,
    expired="This confirmation link has expired (links work for 48 hours). "
            "Ask again from the Requests page: we will send a fresh one.",
    invalid="This confirmation link is not valid. Copy the whole link from the email.")


def move(request_id: int, expected: Iterable[RequestStatus], to: RequestStatus, note: str, actor: str,
         acting_user: User | None = None, audit_details: dict | None = None, **fields) -> PrivacyRequest | None:
    """Move a request on if, and only if, it is still in an expected status: its row,
    its timeline and the audit log together. None when it was not. A request that
    closes (done, refused or cancelled) gets its closing time, from which retention
    counts its 24 months."""
    if to in (S.COMPLETED, S.DENIED, S.CANCELLED):
        fields.setdefault("completed_at", utcnow())
    with database.atomic():
        moved = (PrivacyRequest.update(status=to.value, **fields)
                 .where(PrivacyRequest.id == request_id, PrivacyRequest.status.in_([s.value for s in expected]))
                 .execute())
        if not moved:
            return None
        request = PrivacyRequest.get_by_id(request_id)
        RequestEvent.create(request=request, status=to.value, note=note, actor_label=actor)
        audit.record(audit.Event(f"request.{to.value}", actor=acting_user, subject=User.get_by_id(request.user_id),
                                 details={"request_id": request.id, "kind": request.kind, **(audit_details or {})}))
    return request


def log(request: PrivacyRequest, note: str, actor: User | None) -> None:
    """A step that changes no status (an assignment, an extension): timeline and audit.
    No `actor`: the system did it (the outbox, giving up on an email)."""
    RequestEvent.create(request=request, status=request.status, note=note,
                        actor_label=actor.email if actor else "system")
    audit.record(audit.Event("request.updated", actor=actor, subject=User.get_by_id(request.user_id),
                             details={"request_id": request.id, "note": note[:200]}))


def file_request(user: User, kind: RequestKind, details: str, confirm_link: Callable[[str], str],
                 notify: bool = True, processing: str | None = None) -> PrivacyRequest:
    """File a request. An erasure is only real once confirmed from the emailed link.
    Asking again while one is open returns the open one; an unconfirmed erasure gets
    a fresh link (the first email may never have arrived). An objection names what it
    objects to (`processing`, see app.services.rights.objections); a correction or an
    objection the DPO must weigh restricts the person's data until it is decided."""
    objected = objections.check(processing, details) if kind is RequestKind.OBJECTION else None
    with database.atomic():
        _lock_person(user)
        request = open_request(user, kind, objected.key if objected else None)
        if request is None:
            now = utcnow()
            first = S.AWAITING_CONFIRMATION if kind is RequestKind.DELETION else S.PENDING_REVIEW
            profile = Profile.get_or_none(Profile.user == user.id)
            jurisdiction = jurisdiction_for(profile.country if profile else None)
            request = PrivacyRequest.create(user=user, kind=kind.value, details=details.strip()[:5000],
                                            received_at=now, due_at=due_date(now, jurisdiction),
                                            jurisdiction=jurisdiction, status=first.value, receipt_confirmed_at=now,
                                            processing=objected.key if objected else None)
            RequestEvent.create(request=request, status=first.value, actor_label=user.email,
                                note="Request received" + ("; confirmation link emailed." if first is
                                                           S.AWAITING_CONFIRMATION else "."))
            audit.record(audit.Event(f"request.{first.value}", actor=user, subject=user,
                                     details={"request_id": request.id, "kind": kind.value}))
            if objected and objected.absolute:  # no balancing to do: it takes effect now (Art. 21(3))
                objections.carry_out(request, None)
                request = move(request.id, [S.PENDING_REVIEW], S.COMPLETED, objected.stopped, "system", user,
                               decided_at=now)
            else:
                restrictions.start_while_pending(request)
        if notify:  # imports and demo data: recorded, nobody emailed
            _tell_filed(user, request, confirm_link)
    return request


def _tell_filed(user: User, request: PrivacyRequest, confirm_link: Callable[[str], str]) -> None:
    """The email a filing sends, to the outbox in the filing's transaction."""
    if request.status == S.AWAITING_CONFIRMATION.value:
        queue_email(user.email, "Confirm that you want your data erased", "confirm_deletion",
                    expires_at=utcnow() + CONFIRM_LINK_LIFETIME,
                    link=confirm_link(CONFIRMATION_LINK.make({"r": request.id})),
                    hours=int(CONFIRM_LINK_LIFETIME.total_seconds() // 3600), days=COOLING_OFF.days)
    elif request.status == S.COMPLETED.value:  # an objection to direct marketing: done on filing
        queue_email(user.email, f"Your objection took effect (request {request.id})", "request_decided",
                    ref=f"request:{request.id}", request=request, what="carried out at once",
                    note=objections.processing_of(request).stopped)
    elif request.received_at == request.receipt_confirmed_at:  # just filed: confirm receipt (CCPA §7021)
        queue_email(user.email, f"We received your request {request.id}", "request_received",
                    ref=f"request:{request.id}", request=request)


def _lock_person(user: User) -> None:
    if is_postgres():
        database.execute_sql("SELECT id FROM users WHERE id = %s FOR UPDATE", (user.id,))


def open_request(user: User, kind: RequestKind, processing: str | None = None) -> PrivacyRequest | None:
    """The person's open request of that kind; for an objection, to that same processing."""
    query = PrivacyRequest.select().where(PrivacyRequest.user == user.id, PrivacyRequest.kind == kind.value,
                                          PrivacyRequest.status.in_([s.value for s in OPEN]))
    if processing is not None:
        query = query.where(PrivacyRequest.processing == processing)
    return query.first()


def request_for_token(token: str) -> PrivacyRequest:
    data = CONFIRMATION_LINK.read(token)
    request = PrivacyRequest.get_or_none(PrivacyRequest.id == data.get("r"),
                                         PrivacyRequest.kind == RequestKind.DELETION.value)
    if request is None:
        raise ServiceError("This request no longer exists.", 410)
    return request


def confirm_deletion(token: str) -> PrivacyRequest:
    """The emailed link was followed: the cooling-off period starts. Idempotent."""
    request = request_for_token(token)
    now = utcnow()
    moved = move(request.id, [S.AWAITING_CONFIRMATION], S.COOLING_OFF,
                 f"Confirmed from the email. Can be cancelled until {now + COOLING_OFF:%d %b %Y}.",
                 "the person, by email link", confirmed_at=now, cooling_off_until=now + COOLING_OFF)
    request = moved or PrivacyRequest.get_by_id(request.id)
    if request.status == S.CANCELLED.value:
        raise ServiceError("This request was cancelled. Ask again from the Requests page if you still want it.", 410)
    return request


def cancel_request(user: User, request_id: int) -> PrivacyRequest:
    request_of(user, request_id)  # 404 for other people's
    with database.atomic():
        cancelled = move(request_id, CANCELLABLE, S.CANCELLED, "Cancelled by the person.", user.email)
        if cancelled is None:
            raise ServiceError("This request can no longer be cancelled: it is already being carried out.", 409)
        restrictions.end_on_cancel(cancelled, user.email)
    return cancelled


def request_of(user: User, request_id: int) -> PrivacyRequest:
    request = PrivacyRequest.get_or_none(PrivacyRequest.id == request_id, PrivacyRequest.user == user.id)
    if request is None:
        raise ServiceError("There is no such request.", 404)  # also for other people's
    return request


def requests_of(user: User):
    return PrivacyRequest.select().where(PrivacyRequest.user == user.id).order_by(PrivacyRequest.id.desc())


def end_cooling_off() -> int:
    """Scheduler: confirmed erasures whose 14 days are over go to the privacy team."""
    due = PrivacyRequest.select(PrivacyRequest.id).where(PrivacyRequest.status == S.COOLING_OFF.value,
                                                         PrivacyRequest.cooling_off_until <= utcnow())
    moved = [move(r.id, [S.COOLING_OFF], S.PENDING_REVIEW, "Cooling-off period over; sent to the privacy team.",
                  "system") for r in list(due)]
    return len([m for m in moved if m])


def approve_request(request_id: int, actor: User | None = None,
                    holds: list[legal_holds.Hold] = ()) -> PrivacyRequest:
    """The DPO's yes. An erasure then runs as a job, leaving alone what `holds` keeps
    (approved in part); an objection stops exactly what it objects to, at once; a
    restriction is in force at once; a correction stays approved until the privacy
    team has carried it out."""
    request = PrivacyRequest.get_or_none(PrivacyRequest.id == request_id)
    if request is None:
        raise ServiceError(f"No request {request_id}.", 404)
    if holds and request.kind != RequestKind.DELETION.value:
        raise ServiceError("Only an erasure can be approved in part.")
    who = actor.email if actor else "the privacy team"
    with database.atomic():
        if request.kind == RequestKind.DELETION.value:
            job = jobs.enqueue("erasure")  # belongs to no person: it must outlive the erasure
            note = (f"Approved in part; erasure scheduled. {legal_holds.describe(holds)}" if holds
                    else "Approved; erasure scheduled.")
            approved = move(request_id, [S.PENDING_REVIEW], S.APPROVED, note, who, actor, decided_at=utcnow(),
                            job=job, legal_holds=legal_holds.to_json(holds),
                            audit_details={"kept": [h.category for h in holds]} if holds else None)
        else:
            approved = move(request_id, [S.PENDING_REVIEW], S.APPROVED, "Approved.", who, actor, decided_at=utcnow())
        if approved is None:
            raise ServiceError(f"Request {request_id} is {request.status}, not waiting for a decision.", 409)
        if request.kind == RequestKind.OBJECTION.value:
            stopped = objections.carry_out(approved, actor)
            if stopped.key != objections.OTHER:  # "something else" is marked done by the privacy team
                approved = move(request_id, [S.APPROVED], S.COMPLETED, stopped.stopped, who, actor,
                                completed_at=utcnow())
        elif request.kind == RequestKind.RESTRICTION.value:
            restrictions.start_approved(approved, actor)
            approved = move(request_id, [S.APPROVED], S.COMPLETED, "Carried out.", who, actor, completed_at=utcnow())
    return approved

