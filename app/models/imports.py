"""Subscriber imports: a CSV uploaded by sales ops for one newsletter, checked row by
row in a dry run, then imported by a job (app.services.newsletters.subscriber_import)."""
from __future__ import annotations

import enum
import json

import peewee

from app.models.base import BaseModel, utcnow
from app.models.consent import ConsentEvent
from app.models.jobs import Job
from app.models.newsletters import Newsletter
from app.models.registry import Audience, Erasure, LegalBasis, personal_data
from app.models.user import User


class ImportStatus(enum.StrEnum):
    UPLOADED = "uploaded"   # header read, columns not mapped yet
    PLANNED = "planned"     # mapped and dry-run: the preview is ready
    RUNNING = "running"     # the job was asked for (queued or running)
    DONE = "done"
    FAILED = "failed"


@personal_data(
    audience=Audience.STAFF,
    category="Subscriber imports you ran (staff)",
    for_customers=False,
    holds="For sales staff: the subscriber files you imported, when, into which newsletter, and what came of it.",
    source="Our systems, when a staff member imports a file of subscribers.",
    purpose="To know who imported whom, and to show the import's report.",
    legal_basis=LegalBasis.LEGITIMATE_INTEREST,
    recipients=("None",),
    retention="As long as the newsletter exists; the uploaded file is deleted when the import is done.",
    erasure=Erasure.ANONYMISE,  # the import stays (its consents belong to others); who ran it is dropped
    person="created_by",
)
class SubscriberImport(BaseModel):
    newsletter = peewee.ForeignKeyField(Newsletter, backref="imports", on_delete="CASCADE")
    created_by = peewee.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    original_name = peewee.CharField(max_length=255)
    stored_name = peewee.CharField(max_length=80)        # under instance/imports/
    size_bytes = peewee.BigIntegerField()
    header = peewee.TextField()                          # JSON list of the column names
    mapping = peewee.TextField(default="{}")             # JSON {"email": i, "evidence": i, "name": i|None}
    status = peewee.CharField(max_length=10, default=ImportStatus.UPLOADED.value)
    preview = peewee.TextField(default="{}")             # JSON: the dry run's counts and first rejections
    counts = peewee.TextField(default="{}")              # JSON: the import's counts so far
    # Resuming: the file line the next chunk starts at (0: not started), and how many
    # bytes of the rejected-rows report belong to committed chunks.
    next_line = peewee.IntegerField(default=0)
    report_bytes = peewee.BigIntegerField(default=0)
    mail_from_line = peewee.IntegerField(null=True)      # double opt-in: a chunk whose emails may not be sent
    report_name = peewee.CharField(max_length=80, null=True)
    job = peewee.ForeignKeyField(Job, null=True, unique=True, backref="+", on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow)
    finished_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "subscriber_import"

    def header_list(self) -> list[str]:
        return json.loads(self.header)

    def mapping_dict(self) -> dict:
        return json.loads(self.mapping)

    def preview_dict(self) -> dict:
        return json.loads(self.preview)

    def counts_dict(self) -> dict:
        return json.loads(self.counts)


@personal_data(
    audience=Audience.END_USERS,
    category="Consent evidence from imports",
    holds="When you were added to a newsletter from a file: what the file said about how and when you agreed.",
    source="The company that collected your consent, in the file our sales team imported.",
    purpose="To prove what you agreed to and how it was collected (GDPR Art. 7(1)).",
    legal_basis=LegalBasis.LEGAL_OBLIGATION,
    recipients=("Supervisory authorities, on request",),
    retention="As long as the consent record it proves.",
    erasure=Erasure.LEGAL_HOLD,
    hold_reason="Proof of consent (GDPR Art. 7(1), Art. 17(3)(b) and (e)); kept with the consent record it belongs to.",
    person="consent_event.user",
)
class ImportEvidence(BaseModel):
    """The evidence column of an imported row, beside the consent event it proves. A
    table of its own rather than a column on ConsentEvent: the ledger stays narrow for
    every other write, and only imported consents carry free text."""
    consent_event = peewee.ForeignKeyField(ConsentEvent, unique=True, backref="+", on_delete="CASCADE")
    subscriber_import = peewee.ForeignKeyField(SubscriberImport, null=True, backref="+", on_delete="SET NULL")
    line = peewee.IntegerField()
    evidence = peewee.TextField()
