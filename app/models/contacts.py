"""The CRM's contacts (leads) that an account owns."""
from __future__ import annotations

import enum

import peewee

from app.models.integrations import Connection
from app.models.base import BaseModel, utcnow
from app.models.registry import Audience, Erasure, LegalBasis, personal_data
from app.models.user import User


class LeadSource(enum.StrEnum):
    MANUAL = "manual"
    GOOGLE_CONTACTS = "google_contacts"
    GOOGLE_SHEETS = "google_sheets"
    REFERRAL = "referral"


@personal_data(
    audience=Audience.END_USERS,
    category="Contacts and leads",
    holds="People kept in the CRM: their name, email, phone, company, notes, and where each came from. "
          "Yours, if you keep contacts; and you, if a customer of ours keeps you as a contact or lead.",
    source="The CRM's user: typed in, synced from Google Contacts, imported from Google Sheets, or referred.",
    purpose="To run the CRM features you use (your contact list, follow-ups, calls).",
    legal_basis=LegalBasis.CONTRACT,
    recipients=("Hosting provider (sub-processor)",),
    retention="While the account exists; deleted with the account, together with their files and locations.",
    erasure=Erasure.DELETE,
    person="owner",
    about="self",
    identifiers={"email": "email", "phone": "phone"},
    others_fields=("owner", "connection", "external_id"),  # the customer's, not the lead's
)
class Lead(BaseModel):
    owner = peewee.ForeignKeyField(User, backref="leads", on_delete="CASCADE")
    name = peewee.CharField(max_length=200)
    email = peewee.CharField(max_length=254, default="")
    phone = peewee.CharField(max_length=40, default="")
    company = peewee.CharField(max_length=200, default="")
    notes = peewee.TextField(default="")
    source = peewee.CharField(max_length=20, default=LeadSource.MANUAL.value)
    created_at = peewee.DateTimeField(default=utcnow, index=True)
    # Synced rows name their connection (the source in the registry's sense) and the
    # provider's id of the row, so a sync updates instead of duplicating, and a
    # disconnect can delete exactly what the connection brought in.
    connection = peewee.ForeignKeyField(Connection, null=True, backref="leads", on_delete="SET NULL")
    external_id = peewee.CharField(max_length=200, default="")

    class Meta:
        indexes = ((("connection", "external_id"), False),)
