"""Privacy requests: filing, the emailed confirmation of an erasure, the cooling-off
period, cancellation, and the DPO's approval that starts the erasure job."""
from __future__ import annotations

from datetime import timedelta
from typing import Callable

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from app.db import database
from app.models import PrivacyRequest, RequestEvent, RequestKind, RequestStatus, User
from app.models.base import utcnow
from app.services import audit, jobs
from app.services.deadlines import due_date
from app.services.errors import ServiceError
from app.services.mail import send_email

COOLING_OFF = timedelta(days=14)
CONFIRM_LINK_LIFETIME = timedelta(hours=48)
S = RequestStatus
OPEN = (S.AWAITING_CONFIRMATION, S.COOLING_OFF, S.PENDING_REVIEW, S.APPROVED, S.IN_PROGRESS)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="request-confirmation")


def _step(request: PrivacyRequest, status: RequestStatus, note: str, actor: str, **fields) -> None:
    """Move a request on: its row, its timeline and the audit log together."""
    request.status = status.value
    for name, value in fields.items():
        setattr(request, name, value)
    request.save()
    RequestEvent.create(request=request, status=status.value, note=note, actor_label=actor)
    audit.record(audit.Event(f"request.{status.value}", subject=User.get_by_id(request.user_id),
                             details={"request_id": request.id, "kind": request.kind}))


def file_request(user: User, kind: RequestKind, details: str, confirm_link: Callable[[str], str]) -> PrivacyRequest:
    """File a request. An erasure is only real once confirmed from the emailed link;
    asking twice while one is open returns the open one."""
    with database.atomic():
        existing = open_request(user, kind)
        if existing:
            return existing
        now = utcnow()
        request = PrivacyRequest(user=user, kind=kind.value, details=details.strip()[:5000],
                                 received_at=now, due_at=due_date(now))
        if kind is RequestKind.DELETION:
            _step(request, S.AWAITING_CONFIRMATION, "Request received; confirmation link emailed.", user.email)
        else:
            _step(request, S.PENDING_REVIEW, "Request received.", user.email)
    if kind is RequestKind.DELETION:
        send_email(user.email, "Confirm that you want your data erased", "confirm_deletion",
                   link=confirm_link(_serializer().dumps({"r": request.id})),
                   hours=int(CONFIRM_LINK_LIFETIME.total_seconds() // 3600), days=COOLING_OFF.days)
    return request


def open_request(user: User, kind: RequestKind) -> PrivacyRequest | None:
    return (PrivacyRequest.select().where(PrivacyRequest.user == user.id, PrivacyRequest.kind == kind.value,
                                          PrivacyRequest.status.in_([s.value for s in OPEN])).first())


def request_for_token(token: str) -> PrivacyRequest:
    try:
        data = _serializer().loads(token, max_age=int(CONFIRM_LINK_LIFETIME.total_seconds()))
    except SignatureExpired:
        raise ServiceError("This confirmation link has expired (links work for 48 hours). Ask again from My data.", 410)
    except BadSignature:
        raise ServiceError("This confirmation link is not valid. Copy the whole link from the email.", 400)
    request = PrivacyRequest.get_or_none(PrivacyRequest.id == data.get("r"))
    if request is None:
        raise ServiceError("This request no longer exists.", 410)
    return request


def confirm_deletion(token: str) -> PrivacyRequest:
    """The emailed link was followed: the cooling-off period starts. Idempotent."""
    with database.atomic():
        request = request_for_token(token)
        if request.status == S.AWAITING_CONFIRMATION.value:
            now = utcnow()
            _step(request, S.COOLING_OFF, f"Confirmed from the email. Can be cancelled until "
                  f"{now + COOLING_OFF:%d %b %Y}.", "the person, by email link",
                  confirmed_at=now, cooling_off_until=now + COOLING_OFF)
        elif request.status == S.CANCELLED.value:
            raise ServiceError("This request was cancelled. Ask again from My data if you still want it.", 410)
    return request


def cancel_request(user: User, request_id: int) -> PrivacyRequest:
    with database.atomic():
        request = request_of(user, request_id)
        if request.status not in (S.AWAITING_CONFIRMATION.value, S.COOLING_OFF.value, S.PENDING_REVIEW.value):
            raise ServiceError("This request can no longer be cancelled: it is already being carried out.", 409)
        _step(request, S.CANCELLED, "Cancelled by the person.", user.email)
    return request


def request_of(user: User, request_id: int) -> PrivacyRequest:
    request = PrivacyRequest.get_or_none(PrivacyRequest.id == request_id, PrivacyRequest.user == user.id)
    if request is None:
        raise ServiceError("There is no such request.", 404)  # also for other people's
    return request


def requests_of(user: User):
    return PrivacyRequest.select().where(PrivacyRequest.user == user.id).order_by(PrivacyRequest.id.desc())


def end_cooling_off() -> int:
    """Scheduler: confirmed erasures whose 14 days are over go to the DPO."""
    due = list(PrivacyRequest.select().where(PrivacyRequest.status == S.COOLING_OFF.value,
                                             PrivacyRequest.cooling_off_until <= utcnow()))
    for request in due:
        with database.atomic():
            _step(request, S.PENDING_REVIEW, "Cooling-off period over; sent to the privacy team.", "system")
    return len(due)


def approve_request(request_id: int, actor: User | None = None) -> PrivacyRequest:
    """The DPO's yes. An erasure then runs as a job; other kinds are marked done by the
    DPO console (a later issue) - until then approval completes them."""
    with database.atomic():
        request = PrivacyRequest.get_or_none(PrivacyRequest.id == request_id)
        if request is None:
            raise ServiceError(f"No request {request_id}.", 404)
        if request.status != S.PENDING_REVIEW.value:
            raise ServiceError(f"Request {request_id} is {request.status}, not waiting for a decision.", 409)
        who = actor.email if actor else "the privacy team"
        if request.kind == RequestKind.DELETION.value:
            job = jobs.enqueue("erasure")  # belongs to no person: it must outlive the erasure
            _step(request, S.APPROVED, "Approved; erasure scheduled.", who, decided_at=utcnow(), job=job)
        else:
            _step(request, S.COMPLETED, "Approved and carried out.", who, decided_at=utcnow(), completed_at=utcnow())
    return request
