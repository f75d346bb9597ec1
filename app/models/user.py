"""People: end users, subscribers without a password, and staff, in one table."""
from __future__ import annotations

import enum

import peewee

from app.models.base import BaseModel, utcnow
from app.models.fields import EncryptedTextField
from app.models.registry import Audience, Erasure, LegalBasis, personal_data


class Role(enum.StrEnum):
    SUBJECT = "subject"
    DPO = "dpo"
    SALES_OPS = "sales_ops"
    ADMIN = "admin"
    CUSTOMER_ADMIN = "customer_admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.SUBJECT: "End user",
    Role.DPO: "Data protection officer",
    Role.SALES_OPS: "Sales ops",
    Role.ADMIN: "Administrator",
    Role.CUSTOMER_ADMIN: "Business customer admin",
}
ROLES_REQUIRING_TOTP = frozenset({Role.DPO, Role.ADMIN})


@personal_data(
    audience=Audience.END_USERS,
    category="Account",
    holds="Your email address, name, role, sign-in settings (password hash, two-factor seed) and account dates.",
    source="You, when you signed up, or the company that added you as a subscriber.",
    purpose="To identify you, let you sign in and keep your account secure.",
    legal_basis=LegalBasis.CONTRACT,
    recipients=("Hosting provider (sub-processor)",),
    retention="While the account exists; closed accounts are erased within 30 days.",
    erasure=Erasure.ANONYMISE,
    person="self",
    secret_fields=("password_hash", "totp_secret", "totp_last_step"),
)
class User(BaseModel):
    # Stored lower-cased: addresses are unique case-insensitively, on every database.
    email = peewee.CharField(max_length=254, unique=True)
    name = peewee.CharField(max_length=200, default="")
    role = peewee.CharField(max_length=20, default=Role.SUBJECT.value, index=True)
    password_hash = peewee.CharField(max_length=255, null=True)
    totp_secret = EncryptedTextField(null=True)
    totp_last_step = peewee.BigIntegerField(null=True)  # refuses a code used twice
    active = peewee.BooleanField(default=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    last_login_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "users"

    # Flask-Login's protocol
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return str(self.id)

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def needs_totp(self) -> bool:
        return self.role_enum in ROLES_REQUIRING_TOTP

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def save(self, *args, **kwargs):
        self.email = normalise_email(self.email)
        self.updated_at = utcnow()
        return super().save(*args, **kwargs)

    @classmethod
    def by_email(cls, email: str) -> "User | None":
        return cls.get_or_none(cls.email == normalise_email(email))


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


@personal_data(
    audience=Audience.END_USERS,
    category="Sign-in links",
    holds="The address a one-time sign-in link was sent to, and when it was sent and used.",
    source="You, when you asked for a sign-in link.",
    purpose="To sign you in without a password, once, within 15 minutes.",
    legal_basis=LegalBasis.CONTRACT,
    recipients=("Email delivery provider (sub-processor)",),
    retention="Deleted one day after the link expires.",
    erasure=Erasure.DELETE,
    person_email="email",
)
class SignInLink(BaseModel):
    """One magic link. The emailed token is signed (so forged links are told apart
    from expired ones) and names this row, whose `used_at` makes it single-use."""
    nonce = peewee.CharField(max_length=64, unique=True)
    email = peewee.CharField(max_length=254, index=True)
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField(index=True)
    used_at = peewee.DateTimeField(null=True)
