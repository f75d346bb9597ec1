"""The audit log: append-only, each record carrying the hash of the one before."""
from __future__ import annotations

import peewee

from app.models.base import BaseModel, utcnow
from app.models.registry import Audience, Erasure, LegalBasis, personal_data
from app.models.user import User


@personal_data(
    audience=Audience.END_USERS,
    category="Audit log",
    holds="Records of security- and privacy-relevant actions on your account: who acted, what changed, when, from which (truncated) IP address.",
    source="Our systems, when you or our staff act on your data or settings.",
    purpose="To prove how your data and choices were handled, and to detect misuse.",
    legal_basis=LegalBasis.LEGAL_OBLIGATION,
    recipients=("Supervisory authorities, on request",),
    retention="6 years, then deleted.",
    erasure=Erasure.LEGAL_HOLD,
    hold_reason="Accountability (GDPR Art. 5(2)) and defence of legal claims (Art. 17(3)(e)); the record of an erasure must outlive the erased data.",
    person="subject",
)
class AuditEvent(BaseModel):
    occurred_at = peewee.DateTimeField(default=utcnow, index=True)
    action = peewee.CharField(max_length=64, index=True)
    actor = peewee.ForeignKeyField(User, null=True, backref="audit_actions", on_delete="SET NULL")
    actor_ref = peewee.IntegerField(null=True, index=True)  # hashed; survives the actor's erasure
    actor_label = peewee.CharField(max_length=254)  # readable, not hashed: pseudonymised on erasure
    subject = peewee.ForeignKeyField(User, null=True, backref="audit_events", on_delete="SET NULL")
    # The hash covers this copy, not the foreign key, which erasing a person nulls.
    subject_ref = peewee.IntegerField(null=True, index=True)
    details = peewee.TextField(default="{}")  # canonical JSON
    ip = peewee.CharField(max_length=64, null=True)
    prev_hash = peewee.CharField(max_length=64, unique=True)  # a fork in the chain cannot be written
    hash = peewee.CharField(max_length=64, unique=True)

    class Meta:
        table_name = "audit_events"
