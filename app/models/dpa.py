"""Data Processing Addenda (GDPR Art. 28(3)): what a business customer's admin asked
for, the PDF files each document went through, and who signed it.

- `DpaDocument`: one row per DPA a customer admin requested, with the terms
  (app.services.agreements.dpa_document.DpaTerms) as entered, the document id printed in the
  footer, the template version and the moment (`as_of`) it was generated, and the
  SHA-256 of its content. Its status moves requested → generated → signed →
  countersigned, and any of them → superseded; never back. Once signed, its terms,
  id, `as_of` and hash never change (app.services.agreements.dpa refuses with 409).
- `DpaFile`: every PDF the document went through (1: unsigned, then signed, then
  countersigned), each an immutable file under `<instance>/dpas/` with its SHA-256.
- `DpaSignature`: append-only, one per role (customer, processor), with the hash of
  the content the signer saw.

A signed DPA is a contract: its rows are kept under a legal hold, not erased with a
person (the company, not the signatory, is the party)."""
from __future__ import annotations

import enum

import peewee

from app.models.base import BaseModel, utcnow
from app.models.registry import Audience, Erasure, LegalBasis, personal_data
from app.models.user import User


class DpaStatus(enum.StrEnum):
    REQUESTED = "requested"
    GENERATED = "generated"
    SIGNED = "signed"  # by the customer
    COUNTERSIGNED = "countersigned"  # by us (the DPO): in force
    SUPERSEDED = "superseded"

    @property
    def label(self) -> str:
        return {"requested": "Requested", "generated": "Ready to sign", "signed": "Signed by the customer",
                "countersigned": "Countersigned (in force)", "superseded": "Superseded"}[self.value]


SIGNED_STATUSES = (DpaStatus.SIGNED.value, DpaStatus.COUNTERSIGNED.value)

_DPA_RECORD = dict(
    audience=Audience.BUSINESS_CUSTOMERS,
    source="You, when you requested and signed a Data Processing Addendum for your company; "
           "our data protection officer, when they countersigned it.",
    purpose="To conclude and prove the contract GDPR Art. 28(3) requires between your company and us.",
    legal_basis=LegalBasis.LEGAL_OBLIGATION,
    recipients=("Your company", "Our data protection officer"),
    retention="For as long as the DPA is in force and 6 years after it ends (the limitation period for "
              "contract claims).",
    erasure=Erasure.LEGAL_HOLD,
    for_customers=False,
    hold_reason="A signed DPA is the contract GDPR Art. 28(3) requires and evidence for legal claims "
                "(GDPR Art. 17(3)(b) and (e)): it is kept as signed.",
)


@personal_data(category="Data Processing Addenda you requested (business customers)",
               holds="For business customers' admins: the DPAs you requested, with your company's details, "
                     "the signatory's name and title and the contact email you gave.",
               person="customer_admin", **_DPA_RECORD)
class DpaDocument(BaseModel):
    customer_admin = peewee.ForeignKeyField(User, backref="+", index=True)
    document_id = peewee.CharField(max_length=40, unique=True)  # "DPA-" + 16 hex digits: unguessable
    # The customer party (app.services.agreements.dpa_document.Party) and the transfer terms.
    legal_name = peewee.CharField(max_length=200)
    address = peewee.TextField()
    registration_number = peewee.CharField(max_length=40)
    signatory_name = peewee.CharField(max_length=120)
    signatory_title = peewee.CharField(max_length=120)
    contact_email = peewee.CharField(max_length=254)
    country = peewee.CharField(max_length=2)  # ISO 3166-1 alpha-2
    transfers_outside_eea = peewee.BooleanField(default=False)
    uk_transfer = peewee.BooleanField(default=False)
    governing_law = peewee.CharField(max_length=2)  # ISO 3166-1 alpha-2
    # Fixed at generation.
    template_version = peewee.CharField(max_length=40, default="")
    as_of = peewee.DateTimeField(null=True)
    content_sha256 = peewee.CharField(max_length=64, default="")
    status = peewee.CharField(max_length=20, default=DpaStatus.REQUESTED.value, index=True)
    supersedes = peewee.ForeignKeyField("self", null=True, backref="+", on_delete="SET NULL")
    created_at = peewee.DateTimeField(default=utcnow, index=True)
    updated_at = peewee.DateTimeField(default=utcnow)

    @property
    def status_enum(self) -> DpaStatus:
        return DpaStatus(self.status)

    @property
    def signed_once(self) -> bool:
        """Signed at some point (a superseded DPA may have been): its content is final."""
        return DpaSignature.select().where(DpaSignature.document == self.id).exists()


@personal_data(category="Data Processing Addendum files (business customers)",
               holds="For business customers' admins: each PDF version of the DPAs you requested "
                     "(unsigned, signed, countersigned), with its SHA-256.",
               person="document.customer_admin", **_DPA_RECORD)
class DpaFile(BaseModel):
    """One PDF version of a document. The file is written once and never rewritten;
    its name comes from the document id and the version number only."""
    document = peewee.ForeignKeyField(DpaDocument, backref="files")
    version = peewee.IntegerField()  # 1, 2, … per document
    kind = peewee.CharField(max_length=20)  # unsigned / signed / countersigned
    stored_name = peewee.CharField(max_length=80, unique=True)
    sha256 = peewee.CharField(max_length=64)  # of the PDF's bytes
    size_bytes = peewee.IntegerField()
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("document", "version"), True),)


@personal_data(category="Data Processing Addendum signatures",
               holds="The signatures you put on Data Processing Addenda: the name and title you typed, when "
                     "(UTC), your IP address truncated to its network, and the hash of the document you saw.",
               person="user", **_DPA_RECORD)
class DpaSignature(BaseModel):
    """Append-only: written once when a party signs, never updated or deleted."""
    document = peewee.ForeignKeyField(DpaDocument, backref="signatures")
    role = peewee.CharField(max_length=10)  # customer / processor
    user = peewee.ForeignKeyField(User, backref="+")
    name = peewee.CharField(max_length=120)
    title = peewee.CharField(max_length=120)
    signed_at = peewee.DateTimeField(default=utcnow)
    ip = peewee.CharField(max_length=45, null=True)  # truncated (app.services.platform.audit.truncate_ip)
    document_sha256 = peewee.CharField(max_length=64)  # the content hash the signer saw

    class Meta:
        indexes = ((("document", "role"), True),)  # one signature per party
