"""Keys other systems use to ask the consent API. Only a hash is stored."""
from __future__ import annotations

import peewee

from app.models.base import BaseModel, utcnow
from app.models.registry import Audience, Erasure, LegalBasis, RetentionRule, personal_data
from app.models.user import User


@personal_data(
    audience=Audience.STAFF,
    category="API keys you created (staff)",
    for_customers=False,
    holds="For staff: the API keys you created or revoked, and when.",
    source="Our systems, when a staff member manages API keys.",
    purpose="To know who gave which system access to consent data.",
    legal_basis=LegalBasis.LEGITIMATE_INTEREST,
    recipients=("None",),
    retention="While the key exists, then 12 months after it was revoked.",
    erasure=Erasure.ANONYMISE,
    person="created_by",
    retention_rule=RetentionRule("revoked_at", "the key was revoked", 365)
)
class ApiKey(BaseModel):
    name = peewee.CharField(max_length=100)
    prefix = peewee.CharField(max_length=12, index=True)  # shown in lists to tell keys apart
    key_hash = peewee.CharField(max_length=64, unique=True)
    created_by = peewee.ForeignKeyField(User, null=True, backref="api_keys", on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow)
    last_used_at = peewee.DateTimeField(null=True)
    revoked_at = peewee.DateTimeField(null=True)
