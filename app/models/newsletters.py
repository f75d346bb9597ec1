"""Newsletters (subscription types) and the subscriptions waiting for the person's
confirmation. A newsletter is a marketing purpose: subscribing is consent to it, in
the consent ledger like any other (app.services.consent.ledger), so /preferences, "stop
all marketing", receipts and the DPO's withdrawal figures cover newsletters too."""
from __future__ import annotations

import enum

import peewee

from app.models.base import BaseModel, utcnow
from app.models.consent import Purpose
from app.models.jobs import Job
from app.models.registry import Audience, Erasure, LegalBasis, RetentionRule, personal_data
from app.models.user import User


class Newsletter(BaseModel):
    purpose = peewee.ForeignKeyField(Purpose, unique=True, backref="newsletter", on_delete="RESTRICT")
    topic = peewee.CharField(max_length=80, default="")
    double_opt_in = peewee.BooleanField(default=True)
    created_at = peewee.DateTimeField(default=utcnow)
    archived_at = peewee.DateTimeField(null=True)


@personal_data(
    audience=Audience.END_USERS,
    category="Newsletter sign-ups awaiting confirmation",
    holds="Newsletters you were signed up to but have not confirmed yet: which, when, how, and the evidence given.",
    source="You, or our sales team or an import, when you were signed up.",
    purpose="To ask you to confirm before we send you anything (double opt-in).",
    legal_basis=LegalBasis.CONSENT,
    recipients=("Email delivery provider (sub-processor), for the confirmation email",),
    retention="30 days, then deleted if not confirmed.",
    erasure=Erasure.DELETE,
    person="user",
)
class PendingSubscription(BaseModel):
    newsletter = peewee.ForeignKeyField(Newsletter, backref="pending", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="pending_subscriptions", on_delete="CASCADE")
    source = peewee.CharField(max_length=20)  # a ConsentSource value
    evidence = peewee.TextField(default="")   # e.g. the import's consent column
    requested_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField(index=True)

    class Meta:
        indexes = ((("newsletter", "user"), True),)


class IssueStatus(enum.StrEnum):
    DRAFT = "draft"
    SENDING = "sending"
    SENT = "sent"


@personal_data(
    audience=Audience.STAFF,
    category="Newsletter issues you wrote (staff)",
    for_customers=False,
    holds="For sales staff: the newsletter issues you wrote, when, and when they were sent.",
    source="Our systems, when a staff member composes or sends an issue.",
    purpose="To know who sent what to subscribers.",
    legal_basis=LegalBasis.LEGITIMATE_INTEREST,
    recipients=("None",),
    retention="As long as the newsletter exists.",
    erasure=Erasure.ANONYMISE,  # the issue stays (its deliveries belong to others); the author is dropped
    person="created_by",
)
class NewsletterIssue(BaseModel):
    newsletter = peewee.ForeignKeyField(Newsletter, backref="issues", on_delete="CASCADE")
    subject = peewee.CharField(max_length=200)
    body = peewee.TextField()  # plain text as written by sales; links are rendered when mailed
    created_by = peewee.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow)
    status = peewee.CharField(max_length=10, default=IssueStatus.DRAFT.value)
    job = peewee.ForeignKeyField(Job, null=True, unique=True, backref="+", on_delete="SET NULL")
    sent_count = peewee.IntegerField(default=0)
    sent_at = peewee.DateTimeField(null=True)


@personal_data(
    audience=Audience.END_USERS,
    category="Newsletter issues sent to you",
    holds="Which newsletter issues we emailed you, and when.",
    source="Our mail system, when it sent you an issue.",
    purpose="To send each issue to each subscriber once, and to show what we sent.",
    legal_basis=LegalBasis.CONSENT,
    recipients=("Email delivery provider (sub-processor)",),
    retention="24 months.",
    erasure=Erasure.DELETE,
    person="user",
    retention_rule=RetentionRule("claimed_at", "the issue was sent", 730)
)
class IssueDelivery(BaseModel):
    """One per issue and person, written before the message goes out: a re-run of a
    killed sending job skips everyone who has one (at most once, never twice)."""
    issue = peewee.ForeignKeyField(NewsletterIssue, backref="deliveries", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="+", on_delete="CASCADE")
    claimed_at = peewee.DateTimeField(default=utcnow)
    sent_at = peewee.DateTimeField(null=True)  # null: claimed, the SMTP hand-over not confirmed

    class Meta:
        indexes = ((("issue", "user"), True),)


class Unsubscribe(BaseModel):
    """Anonymous statistics for the unsubscribe chart: deliberately no person. The
    time is kept to the day only, so a row cannot be matched to a person's consent
    event by its exact time (which would make the reason personal data again)."""
    newsletter = peewee.ForeignKeyField(Newsletter, null=True, backref="+", on_delete="CASCADE")  # null: all marketing
    reason = peewee.CharField(max_length=30, default="")
    source = peewee.CharField(max_length=20)  # a ConsentSource value: one_click or email_link
    occurred_at = peewee.DateTimeField(index=True)
