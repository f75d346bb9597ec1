"""Files people upload; the bytes live under instance/uploads/, the row says where."""
from __future__ import annotations

import peewee

from app.models.base import BaseModel, utcnow
from app.models.contacts import Lead
from app.models.registry import Audience, Erasure, LegalBasis, personal_data
from app.models.user import User


@personal_data(
    audience=Audience.END_USERS,
    category="Uploaded files",
    holds="Files you uploaded (documents, photos) with their name, size, type and checksum.",
    source="You.",
    purpose="To store and show your files in the CRM.",
    legal_basis=LegalBasis.CONTRACT,
    recipients=("Hosting provider (sub-processor)",),
    retention="While the account exists; deleted with the contact they belong to.",
    erasure=Erasure.DELETE,
    person="owner",
    about="lead",
    others_fields=("owner",),
)
class UploadedFile(BaseModel):
    owner = peewee.ForeignKeyField(User, backref="uploaded_files", on_delete="CASCADE")
    lead = peewee.ForeignKeyField(Lead, null=True, backref="files", on_delete="CASCADE")
    filename = peewee.CharField(max_length=255)
    stored_name = peewee.CharField(max_length=80, unique=True)  # under instance/uploads/
    content_type = peewee.CharField(max_length=100)
    size_bytes = peewee.IntegerField()
    sha256 = peewee.CharField(max_length=64)
    uploaded_at = peewee.DateTimeField(default=utcnow)
