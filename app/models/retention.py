"""Retention policies (one per registry category that has a retention rule) and the
record of every sweep. A run keeps counts, not rows; the only personal data here is
which staff member changed a policy or started a sweep."""
from __future__ import annotations

import json

import peewee

from app.models.base import BaseModel, utcnow
from app.models.jobs import Job
from app.models.registry import Audience, Erasure, LegalBasis, personal_data
from app.models.user import User


_STAFF_RECORD = dict(
    source="Our systems, when a staff member acts in the privacy console.",
    purpose="Accountability: to show who decided how long data is kept (GDPR Art. 5(2)).",
    legal_basis=LegalBasis.LEGAL_OBLIGATION, recipients=("None",),
    erasure=Erasure.ANONYMISE)  # the policy or run stays; the name of who acted is dropped


@personal_data(category="Retention policies you changed (staff)",
               audience=Audience.STAFF,
               for_customers=False,
               holds="For the privacy team: the retention policies you last changed, and when.",
               retention="As long as the policy exists.", person="updated_by", **_STAFF_RECORD)
class RetentionPolicy(BaseModel):
    category = peewee.CharField(max_length=120, unique=True)  # the registry category it governs
    days = peewee.IntegerField()
    action = peewee.CharField(max_length=10)  # delete / anonymise
    blank_fields = peewee.TextField(default="[]")  # JSON list: what anonymisation blanks
    note = peewee.TextField(default="")  # the legal basis or reason, in the DPO's words
    enabled = peewee.BooleanField(default=True)
    updated_at = peewee.DateTimeField(default=utcnow)
    updated_by = peewee.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")

    @property
    def blanked(self) -> list[str]:
        return json.loads(self.blank_fields)


@personal_data(category="Retention sweeps you started (staff)",
               audience=Audience.STAFF,
               for_customers=False,
               holds="For the privacy team: the retention sweeps you ran by hand, when, and what they removed.",
               retention="As long as the run history is kept.", person="started_by", **_STAFF_RECORD)
class RetentionRun(BaseModel):
    job = peewee.ForeignKeyField(Job, null=True, unique=True, backref="+", on_delete="SET NULL")
    only_category = peewee.CharField(max_length=120, null=True)  # None: every enabled policy
    trigger = peewee.CharField(max_length=20)  # schedule / dpo / cli
    started_by = peewee.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    status = peewee.CharField(max_length=10, default="queued")  # queued / running / done / failed
    counts = peewee.TextField(default="{}")  # JSON {category: rows acted on}
    errors = peewee.TextField(default="")
    created_at = peewee.DateTimeField(default=utcnow, index=True)
    started_at = peewee.DateTimeField(null=True)
    finished_at = peewee.DateTimeField(null=True)

    @property
    def counts_dict(self) -> dict[str, int]:
        return json.loads(self.counts)

    @property
    def total(self) -> int:
        return sum(self.counts_dict.values())


class ScheduledRun(BaseModel):
    """The last outcome of each scheduled job, for /admin/jobs and the misfire catch-up."""
    job_id = peewee.CharField(max_length=60, unique=True)
    started_at = peewee.DateTimeField(null=True)  # also the claim's token: only its holder writes the outcome
    finished_at = peewee.DateTimeField(null=True)
    heartbeat_at = peewee.DateTimeField(null=True)  # a running run without a recent beat was left by a dead scheduler
    outcome = peewee.CharField(max_length=10, default="")  # running / ok / failed / stopped (to run again)
    requested_at = peewee.DateTimeField(null=True)  # an admin pressed "Run now"
    detail = peewee.TextField(default="")
