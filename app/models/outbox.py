"""The outbox: mail that matters (a request's receipt and decision, a certificate of
erasure, sign-in links, security and account notices), written in the same transaction
as the change it reports and delivered from here with retries
(app.services.platform.outbox). Newsletter issues are not in it: they have their own
per-person delivery records (app.models.newsletters.IssueDelivery)."""
from __future__ import annotations

import enum

import peewee

from app.models.base import BaseModel, utcnow
from app.models.fields import EncryptedBytesField
from app.models.registry import Audience, Erasure, LegalBasis, personal_data


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"    # waiting for its next attempt
    SENDING = "sending"    # claimed by one sender until `claimed_until`
    SENT = "sent"          # accepted by the mail server; the body is gone
    FAILED = "failed"      # refused for good, or still undelivered after the retry period
    EXPIRED = "expired"    # what it carried (a sign-in link) expired before it could go


UNDELIVERED = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.FAILED, OutboxStatus.EXPIRED)


@personal_data(
    audience=Audience.END_USERS,
    category="Emails we send you",
    holds="The emails about your requests, your account and its security that we sent or are sending you: "
          "which kind, when, to which address, how many attempts it took and whether it was delivered. "
          "The message itself is kept encrypted only until the mail server accepts it.",
    source="Our systems, when something happened that you must be told of.",
    purpose="To make sure you receive what we must tell you (receipts, decisions, certificates, sign-in links), "
            "trying again when a mail server is down, and never twice.",
    legal_basis=LegalBasis.LEGAL_OBLIGATION,
    recipients=("Email delivery provider (sub-processor)",),
    retention="The message is deleted once delivered; this record 7 days later. An email that could not be "
              "delivered is kept 30 days for our staff to see.",
    erasure=Erasure.DELETE,
    person_email="recipient",
    secret_fields=("body", "claim"),
)
class OutboxMessage(BaseModel):
    kind = peewee.CharField(max_length=40)          # the template: request_decided, sign_in_link…
    recipient = peewee.CharField(max_length=254, index=True)  # normalised: the registry finds rows by it
    # The whole RFC 5322 message, headers and attachments included, as it will be sent:
    # every attempt sends these same bytes, so a repeat can only repeat this Message-ID.
    message_id = peewee.CharField(max_length=250, unique=True)
    body = EncryptedBytesField(null=True)           # deleted once delivered or given up
    # What the message is about, "topic:id" ("decision:42"): what it reports may follow up
    # on its outcome (app.services.platform.outbox.FOLLOW_UPS).
    ref = peewee.CharField(max_length=60, null=True, index=True)
    status = peewee.CharField(max_length=10, default=OutboxStatus.PENDING.value)
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField(null=True)    # not delivered after this (the link it carries is dead)
    next_attempt_at = peewee.DateTimeField(default=utcnow)
    attempts = peewee.IntegerField(default=0)
    claim = peewee.CharField(max_length=32, null=True)     # the sender holding it
    claimed_until = peewee.DateTimeField(null=True)
    last_error = peewee.CharField(max_length=120, default="")  # the error's class and SMTP code, no address
    finished_at = peewee.DateTimeField(null=True, index=True)  # sent, given up or expired: retention counts from it

    class Meta:
        indexes = ((("status", "next_attempt_at"), False),)
