"""A parent or guardian reports a child's data: an expedited erasure request.

The public form asks for the parent's address and the child's. Whatever the child's
address, the answer is the same and the one thing that happens is an email to the
parent with a signed confirmation link: nothing is looked up, so the form tells
nobody whether an address is known. The link proves the parent controls their
address (as an erasure's confirmation link does for the person).

Once confirmed, the child's account gets an erasure request with no cooling-off
(a child's data should go fast; the 14 days protect a person from their own hasty
click, not from a parent's report), due within EXPEDITED_DAYS, marked as a parent's
report (channel "parent_report") and shown first in the DPO queue. The DPO decides:
approving starts the ordinary erasure job. A child's open erasure request is taken
over and expedited. An address with no account leaves only an audit record without
any address in it: there is nothing of the child's to erase under it."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Callable

from app.db import database
from app.models import PrivacyRequest, Profile, RequestEvent, RequestKind, RequestStatus, Role, User
from app.models.base import utcnow
from app.models.user import normalise_email
from app.services.consent.suppression import is_erased
from app.services.platform import audit
from app.services.platform.addresses import email_problem
from app.services.platform.errors import ServiceError
from app.services.platform.outbox import queue_email
from app.services.platform.signed_links import SignedLink
from app.services.rights import requests
from app.services.rights.deadlines import due_date, jurisdiction_for

CHANNEL = "parent_report"
# 7 days: a quarter of the month the GDPR allows. A child's data is the first thing to
# erase (Recital 38, Art. 17(1)(f)), and a week still leaves the DPO time to check
# the report against the account before deciding.
EXPEDITED_DAYS = 7
REPORT_LINK = SignedLink(
    "child-report", timedelta(hours=48),
    expired="This confirmation link has expired (links work for 48 hours). Send the report again: we will "
            "email a fresh link.",
    invalid="This confirmation link is not valid. Copy the whole link from the email.")
RELATIONSHIPS = ("parent", "guardian")
S = RequestStatus
TAKEN_OVER = (S.AWAITING_CONFIRMATION, S.COOLING_OFF, S.PENDING_REVIEW)


@dataclass(frozen=True)
class ChildReport:
    parent_email: str
    child_email: str
    relationship: str
    details: str = ""


def report_child(report: ChildReport, confirm_link: Callable[[str], str]) -> None:
    """Check the form's values and email the parent their confirmation link."""
    report = ChildReport(normalise_email(report.parent_email), normalise_email(report.child_email),
                         report.relationship, report.details.strip()[:2000])
    for label, address in (("Your", report.parent_email), ("The child's", report.child_email)):
        if problem := email_problem(address):
            raise ServiceError(f"{label} email address is {problem}. Enter an address like name@example.com.")
    if report.relationship not in RELATIONSHIPS:
        raise ServiceError("Say whether you are the child's parent or their guardian.")
    if report.parent_email == report.child_email:
        raise ServiceError("Enter your own address and the child's: they are the same here.")
    if is_erased(report.parent_email):
        return  # nothing reaches an erased address; the page answers the same
    queue_email(report.parent_email, "Confirm your report about a child's data", "child_report_confirm",
                expires_at=utcnow() + REPORT_LINK.lifetime, link=confirm_link(REPORT_LINK.make(asdict(report))),
                child_email=report.child_email, hours=int(REPORT_LINK.lifetime.total_seconds() // 3600),
                days=EXPEDITED_DAYS)


def report_for_token(token: str) -> ChildReport:
    try:
        return ChildReport(**REPORT_LINK.read(token))
    except TypeError:
        raise ServiceError(REPORT_LINK.invalid, 400)


def confirm_report(token: str) -> PrivacyRequest | None:
    """The parent followed the link: the child's erasure goes to the DPO, expedited.
    Idempotent. None when no account has the child's address (the caller shows the
    same page either way)."""
    report = report_for_token(token)
    child = User.by_email(report.child_email)
    if child is None or not child.active or child.role != Role.SUBJECT.value:
        audit.record(audit.Event("child_report.unmatched", details={"relationship": report.relationship}))
        return None
    note = (f"Reported by the child's {report.relationship}, who confirmed their address {report.parent_email} "
            f"by email link. Expedited: no cooling-off, due within {EXPEDITED_DAYS} days.")
    with database.atomic():
        open_one = requests.open_request(child, RequestKind.DELETION)
        if open_one is None:
            return _file(child, report, note)
        if open_one.channel == CHANNEL or open_one.status not in [s.value for s in TAKEN_OVER]:
            return open_one  # already reported, or already being carried out
        now = utcnow()
        return requests.move(open_one.id, TAKEN_OVER, S.PENDING_REVIEW, note, report.parent_email,
                             channel=CHANNEL, due_at=min(open_one.due_at, now + timedelta(days=EXPEDITED_DAYS)),
                             confirmed_at=open_one.confirmed_at or now, cooling_off_until=None)


def _file(child: User, report: ChildReport, note: str) -> PrivacyRequest:
    now = utcnow()
    profile = Profile.get_or_none(Profile.user == child.id)
    jurisdiction = jurisdiction_for(profile.country if profile else None)
    due = min(now + timedelta(days=EXPEDITED_DAYS), due_date(now, jurisdiction))
    details = f"Report by the child's {report.relationship} ({report.parent_email})."
    if report.details:
        details += f" Their words: {report.details}"
    request = PrivacyRequest.create(
        user=child, kind=RequestKind.DELETION.value, status=S.PENDING_REVIEW.value, details=details,
        jurisdiction=jurisdiction, channel=CHANNEL, received_at=now, due_at=due, confirmed_at=now,
        receipt_confirmed_at=now)
    RequestEvent.create(request=request, status=S.PENDING_REVIEW.value, note=note, actor_label=report.parent_email)
    audit.record(audit.Event("request.pending_review", subject=child, details={
        "request_id": request.id, "kind": request.kind, "channel": CHANNEL}))
    return request


def is_parent_report(request: PrivacyRequest) -> bool:
    return request.channel == CHANNEL


def open_reports():
    """Open parent reports, soonest due first: what the DPO sees before the rest."""
    return (PrivacyRequest.select(PrivacyRequest, User).join(User, on=(PrivacyRequest.user == User.id))
            .where(PrivacyRequest.channel == CHANNEL, PrivacyRequest.status.in_([s.value for s in requests.OPEN]))
            .order_by(PrivacyRequest.due_at, PrivacyRequest.id))
