"""Business customers: the companies on whose behalf we process CRM data, the accounts
that belong to each, and the exports of everything processed for one of them.

- `Company`: one business customer (a name; no personal data).
- `CompanyMember`: an account that belongs to the company, at most one company each.
  Its customer admins are the members with the customer-admin role; the rows of every
  member are what we process on the company's behalf (GDPR Art. 28). Membership is set
  by us when the contract starts, never typed by the person: the free-text "company" of
  a profile is the person's own words and would let anyone join any company's export.
- `CompanyExport`: one archive of everything processed for the company, built by a
  job (app.services.agreements.customer_exports) and downloadable by its admins only."""
from __future__ import annotations

import peewee

from app.models.base import BaseModel, utcnow
from app.models.jobs import Job
from app.models.registry import Audience, Erasure, LegalBasis, RetentionRule, personal_data
from app.models.user import User


class Company(BaseModel):
    name = peewee.CharField(max_length=200, unique=True)
    created_at = peewee.DateTimeField(default=utcnow)


@personal_data(
    category="Company membership (business customers)",
    holds="Which business customer's company your account belongs to, and since when.",
    source="The business customer, when its contract with us started or when it added your account.",
    purpose="To know on whose behalf we process your CRM data, and which admins may take a copy of it "
            "when the contract ends.",
    legal_basis=LegalBasis.CONTRACT,
    recipients=("Your company's admins", "Hosting provider (sub-processor)"),
    retention="While the account belongs to the company.",
    erasure=Erasure.DELETE,
    person="user",
    audience=Audience.END_USERS,
)
class CompanyMember(BaseModel):
    company = peewee.ForeignKeyField(Company, backref="members", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, unique=True, backref="+", on_delete="CASCADE")
    added_at = peewee.DateTimeField(default=utcnow)


@personal_data(
    category="Company data exports you requested (business customers)",
    holds="For business customers' admins: the exports of your company's data you asked for: when, "
          "their size, when they expire and how often they were downloaded.",
    source="You, when you asked for an export of your company's data.",
    purpose="To return the personal data we process on your company's behalf at the end of the contract "
            "(GDPR Art. 28(3)(g)).",
    legal_basis=LegalBasis.LEGAL_OBLIGATION,
    recipients=("Your company's admins", "Hosting provider (sub-processor)"),
    retention="The archive is deleted 7 days after it is ready; this record 30 days later.",
    erasure=Erasure.ANONYMISE,  # the export is the company's: erasing one admin only drops who asked
    person="requested_by",
    # Our own record of a contractual duty done, not processing for the customer: a DPA's
    # Annex I and the company export itself leave it out.
    for_customers=False,
    audience=Audience.BUSINESS_CUSTOMERS,
    retention_rule=RetentionRule("expires_at", "the archive expired", 30),
)
class CompanyExport(BaseModel):
    company = peewee.ForeignKeyField(Company, backref="exports", on_delete="CASCADE")
    requested_by = peewee.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
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
