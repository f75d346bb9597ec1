"""What our systems observe: page visits, email engagement, devices."""
from __future__ import annotations

import peewee

from app.models.base import BaseModel, utcnow
from app.models.registry import Audience, Erasure, LegalBasis, RetentionRule, personal_data
from app.models.user import User


@personal_data(
    audience=Audience.END_USERS,
    category="Usage and navigation",
    holds="Pages you visited in the CRM: path, referrer, browser (user agent), IP address and time.",
    source="Our web servers, when you use the CRM.",
    purpose="To keep the service secure and find what to improve.",
    legal_basis=LegalBasis.LEGITIMATE_INTEREST,
    recipients=("Hosting provider (sub-processor)",),
    retention="13 months.",
    erasure=Erasure.DELETE,
    person="user",
    retention_rule=RetentionRule("occurred_at", "the visit happened", 395, blankable=("path", "referrer", "user_agent", "ip"), withdrawn_consent=(("product_analytics", None),))
)
class UsageEvent(BaseModel):
    user = peewee.ForeignKeyField(User, null=True, backref="usage_events", on_delete="CASCADE")  # null: anonymised
    path = peewee.CharField(max_length=500)
    referrer = peewee.CharField(max_length=500, default="")
    user_agent = peewee.CharField(max_length=500, default="")
    ip = peewee.CharField(max_length=64, default="")
    occurred_at = peewee.DateTimeField(default=utcnow, index=True)


@personal_data(
    audience=Audience.END_USERS,
    category="Email engagement",
    holds="Which of our emails were sent to you, and — only where you allowed tracking — opened or clicked, with the link.",
    source="Our mail system, and your mail client when it loads a tracking pixel or follows a tracked link.",
    purpose="To measure newsletters and stop mailing people who never read them.",
    legal_basis=LegalBasis.CONSENT,
    recipients=("Email delivery provider (sub-processor)",),
    retention="24 months.",
    erasure=Erasure.DELETE,
    person="user",
    retention_rule=RetentionRule("occurred_at", "the email was sent, opened or clicked", 730, blankable=("link_url",), withdrawn_consent=(("open_tracking", ("kind", "opened")), ("click_tracking", ("kind", "clicked"))))
)
class EmailEngagement(BaseModel):
    user = peewee.ForeignKeyField(User, null=True, backref="email_engagements", on_delete="CASCADE")  # null: anonymised
    kind = peewee.CharField(max_length=10)  # sent / opened / clicked
    campaign = peewee.CharField(max_length=200)
    link_url = peewee.CharField(max_length=500, default="")
    occurred_at = peewee.DateTimeField(default=utcnow, index=True)


@personal_data(
    audience=Audience.END_USERS,
    category="Devices and push tokens",
    holds="Phones and browsers signed in to the app: platform, name, push-notification token, last seen.",
    source="The mobile app and browsers, when you sign in or allow notifications.",
    purpose="To send the push notifications you allowed and let you sign devices out.",
    legal_basis=LegalBasis.CONSENT,
    recipients=("Push notification service (sub-processor)",),
    retention="Deleted 90 days after the device was last seen.",
    erasure=Erasure.DELETE,
    person="owner",
    masked_fields=("push_token",),
    retention_rule=RetentionRule("last_seen_at", "the device was last seen", 90)
)
class Device(BaseModel):
    owner = peewee.ForeignKeyField(User, backref="devices", on_delete="CASCADE")
    platform = peewee.CharField(max_length=20)  # ios / android / web
    name = peewee.CharField(max_length=100)
    push_token = peewee.CharField(max_length=255, null=True)
    push_enabled = peewee.BooleanField(default=False)
    last_seen_at = peewee.DateTimeField(default=utcnow)
