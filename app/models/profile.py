"""What a person tells us about themselves beyond the account."""
from __future__ import annotations

import peewee

from app.models.base import BaseModel, utcnow
from app.models.files import UploadedFile
from app.models.registry import Audience, Erasure, LegalBasis, personal_data
from app.models.user import User


@personal_data(
    audience=Audience.END_USERS,
    category="Profile",
    holds="Phone number, company, country, time zone, language, profile photo, and your date of birth or the age you told us.",
    source="You, in your profile or when you signed up; the company that imported you as a subscriber, for a birth date or age.",
    purpose="To show your account as you set it up and to contact you about it.",
    legal_basis=LegalBasis.CONTRACT,
    recipients=("Hosting provider (sub-processor)",),
    retention="While the account exists.",
    erasure=Erasure.DELETE,
    person="user",
)
class Profile(BaseModel):
    user = peewee.ForeignKeyField(User, unique=True, backref="profile_rows", on_delete="CASCADE")
    phone = peewee.CharField(max_length=40, default="")
    company = peewee.CharField(max_length=200, default="")
    country = peewee.CharField(max_length=2, default="")  # ISO 3166-1 alpha-2
    time_zone = peewee.CharField(max_length=64, default="UTC")
    language = peewee.CharField(max_length=16, default="en")
    photo = peewee.ForeignKeyField(UploadedFile, null=True, on_delete="SET NULL", backref="+")
    updated_at = peewee.DateTimeField(default=utcnow)
    # Age, for the age of digital consent (app.services.consent.age): a birth date, or
    # an age declared on a date (an import's "age" column), from which a lower bound
    # of the age today follows. Neither known: treated as an adult (we do not ask
    # people to prove their age; we act on what we are told).
    birth_date = peewee.DateField(null=True)
    declared_age = peewee.SmallIntegerField(null=True)
    declared_age_on = peewee.DateField(null=True)
