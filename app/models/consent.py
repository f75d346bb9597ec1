"""Purposes people can say yes or no to, and the two consent tables: the append-only
ledger (the proof, GDPR Art. 7(1)) and the current state (the fast read). Both are
written in one transaction by app.services.consent.ledger, and nowhere else."""
from __future__ import annotations

import enum

import peewee

from app.models.base import BaseModel, utcnow
from app.models.registry import Audience, Erasure, LegalBasis, personal_data
from app.models.user import User


class PurposeKind(enum.StrEnum):
    MARKETING = "marketing"      # direct marketing: "Stop all marketing" switches these off
    TRACKING = "tracking"        # pixels, tracked links, analytics (ePrivacy Art. 5(3))
    SHARING = "sharing"          # sale/sharing with third parties: Global Privacy Control applies
    PROCESSING = "processing"    # other optional uses of data
    ESSENTIAL = "essential"      # cannot be switched off; shown locked with the reason


class ConsentSource(enum.StrEnum):
    PORTAL = "portal"
    EMAIL_LINK = "email_link"
    ONE_CLICK = "one_click"
    EMAIL_REPLY = "email_reply"  # a mail to the List-Unsubscribe mailto: address
    IMPORT = "import"
    API = "api"
    GPC = "gpc"
    STAFF = "staff"
    PARENT = "parent"  # a parent's or guardian's consent for a child, from their verified address


class Purpose(BaseModel):
    key = peewee.CharField(max_length=40, unique=True)
    name = peewee.CharField(max_length=120)
    description = peewee.TextField()  # the plain-language notice people consent to
    kind = peewee.CharField(max_length=20)
    legal_basis = peewee.CharField(max_length=20)  # "consent" or "legitimate_interest"
    default_granted = peewee.BooleanField(default=False)  # only ever true for legitimate interest
    locked_reason = peewee.TextField(null=True)  # set for essential communications
    notice_version = peewee.IntegerField(default=1)  # the current notice (PurposeNotice)
    reconfirm_from_version = peewee.IntegerField(default=1)  # consents to older notices are not assumed
    notice_published_at = peewee.DateTimeField(default=utcnow)
    position = peewee.IntegerField(default=0)
    archived_at = peewee.DateTimeField(null=True)  # an archived newsletter: no longer offered

    @property
    def locked(self) -> bool:
        return self.locked_reason is not None

    @property
    def is_marketing(self) -> bool:
        return self.kind == PurposeKind.MARKETING.value

    @classmethod
    def catalogue(cls):
        """What people are offered: every purpose but archived newsletters."""
        return cls.select().where(cls.archived_at.is_null()).order_by(cls.position, cls.id)


class PurposeNotice(BaseModel):
    """Every version of a purpose's notice, never changed once published: proof of
    consent (Art. 7(1)) needs what version N said, not what the notice says today."""
    purpose = peewee.ForeignKeyField(Purpose, backref="notices", on_delete="CASCADE")
    version = peewee.IntegerField()
    name = peewee.CharField(max_length=120)
    text = peewee.TextField()
    material = peewee.BooleanField(default=False)
    published_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("purpose", "version"), True),)


@personal_data(
    audience=Audience.END_USERS,
    category="Consent records",
    holds="Every yes and no you gave to each purpose: when, which notice version you saw, how (page, email link, browser signal…), and from which truncated IP address and browser; for a child, the verified email address of the parent who agreed.",
    source="You, when you changed a preference; our staff or an import, when they recorded one for you.",
    purpose="To prove what you agreed to, and when you withdrew (GDPR Art. 7(1)).",
    legal_basis=LegalBasis.LEGAL_OBLIGATION,
    recipients=("Supervisory authorities, on request",),
    retention="3 years after the account is closed, then deleted.",
    erasure=Erasure.LEGAL_HOLD,
    hold_reason="Proof of consent and of its withdrawal (GDPR Art. 7(1), Art. 17(3)(b) and (e)); without it we could not show that we stopped.",
    person="user",
)
class ConsentEvent(BaseModel):
    user = peewee.ForeignKeyField(User, backref="consent_events", on_delete="CASCADE")
    purpose = peewee.ForeignKeyField(Purpose, backref="events", on_delete="RESTRICT")
    granted = peewee.BooleanField()
    notice_version = peewee.IntegerField()
    occurred_at = peewee.DateTimeField(default=utcnow, index=True)
    source = peewee.CharField(max_length=20)
    actor = peewee.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")
    actor_label = peewee.CharField(max_length=254)
    ip = peewee.CharField(max_length=64, null=True)  # truncated
    user_agent = peewee.CharField(max_length=300, default="")

    class Meta:
        indexes = (
            (("user", "purpose", "id"), False),
            (("granted", "occurred_at", "purpose"), False),  # DPO dashboard: withdrawals per week / year
        )


@personal_data(
    audience=Audience.END_USERS,
    category="Privacy choices",
    holds="Your current choice for each purpose, with the notice version and when and how it was last changed.",
    source="Derived from your consent records.",
    purpose="To respect your choices every time we are about to email, track or share.",
    legal_basis=LegalBasis.LEGAL_OBLIGATION,
    recipients=("Our own systems, through the consent API",),
    retention="While the account exists.",
    erasure=Erasure.DELETE,
    person="user",
)
class ConsentState(BaseModel):
    user = peewee.ForeignKeyField(User, backref="consent_states", on_delete="CASCADE")
    purpose = peewee.ForeignKeyField(Purpose, backref="states", on_delete="RESTRICT")
    granted = peewee.BooleanField()
    notice_version = peewee.IntegerField()
    source = peewee.CharField(max_length=20)
    updated_at = peewee.DateTimeField(default=utcnow)
    last_event = peewee.ForeignKeyField(ConsentEvent, unique=True, backref="+", on_delete="RESTRICT")

    class Meta:
        indexes = ((("user", "purpose"), True),)
