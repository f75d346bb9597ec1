"""Restriction of processing (GDPR Art. 18): while a person is restricted, their data
is stored and not otherwise used. The rules (when a restriction starts, how it is
lifted) are in app.services.rights.restrictions; the queries that keep restricted
people out of bulk work are here, beside the model, so that every domain that sends,
syncs, tracks or sweeps can use them whatever its place in the service layers."""
from __future__ import annotations

import enum

import peewee

from app.models.base import BaseModel, utcnow
from app.models.registry import Audience, Erasure, LegalBasis, personal_data
from app.models.requests import PrivacyRequest, RequestKind, RequestStatus
from app.models.user import User


class RestrictionReason(enum.StrEnum):
    REQUEST_APPROVED = "request_approved"            # the person asked (Art. 18(1)), the DPO approved
    RECTIFICATION_PENDING = "rectification_pending"  # accuracy contested (Art. 18(1)(a))
    OBJECTION_PENDING = "objection_pending"          # objection being weighed (Art. 18(1)(d))


REASON_LABELS = {
    RestrictionReason.REQUEST_APPROVED: "Restriction requested and approved",
    RestrictionReason.RECTIFICATION_PENDING: "A correction is pending (accuracy contested)",
    RestrictionReason.OBJECTION_PENDING: "An objection is being weighed",
}


@personal_data(
    category="Restrictions of processing",
    holds="When the use of your data was restricted, why (your request, a correction or an objection being "
          "reviewed), and when the restriction was lifted and you were told.",
    source="Our privacy team and systems, when you asked for a restriction or filed a correction or objection.",
    purpose="To store your data without using it while a restriction applies, and to tell you before it ends.",
    legal_basis=LegalBasis.LEGAL_OBLIGATION,
    recipients=("Supervisory authorities, on request",),
    retention="As long as the restriction applies, then as long as the request it came from.",
    erasure=Erasure.DELETE,
    person="user",
    audience=Audience.END_USERS,
)
class Restriction(BaseModel):
    user = peewee.ForeignKeyField(User, backref="restrictions", on_delete="CASCADE")
    reason = peewee.CharField(max_length=30)
    # SET NULL: a restriction outlives the 24-month retention of its request record.
    request = peewee.ForeignKeyField(PrivacyRequest, null=True, backref="restrictions", on_delete="SET NULL")
    started_at = peewee.DateTimeField(default=utcnow)
    lifted_at = peewee.DateTimeField(null=True, index=True)
    lift_notice_sent_at = peewee.DateTimeField(null=True)  # Art. 18(3): told before it was lifted
    lifted_by = peewee.CharField(max_length=254, default="")
    lift_reason = peewee.TextField(default="")

    class Meta:
        indexes = ((("user", "lifted_at"), False),)

    @property
    def reason_label(self) -> str:
        return REASON_LABELS[RestrictionReason(self.reason)]

    @classmethod
    def active(cls) -> peewee.ModelSelect:
        return cls.select().where(cls.lifted_at.is_null())

    @classmethod
    def restricted_people(cls) -> peewee.ModelSelect:
        """The ids of everyone restricted now, as a subquery: bulk work (a newsletter
        send, the sync, the retention sweep) excludes them with `… NOT IN (this)`
        instead of asking person by person."""
        return cls.select(cls.user).where(cls.lifted_at.is_null())

    @classmethod
    def applies_to(cls, user_id: int | None) -> bool:
        return user_id is not None and cls.active().where(cls.user == user_id).exists()


DIRECT_MARKETING = "direct_marketing"


def upheld_objections(user_id: int) -> set[str]:
    """What the person's upheld objections (Art. 21) stopped: purpose keys, and
    "direct_marketing" for the absolute one (also for objections filed before the
    person could say what they object to, which were all carried out as that)."""
    rows = (PrivacyRequest.select(PrivacyRequest.processing)
            .where(PrivacyRequest.user == user_id, PrivacyRequest.kind == RequestKind.OBJECTION.value,
                   PrivacyRequest.status == RequestStatus.COMPLETED.value).tuples())
    return {processing or DIRECT_MARKETING for (processing,) in rows}
