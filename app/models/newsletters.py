"""Newsletters (subscription types) and the subscriptions waiting for the person's
confirmation. A newsletter is a marketing purpose: subscribing is consent to it, in
the consent ledger like any other (app.services.consent), so /preferences, "stop
all marketing", receipts and the DPO's withdrawal figures cover newsletters too."""
from __future__ import annotations

import peewee

from app.models.base import BaseModel, utcnow
from app.models.consent import Purpose
from app.models.registry import Erasure, LegalBasis, personal_data
from app.models.user import User


class Newsletter(BaseModel):
    purpose = peewee.ForeignKeyField(Purpose, unique=True, backref="newsletter", on_delete="RESTRICT")
    topic = peewee.CharField(max_length=80, default="")
    double_opt_in = peewee.BooleanField(default=True)
    created_at = peewee.DateTimeField(default=utcnow)
    archived_at = peewee.DateTimeField(null=True)


@personal_data(
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
