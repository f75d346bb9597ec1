"""Payment methods and support: what the company needs to bill and help its customers."""
from __future__ import annotations

import peewee

from app.models.base import BaseModel, utcnow
from app.models.registry import Audience, Erasure, LegalBasis, RetentionRule, personal_data
from app.models.user import User


@personal_data(
    audience=Audience.END_USERS,
    category="Payment methods",
    holds="Cards on file: cardholder name, brand, last four digits and expiry. The full card number is held only by the payment processor.",
    source="You, through the payment processor's form.",
    purpose="To bill your subscription.",
    legal_basis=LegalBasis.CONTRACT,
    recipients=("Payment processor (sub-processor)",),
    retention="While the card is on file; invoices are kept 10 years under tax law.",
    erasure=Erasure.DELETE,
    person="owner",
)
class PaymentMethod(BaseModel):
    owner = peewee.ForeignKeyField(User, backref="payment_methods", on_delete="CASCADE")
    cardholder_name = peewee.CharField(max_length=200)
    brand = peewee.CharField(max_length=20)
    last4 = peewee.CharField(max_length=4)  # never more: we do not store card numbers
    exp_month = peewee.SmallIntegerField()
    exp_year = peewee.SmallIntegerField()
    added_at = peewee.DateTimeField(default=utcnow)


@personal_data(
    audience=Audience.END_USERS,
    category="Support interactions",
    holds="Your conversations with our support team: channel, subject, messages and the agent who answered.",
    source="You, when you contacted support.",
    purpose="To answer your questions and keep track of problems.",
    legal_basis=LegalBasis.CONTRACT,
    recipients=("Helpdesk software provider (sub-processor)",),
    retention="36 months after the conversation started.",
    erasure=Erasure.DELETE,
    person="user",
    retention_rule=RetentionRule("created_at", "the conversation started", 1095, blankable=("subject", "body", "agent"))
)
class SupportInteraction(BaseModel):
    user = peewee.ForeignKeyField(User, null=True, backref="support_interactions", on_delete="CASCADE")  # null: anonymised
    channel = peewee.CharField(max_length=20)  # email / chat / phone
    subject = peewee.CharField(max_length=200)
    body = peewee.TextField(default="")
    agent = peewee.CharField(max_length=100, default="")
    created_at = peewee.DateTimeField(default=utcnow, index=True)
