"""Long work done by the scheduler process, with its state in the database so that
pages can show progress and a job killed half-way is picked up again."""
from __future__ import annotations

import enum

import peewee

from app.models.base import BaseModel, utcnow
from app.models.registry import Audience, Erasure, LegalBasis, RetentionRule, personal_data
from app.models.user import User


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@personal_data(
    audience=Audience.END_USERS,
    category="Background jobs",
    holds="Work we did for you in the background, such as building an export: what, when, and how far it got.",
    source="Our systems, when you asked for something that takes a while.",
    purpose="To do long work reliably and show you its progress.",
    legal_basis=LegalBasis.CONTRACT,
    recipients=("Hosting provider (sub-processor)",),
    retention="30 days after the job finished.",
    erasure=Erasure.DELETE,
    person="user",
    retention_rule=RetentionRule("finished_at", "the job finished", 30)
)
class Job(BaseModel):
    kind = peewee.CharField(max_length=30, index=True)
    user = peewee.ForeignKeyField(User, null=True, backref="jobs", on_delete="CASCADE")
    status = peewee.CharField(max_length=10, default=JobStatus.QUEUED.value, index=True)
    progress_done = peewee.IntegerField(default=0)
    progress_total = peewee.IntegerField(default=0)
    attempts = peewee.IntegerField(default=0)
    error = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    started_at = peewee.DateTimeField(null=True)
    heartbeat_at = peewee.DateTimeField(null=True)  # a running job without a recent beat was killed
    finished_at = peewee.DateTimeField(null=True)

    @property
    def percent(self) -> int:
        return int(100 * self.progress_done / self.progress_total) if self.progress_total else 0

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.DONE.value, JobStatus.FAILED.value)


@personal_data(
    audience=Audience.END_USERS,
    category="Data exports",
    holds="The archives of your data you asked for: when, their size, when they expire and how often they were downloaded.",
    source="You, when you asked for an export.",
    purpose="To give you a copy of your data (GDPR Art. 15 and 20).",
    legal_basis=LegalBasis.LEGAL_OBLIGATION,
    recipients=("Hosting provider (sub-processor)",),
    retention="The archive is deleted 7 days after it is ready; this record 30 days later.",
    erasure=Erasure.DELETE,
    person="user",
    retention_rule=RetentionRule("expires_at", "the archive expired", 30)
)
class DataExport(BaseModel):
    user = peewee.ForeignKeyField(User, backref="exports", on_delete="CASCADE")
    job = peewee.ForeignKeyField(Job, unique=True, backref="+", on_delete="CASCADE")
    file_name = peewee.CharField(max_length=80, null=True)  # under instance/exports/
    size_bytes = peewee.BigIntegerField(null=True)
    ready_at = peewee.DateTimeField(null=True)
    expires_at = peewee.DateTimeField(null=True, index=True)
    downloads = peewee.IntegerField(default=0)
    deleted_at = peewee.DateTimeField(null=True)  # the archive file was removed

    @property
    def available(self) -> bool:
        return self.ready_at is not None and self.deleted_at is None
