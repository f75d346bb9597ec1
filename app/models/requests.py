"""Requests people make about their data (GDPR Art. 15-21, CCPA), each with its legal
clock, and the timeline of what happened to it. Also the suppression list."""
from __future__ import annotations

import enum

import peewee

from app.models.base import BaseModel, utcnow
from app.models.jobs import Job
from app.models.registry import Audience, Erasure, LegalBasis, RetentionRule, personal_data
from app.models.user import User


class RequestKind(enum.StrEnum):
    DELETION = "deletion"
    RESTRICTION = "restriction"
    OBJECTION = "objection"
    RECTIFICATION = "rectification"


class RequestStatus(enum.StrEnum):
    AWAITING_CONFIRMATION = "awaiting_confirmation"  # deletion: the emailed link not yet followed
    COOLING_OFF = "cooling_off"                      # deletion: 14 days in which one click cancels
    PENDING_REVIEW = "pending_review"                # waiting for the DPO
    APPROVED = "approved"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    DENIED = "denied"
    CANCELLED = "cancelled"


KIND_LABELS = {RequestKind.DELETION: "Erase my data", RequestKind.RESTRICTION: "Restrict the use of my data",
               RequestKind.OBJECTION: "Object to the use of my data", RequestKind.RECTIFICATION: "Correct my data"}
STATUS_LABELS = {
    RequestStatus.AWAITING_CONFIRMATION: "Waiting for you to confirm from the email",
    RequestStatus.COOLING_OFF: "Confirmed; you can still cancel",
    RequestStatus.PENDING_REVIEW: "Waiting for the privacy team",
    RequestStatus.APPROVED: "Approved",
    RequestStatus.IN_PROGRESS: "In progress",
    RequestStatus.COMPLETED: "Done",
    RequestStatus.DENIED: "Refused",
    RequestStatus.CANCELLED: "Cancelled",
}


@personal_data(
    audience=Audience.END_USERS,
    category="Privacy requests",
    holds="The requests you made about your data (erasure, restriction, objection, correction): what, when, the deadline, the decision and each step.",
    source="You, when you made a request; the privacy team, when they handled it.",
    purpose="To handle your requests within the legal deadlines and show that we did.",
    legal_basis=LegalBasis.LEGAL_OBLIGATION,
    recipients=("Supervisory authorities, on request",),
    retention="24 months after the request was closed, then deleted.",  # its legal ground: hold_reason
    erasure=Erasure.LEGAL_HOLD,
    hold_reason="The record of a request, including an erasure, must be kept for 24 months (CCPA 11 CCR §7101; GDPR Art. 5(2) accountability). Its free-text details are erased.",
    person="user",
    retention_rule=RetentionRule("completed_at", "the request was closed", 730, min_days=730)
)
class PrivacyRequest(BaseModel):
    user = peewee.ForeignKeyField(User, backref="privacy_requests", on_delete="RESTRICT")
    kind = peewee.CharField(max_length=20, index=True)
    status = peewee.CharField(max_length=30, index=True)
    details = peewee.TextField(default="")
    jurisdiction = peewee.CharField(max_length=10, default="GDPR")
    channel = peewee.CharField(max_length=20, default="portal")
    received_at = peewee.DateTimeField(default=utcnow)
    due_at = peewee.DateTimeField(index=True)
    confirmed_at = peewee.DateTimeField(null=True)
    cooling_off_until = peewee.DateTimeField(null=True)
    decided_at = peewee.DateTimeField(null=True)
    completed_at = peewee.DateTimeField(null=True)
    denial_reason = peewee.TextField(null=True)
    job = peewee.ForeignKeyField(Job, null=True, backref="+", on_delete="SET NULL")
    report = peewee.TextField(null=True)  # erasure: JSON of what was deleted, anonymised, kept
    assignee = peewee.ForeignKeyField(User, null=True, backref="assigned_requests", on_delete="SET NULL")
    receipt_confirmed_at = peewee.DateTimeField(null=True)
    extended_at = peewee.DateTimeField(null=True)  # the one extension the law allows
    extension_reason = peewee.TextField(null=True)
    # A deletion approved in part: JSON list of {"category", "reason"} kept under a hold.
    legal_holds = peewee.TextField(null=True)
    # An objection (Art. 21): what the person objects to (a purpose key, "direct_marketing"
    # or "other"; None on objections filed before the choice existed: direct marketing),
    # and the compelling legitimate grounds (Art. 21(1)) when the DPO refused it.
    processing = peewee.CharField(max_length=40, null=True)
    compelling_grounds = peewee.TextField(null=True)

    class Meta:
        indexes = (
            (("due_at", "id"), False),  # the DPO queue's keyset order
            # The DPO dashboard (app.services.rights.dpo_metrics), each covering its query so
            # the table itself is not read: open by kind and overdue; closed in the
            # last 12 months (completed, denied) with their receipt; received per week;
            # per kind and calendar year with the outcome.
            (("status", "kind", "due_at"), False),
            (("status", "completed_at", "received_at"), False),
            (("status", "decided_at", "received_at"), False),
            (("received_at",), False),
            (("kind", "received_at", "status", "completed_at", "decided_at"), False),
        )

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[RequestKind(self.kind)]

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[RequestStatus(self.status)]


# The DPO queue's order over open requests only (partial index; migration 010): a page
# deep in the queue, or of overdue ones, reads open rows alone. PostgreSQL uses it when
# the query's status list is exactly this one, so it must stay app.services.rights.requests.OPEN
# (a test checks it).
QUEUE_STATUSES = (RequestStatus.AWAITING_CONFIRMATION, RequestStatus.COOLING_OFF, RequestStatus.PENDING_REVIEW,
                  RequestStatus.APPROVED, RequestStatus.IN_PROGRESS)
PrivacyRequest.add_index(PrivacyRequest.index(
    PrivacyRequest.due_at, PrivacyRequest.id, name="privacy_request_open_due_at_id",
    where=PrivacyRequest.status.in_([s.value for s in QUEUE_STATUSES])))


@personal_data(
    audience=Audience.END_USERS,
    category="Privacy request timeline",
    holds="Each step of your requests: when it happened, what changed, and who did it.",
    source="Our systems and the privacy team, as your request was handled.",
    purpose="To show you and regulators how each request was handled.",
    legal_basis=LegalBasis.LEGAL_OBLIGATION,
    recipients=("Supervisory authorities, on request",),
    retention="As long as the request it belongs to.",
    erasure=Erasure.LEGAL_HOLD,
    hold_reason="Part of the request record kept 24 months (CCPA 11 CCR §7101); names of people are replaced.",
    person="request.user",
)
class RequestEvent(BaseModel):
    request = peewee.ForeignKeyField(PrivacyRequest, backref="events", on_delete="CASCADE")
    occurred_at = peewee.DateTimeField(default=utcnow)
    status = peewee.CharField(max_length=30)
    note = peewee.TextField(default="")
    actor_label = peewee.CharField(max_length=254)


@personal_data(
    audience=Audience.END_USERS,
    category="Privacy team notes on your requests",
    holds="Notes the privacy team wrote while handling your requests: what they checked and why they decided as they did.",
    source="The privacy team.",
    purpose="To handle your requests consistently and to account for each decision.",
    legal_basis=LegalBasis.LEGAL_OBLIGATION,
    recipients=("Supervisory authorities, on request",),
    retention="As long as the request they belong to.",
    erasure=Erasure.LEGAL_HOLD,
    hold_reason="Part of the record of how a request was handled, kept 24 months (GDPR Art. 5(2) accountability; CCPA 11 CCR §7101).",
    person="request.user",
)
class RequestNote(BaseModel):
    """Internal: shown to staff on the request page, never in the person's portal
    timeline (but included in their export: it is data about them)."""
    request = peewee.ForeignKeyField(PrivacyRequest, backref="notes", on_delete="CASCADE")
    author = peewee.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    author_label = peewee.CharField(max_length=254)
    body = peewee.TextField()
    created_at = peewee.DateTimeField(default=utcnow)


class Suppression(BaseModel):
    """Addresses that must never be imported or mailed again: only a keyed hash (HMAC)
    of the address is kept, so the list itself names nobody."""
    address_hash = peewee.CharField(max_length=64, unique=True)
    reason = peewee.CharField(max_length=40)
    created_at = peewee.DateTimeField(default=utcnow)
