"""What happens in the CRM day to day: meetings, calls, texts, visits."""
from __future__ import annotations

import peewee

from app.models.base import BaseModel, utcnow
from app.models.contacts import Lead
from app.models.registry import Audience, Erasure, LegalBasis, RetentionRule, personal_data
from app.models.user import User


@personal_data(
    audience=Audience.END_USERS,
    category="Calendar",
    holds="Meetings and reminders: title, time, place and attendees.",
    source="You, or your synced calendar.",
    purpose="To show your agenda and remind you of follow-ups.",
    legal_basis=LegalBasis.CONTRACT,
    recipients=("Hosting provider (sub-processor)",),
    retention="While the account exists.",
    erasure=Erasure.DELETE,
    person="owner",
    about="lead",
    others_fields=("owner", "attendees"),  # the customer's, and the other attendees'
)
class CalendarEntry(BaseModel):
    owner = peewee.ForeignKeyField(User, backref="calendar_entries", on_delete="CASCADE")
    lead = peewee.ForeignKeyField(Lead, null=True, backref="calendar_entries", on_delete="SET NULL")
    title = peewee.CharField(max_length=200)
    starts_at = peewee.DateTimeField(index=True)
    ends_at = peewee.DateTimeField()
    location = peewee.CharField(max_length=200, default="")
    attendees = peewee.TextField(default="")  # comma-separated addresses


@personal_data(
    audience=Audience.END_USERS,
    category="Call logs",
    holds="Calls made or received through the CRM: number, direction, duration, caller ID and time.",
    source="The CRM's telephony feature, when you call or are called.",
    purpose="To log your calls against your contacts and bill telephony usage.",
    legal_basis=LegalBasis.CONTRACT,
    recipients=("Telephony provider (sub-processor)",),
    retention="24 months.",
    erasure=Erasure.DELETE,
    person="owner",
    about="lead",
    others_fields=("owner",),
    retention_rule=RetentionRule("called_at", "the call was made", 730, blankable=("number", "caller_id"))
)
class CallLog(BaseModel):
    owner = peewee.ForeignKeyField(User, null=True, backref="call_logs", on_delete="CASCADE")  # null: anonymised
    lead = peewee.ForeignKeyField(Lead, null=True, backref="call_logs", on_delete="SET NULL")
    number = peewee.CharField(max_length=40)
    direction = peewee.CharField(max_length=8)  # inbound / outbound
    duration_seconds = peewee.IntegerField(default=0)
    caller_id = peewee.CharField(max_length=80, default="")
    called_at = peewee.DateTimeField(default=utcnow, index=True)


@personal_data(
    audience=Audience.END_USERS,
    category="Text messages",
    holds="SMS sent or received through the CRM: number, direction, text and time.",
    source="The CRM's SMS feature.",
    purpose="To keep your conversations with contacts in one place.",
    legal_basis=LegalBasis.CONTRACT,
    recipients=("SMS provider (sub-processor)",),
    retention="24 months.",
    erasure=Erasure.DELETE,
    person="owner",
    about="lead",
    others_fields=("owner",),
    retention_rule=RetentionRule("sent_at", "the message was sent", 730, blankable=("number", "body"))
)
class SmsLog(BaseModel):
    owner = peewee.ForeignKeyField(User, null=True, backref="sms_logs", on_delete="CASCADE")  # null: anonymised
    lead = peewee.ForeignKeyField(Lead, null=True, backref="sms_logs", on_delete="SET NULL")
    number = peewee.CharField(max_length=40)
    direction = peewee.CharField(max_length=8)
    body = peewee.TextField(default="")
    sent_at = peewee.DateTimeField(default=utcnow, index=True)


@personal_data(
    audience=Audience.END_USERS,
    category="Location check-ins",
    holds="Places you checked in from the mobile app: coordinates, time and activity (visit, meeting, call).",
    source="The mobile app, only when you check in.",
    purpose="To record field visits against contacts.",
    legal_basis=LegalBasis.CONSENT,
    recipients=("Hosting provider (sub-processor)",),
    retention="12 months; deleted together with the contact they belong to.",
    erasure=Erasure.DELETE,
    person="owner",
    about="lead",
    others_fields=("owner",),
    retention_rule=RetentionRule("recorded_at", "the check-in was recorded", 365, blankable=("activity",), rounded=("latitude", "longitude"))
)
class LocationCheckin(BaseModel):
    owner = peewee.ForeignKeyField(User, null=True, backref="location_checkins", on_delete="CASCADE")  # null: anonymised
    lead = peewee.ForeignKeyField(Lead, null=True, backref="location_checkins", on_delete="CASCADE")
    latitude = peewee.DecimalField(max_digits=9, decimal_places=6)
    longitude = peewee.DecimalField(max_digits=9, decimal_places=6)
    activity = peewee.CharField(max_length=40, default="visit")
    recorded_at = peewee.DateTimeField(default=utcnow, index=True)
