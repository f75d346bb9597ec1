"""Sub-processor change notices (GDPR Art. 28(2)): one row per version of the
register a customer admin was told about, with the deadline to object by and, if
they objected, when and why. Unique per (version, user), so telling twice is a no-op."""
from __future__ import annotations

import peewee

from app.models.base import BaseModel, utcnow
from app.models.registry import Audience, Erasure, LegalBasis, personal_data
from app.models.subprocessors import SubprocessorVersion
from app.models.user import User


@personal_data(category="Sub-processor change notices (business customers)",
               audience=Audience.BUSINESS_CUSTOMERS,
               for_customers=False,
               holds="For business customers' admins: the notices of new or changed sub-processors we sent you, "
                     "and any objection you made, when and why.",
               source="Our systems, when the sub-processor register changes; you, when you object.",
               purpose="To give your company prior notice of sub-processor changes and the chance to object, "
                       "as the DPA and GDPR Art. 28(2) require.",
               legal_basis=LegalBasis.CONTRACT, recipients=("Our data protection officer",),
               retention="As long as your account exists.",
               erasure=Erasure.DELETE, person="user")
class SubprocessorNotice(BaseModel):
    version = peewee.ForeignKeyField(SubprocessorVersion, backref="notices", on_delete="CASCADE")
    user = peewee.ForeignKeyField(User, backref="+", index=True, on_delete="CASCADE")
    sent_at = peewee.DateTimeField(default=utcnow)
    objection_deadline = peewee.DateField()
    objected_at = peewee.DateTimeField(null=True, index=True)
    objection_reason = peewee.TextField(default="")
    mail_failed = peewee.BooleanField(default=False)

    class Meta:
        indexes = ((("version", "user"), True),)

    @property
    def is_open(self) -> bool:
        return self.objected_at is None and utcnow().date() <= self.objection_deadline
