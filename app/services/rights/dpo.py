"""The DPO's side of requests: the queue against the legal clock, and the decisions
(approve, deny with a reason, extend once, assign). Each decision writes the timeline
and the audit log with the acting staff member, and tells the person by email."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import peewee

from app.db import MAX_INTEGER, database
from app.models import (
    OutboxMessage, OutboxStatus, PrivacyRequest, RequestKind, RequestNote, RequestStatus, Role, User,
)
from app.models.base import utcnow
from app.models.user import normalise_email
from app.services.platform import audit, outbox
from app.services.platform.errors import ServiceError
from app.services.platform.outbox import queue_email
from app.services.rights import legal_holds, objections, requests, restrictions
from app.services.rights.deadlines import EXTENDABLE, JURISDICTIONS, due_date, extended_due_date
from app.services.rights.laws import foreign_citations, law_of

PAGE_SIZE = 50
WEEK_DAYS = 7  # "due within 7 days": today and the next seven dates
BULK_LIMIT = PAGE_SIZE  # one page of the queue at a time
S = RequestStatus
DECIDABLE = (S.PENDING_REVIEW,)
OPEN_VALUES = [s.value for s in requests.OPEN]

# The grounds a refusal may give, the right to complain, and every citation come from
# the request's own law (app.services.rights.laws), not from GDPR for everybody.


def denial_reasons(request: PrivacyRequest) -> dict[str, str]:
    """The grounds the DPO may start from (editable before sending), under the request's law."""
    return law_of(request.jurisdiction).refusal_grounds


def _cites_only_its_law(request: PrivacyRequest, text: str) -> None:
    foreign = foreign_citations(text, request.jurisdiction)
    if foreign:
        raise ServiceError(f"This request is handled under {law_of(request.jurisdiction).name}, but the reason "
                           f"cites {' and '.join(law_of(f).name for f in foreign)}: use the grounds listed for "
                           "this request.")

@dataclass(frozen=True)
class QueueFilters:
    kind: str | None = None
    status: str | None = None          # None: every open request
    jurisdiction: str | None = None
    assignee: int | None = None
    due: str | None = None             # "overdue" or "week"
    email: str = ""


@dataclass
class QueuePage:
    requests: list = field(default_factory=list)
    next_cursor: str | None = None


def queue(filters: QueueFilters, after: str | None = None, now: datetime | None = None) -> QueuePage:
    """Requests by due date, soonest first. Keyset pagination on (due_at, id): every
    page costs one indexed range scan, however deep."""
    now = now or utcnow()
    query = (PrivacyRequest.select(PrivacyRequest, User).join(User, on=(PrivacyRequest.user == User.id))
             .order_by(PrivacyRequest.due_at, PrivacyRequest.id))
    query = query.where(PrivacyRequest.status == filters.status) if filters.status else \
        query.where(PrivacyRequest.status.in_(OPEN_VALUES))
    if filters.kind:
        query = query.where(PrivacyRequest.kind == filters.kind)
    if filters.jurisdiction:
        query = query.where(PrivacyRequest.jurisdiction == filters.jurisdiction)
    if filters.assignee:
        query = query.where(PrivacyRequest.assignee == filters.assignee)
    if filters.due:
        query = query.where(due_window(filters.due, now))
    if filters.email.strip():
        query = query.where(User.email == normalise_email(filters.email))
    if after:
        due_at, last_id = _read_cursor(after)
        query = query.where((PrivacyRequest.due_at > due_at) |
                            ((PrivacyRequest.due_at == due_at) & (PrivacyRequest.id > last_id)))
    rows = list(query.limit(PAGE_SIZE + 1))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    cursor = f"{rows[-1].due_at.isoformat()}_{rows[-1].id}" if more else None
    return QueuePage(rows, cursor)


def _read_cursor(cursor: str) -> tuple[datetime, int]:
    """The "next page" cursor `queue` wrote: `<due_at ISO>_<id>`. Anything else (an
    edited or cut-short address) is a bad request, not a crash."""
    due, _, last_id = cursor.partition("_")
    try:
        due_at = datetime.fromisoformat(due).replace(tzinfo=None)  # due dates are naive UTC
        if last_id.isascii() and last_id.isdigit() and int(last_id) <= MAX_INTEGER:
            return due_at, int(last_id)
    except ValueError:
        pass
    raise ServiceError("This page of the queue does not exist: go back to its first page.", 400)


def due_window(due: str, now: datetime) -> peewee.Expression:
    """"overdue" or "week", by calendar date as the words beside each request count
    (`days_left`): a request due at 09:00 today is due today until midnight."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)  # times are naive UTC
    if due == "overdue":
        return PrivacyRequest.due_at < today
    return (PrivacyRequest.due_at >= today) & (PrivacyRequest.due_at < today + timedelta(days=WEEK_DAYS + 1))


def staff() -> list[User]:
    return list(User.select().where(User.role.in_([Role.DPO.value, Role.ADMIN.value]), User.active)
                .order_by(User.name))


def get_request(request_id: int) -> PrivacyRequest:
    request = PrivacyRequest.get_or_none(PrivacyRequest.id == request_id)
    if request is None:
        raise ServiceError("There is no such request.", 404)
    return request


def approve(request_id: int, actor: User, keep: list[str] = (), hold_reason: str = "",
            hold_until: date | None = None) -> PrivacyRequest:
    """Approve; for an erasure, `keep` names categories kept under a legal hold until
    `hold_until` (approved in part), whose ground the person is told with their right
    to complain."""
    request = get_request(request_id)
    if keep and foreign_citations(hold_reason, request.jurisdiction):
        law = law_of(request.jurisdiction)
        raise legal_holds.HoldError("hold_reason", f"This request is handled under {law.name}: cite "
                                                   f"{law.erasure_exceptions}, not another law.")
    holds = legal_holds.holds_for(User.get_by_id(request.user_id), list(keep), hold_reason, hold_until,
                                  utcnow().date())
    with database.atomic():
        request = requests.approve_request(request_id, actor, holds)
        if holds:
            mail = _tell(request, "Your request was approved in part",
                         note=f"We are erasing your data now. {legal_holds.describe(holds)} "
                              f"{law_of(request.jurisdiction).complaint}", what="approved in part", actor=actor)
        else:
            mail = _tell(request, "Your request was approved", note=_approval_note(request), what="approved",
                         actor=actor)
    return _told(request, mail)


def _approval_note(request: PrivacyRequest) -> str:
    """Say exactly what the approval did: what stopped, or that the data is restricted."""
    if request.kind == RequestKind.DELETION.value:
        return "We are carrying it out now."
    if request.kind == RequestKind.OBJECTION.value:
        return objections.processing_of(request).stopped
    if request.kind == RequestKind.RESTRICTION.value:
        return ("Your data is now restricted: we store it but do not use it. We will tell you before we lift "
                "the restriction.")
    return ""


def approve_routine(request_id: int, actor: User) -> PrivacyRequest:
    """Bulk approval: never an erasure, which is irreversible and may need a hold."""
    if get_request(request_id).kind == RequestKind.DELETION.value:
        raise ServiceError("an erasure is approved from its own page, where categories can be kept under a "
                           "legal hold.", 409)
    return approve(request_id, actor)


@dataclass
class BulkOutcome:
    done: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)  # id: why

    def summary(self, verb: str) -> str:
        said = [f"{len(self.done)} request{'s' if len(self.done) != 1 else ''} {verb}"
                + (f" ({', '.join(f'#{i}' for i in self.done)})" if self.done else "") + "."]
        said += [f"#{i} not {verb}: {why}" for i, why in self.skipped.items()]
        return " ".join(said)


def bulk(request_ids: list[int], act, actor: User) -> BulkOutcome:
    """Routine requests in one go: each one on its own, so one that cannot be
    decided (already decided, cancelled meanwhile) is reported and the rest go on."""
    outcome = BulkOutcome()
    for request_id in sorted(set(request_ids))[:BULK_LIMIT]:
        try:
            act(request_id, actor)
            outcome.done.append(request_id)
        except ServiceError as e:
            outcome.skipped[request_id] = str(e)
    return outcome


def add_note(request_id: int, body: str, actor: User) -> RequestNote:
    """An internal note: for the privacy team, not the person's portal."""
    request = get_request(request_id)
    body = body.strip()
    if not body:
        raise ServiceError("Write the note first.")
    with database.atomic():
        note = RequestNote.create(request=request, author=actor, author_label=actor.email, body=body[:4000])
        audit.record(audit.Event("request.note_added", actor=actor, subject=User.get_by_id(request.user_id),
                                 details={"request_id": request.id, "note_id": note.id}))
    return note


def notes_of(request_id: int) -> list[RequestNote]:
    return list(RequestNote.select().where(RequestNote.request == request_id).order_by(RequestNote.id))


def set_jurisdiction(request_id: int, jurisdiction: str, actor: User) -> PrivacyRequest:
    """Correct the first guess (from the person's country): the clock is recomputed
    from the receipt date by the new rules, with the extension if one was granted and
    it would have been valid under them."""
    request = get_request(request_id)
    if jurisdiction not in JURISDICTIONS:
        raise ServiceError("Choose one of the listed jurisdictions.")
    if request.status not in OPEN_VALUES:
        raise ServiceError("Only an open request's jurisdiction can be changed.", 409)
    if jurisdiction == request.jurisdiction:
        return request
    due = due_date(request.received_at, jurisdiction)
    if request.extended_at:
        if jurisdiction not in EXTENDABLE:
            raise ServiceError(f"{jurisdiction} allows no extension, and this request was extended.", 409)
        if request.extended_at > due:
            raise ServiceError(f"The person was told of the extension on {request.extended_at:%d %b %Y}, after "
                               f"the {jurisdiction} due date ({due:%d %b %Y}): under {jurisdiction} it would "
                               "not be valid.", 409)
        due = extended_due_date(due, jurisdiction)
    with database.atomic():
        changed = PrivacyRequest.update(jurisdiction=jurisdiction, due_at=due).where(
            PrivacyRequest.id == request.id, *_unchanged_clock(request)).execute()
        if not changed:
            raise ServiceError(CHANGED_MEANWHILE, 409)
        requests.log(request, f"Jurisdiction changed from {request.jurisdiction} to {jurisdiction}; "
                              f"due {due:%d %b %Y}.", actor)
    return get_request(request_id)


CHANGED_MEANWHILE = "Someone changed this request's deadline meanwhile: reload the page and check it."


def _unchanged_clock(request: PrivacyRequest) -> list:
    """Guards for an UPDATE of the clock: it still is as this copy of the row saw it,
    so an extension and a change of jurisdiction racing cannot overwrite each other."""
    extended = (PrivacyRequest.extended_at.is_null(False) if request.extended_at
                else PrivacyRequest.extended_at.is_null())
    return [PrivacyRequest.jurisdiction == request.jurisdiction, PrivacyRequest.due_at == request.due_at, extended]


def complete(request_id: int, actor: User) -> PrivacyRequest:
    """An approved correction or restriction has been carried out (erasures complete
    themselves, by their job)."""
    request = get_request(request_id)
    if request.kind == RequestKind.DELETION.value:
        raise ServiceError("An erasure completes itself when its job has run.", 409)
    with database.atomic():
        done = requests.move(request_id, [S.APPROVED], S.COMPLETED, "Carried out.", actor.email, actor,
                             completed_at=utcnow())
        if done is None:
            raise ServiceError("Only an approved request can be marked as carried out.", 409)
        mail = _tell(done, "Your request is done", note="", what="carried out", actor=actor)
    return _told(done, mail)


GROUNDS_NEEDED = ("An objection is refused only on compelling legitimate grounds that override the person's "
                  "interests (GDPR Art. 21(1)): write them out.")


def deny(request_id: int, reason: str, actor: User, grounds: str = "") -> PrivacyRequest:
    """Refuse, with the reason the person reads. An objection the DPO weighs also needs
    the compelling legitimate grounds (Art. 21(1)), kept on the request and in its
    timeline; direct marketing has none to weigh (it is absolute)."""
    if len(reason.strip()) < 10:
        raise ServiceError("Give the person the reason for the refusal, with its legal ground.")
    request, grounds = get_request(request_id), grounds.strip()
    _cites_only_its_law(request, reason)
    weighed = request.kind == RequestKind.OBJECTION.value and not objections.processing_of(request).absolute
    if weighed and len(grounds) < 20:
        raise ServiceError(GROUNDS_NEEDED)
    note = f"Refused: {reason.strip()}" + (f" Compelling legitimate grounds: {grounds}" if weighed else "")
    said = f"{reason.strip()} Our compelling legitimate grounds: {grounds}" if weighed else reason.strip()
    with database.atomic():
        denied = requests.move(request_id, DECIDABLE, S.DENIED, note, actor.email, actor, decided_at=utcnow(),
                               denial_reason=reason.strip(), compelling_grounds=grounds[:4000] if weighed else None)
        if denied is None:
            raise ServiceError("This request is not waiting for a decision.", 409)
        mail = _tell(denied, "Your request was refused", note=f"{said} {law_of(denied.jurisdiction).complaint}",
                     what="denied", actor=actor)
    return _told(denied, mail)


def extend(request_id: int, reason: str, actor: User) -> PrivacyRequest:
    """The one extension the law allows, with its reason, told to the person before
    the original due date."""
    request = get_request(request_id)
    if request.extended_at:
        raise ServiceError("This request was already extended once: the law allows no second extension.", 409)
    if request.status not in OPEN_VALUES:
        raise ServiceError("Only an open request can be extended.", 409)
    if request.jurisdiction not in EXTENDABLE:
        raise ServiceError(f"{request.jurisdiction} allows no extension.", 409)
    if utcnow() > request.due_at:
        raise ServiceError("Too late: the person must be told of an extension before the original due date.", 409)
    if len(reason.strip()) < 10:
        raise ServiceError("Give the reason for the extension: the person will read it.")
    new_due = extended_due_date(request.due_at, request.jurisdiction)
    with database.atomic():
        changed = PrivacyRequest.update(due_at=new_due, extended_at=utcnow(), extension_reason=reason.strip()).where(
            PrivacyRequest.id == request.id, *_unchanged_clock(request)).execute()
        if not changed:
            raise ServiceError(CHANGED_MEANWHILE, 409)
        requests.log(request, f"Extended to {new_due:%d %b %Y}: {reason.strip()}", actor)
        request = get_request(request_id)
        mail = _tell(request, "We need more time for your request", what="extended", actor=actor,
                     note=f"We will answer by {new_due:%d %B %Y}. Why: {reason.strip()}")
    return _told(request, mail)


def assign(request_id: int, assignee_id: int | None, actor: User) -> PrivacyRequest:
    request = get_request(request_id)
    assignee = User.get_or_none(User.id == assignee_id, User.role.in_([Role.DPO.value, Role.ADMIN.value]),
                                User.active) if assignee_id else None
    if assignee_id and assignee is None:
        raise ServiceError("Requests can only be assigned to the privacy team.")
    with database.atomic():
        PrivacyRequest.update(assignee=assignee).where(PrivacyRequest.id == request.id).execute()
        requests.log(request, f"Assigned to {assignee.display_name if assignee else 'nobody'}.", actor)
    return get_request(request_id)


def _tell(request: PrivacyRequest, subject: str, note: str, what: str,
          actor: User | None) -> OutboxMessage | None:
    """Email the person about a decision, in the decision's transaction (the outbox
    delivers it, retrying while the mail server is down). If it cannot be delivered,
    the decision stands: the timeline says the person was not told. A decision that
    closes a correction or an objection also ends the restriction that applied while
    it was pending: its email says so first (Art. 18(3)), and the restriction ends when
    that email is delivered; if it never is, the restriction stays."""
    person = User.get_by_id(request.user_id)
    closing = request.status in (S.COMPLETED.value, S.DENIED.value) and restrictions.pending_on(request)
    if closing:
        note = f"{note} {restrictions.ENDS_WITH_DECISION}".strip()
    if not person.active:  # erased or closed: nobody to tell
        if closing:
            restrictions.end_with_decision(request, actor, True)
        return None
    return queue_email(person.email, f"{subject} (request {request.id})", "request_decided",
                       ref=f"{'closing' if closing else 'decision'}:{request.id}", request=request, what=what,
                       note=note)


def _told(request: PrivacyRequest, mail: OutboxMessage | None) -> PrivacyRequest:
    """The request, saying how its email went at the first attempt (made at commit):
    `mail_status` None when there was nobody to email; `told` once delivered."""
    request.mail_status = outbox.status_of(mail) if mail else None
    request.told = request.mail_status in (None, OutboxStatus.SENT)
    return request


NOT_TOLD = "The email about this decision could not be sent: tell the person another way ({error})."


@outbox.follow_up("decision")
def _decision_mail_outcome(message: OutboxMessage) -> None:
    request = PrivacyRequest.get_or_none(PrivacyRequest.id == outbox.ref_id(message))
    if request is not None and message.status != OutboxStatus.SENT.value:
        requests.log(request, NOT_TOLD.format(error=message.last_error or message.status), None)


@outbox.follow_up("closing")
def _closing_mail_outcome(message: OutboxMessage) -> None:
    """The restriction pending on the request ends once the person was told (Art. 18(3))."""
    request = PrivacyRequest.get_or_none(PrivacyRequest.id == outbox.ref_id(message))
    if request is None:
        return
    if message.status == OutboxStatus.SENT.value:
        restrictions.end_with_decision(request, None, True)
    else:
        requests.log(request, NOT_TOLD.format(error=message.last_error or message.status)
                     + " Its restriction stays until you lift it from the restrictions page, which tells them first.",
                     None)
