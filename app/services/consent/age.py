"""The age of digital consent: below it, a purpose based on consent needs a parent's
or guardian's consent (GDPR Art. 8(1); UK Data Protection Act 2018 s.9; COPPA,
16 CFR 312, in the US; India's DPDP Act 2023 s.9, which makes everyone under 18 a
child whose consent a parent gives).

GDPR Art. 8(1) sets 16 and lets each member state lower it to no less than 13;
COUNTRY_AGES holds the states that did (their national implementing laws), and the
countries outside the EU with their own rule. Every other country, and a person whose
country we do not know, gets the CHILD_CONSENT_AGE setting (16).

We act on what we are told: a birth date, or an age declared on a date (an import's
"age" column, which then grows by one every year). A person who told us neither is
treated as an adult, as the policies promise ("we do not knowingly collect…"); a
parent who learns otherwise reports the child (app.services.rights.child_reports)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from flask import current_app, has_app_context

from app.db import database
from app.models import Profile, User
from app.models.base import utcnow
from app.prepared import Prepared
from app.services.platform import audit
from app.services.platform.errors import ServiceError

COUNTRY_AGES = {
    "GB": 13, "US": 13, "IN": 18,
    "BE": 13, "DK": 13, "EE": 13, "FI": 13, "LV": 13, "MT": 13, "PT": 13, "SE": 13, "NO": 13, "IS": 13,
    "AT": 14, "BG": 14, "CY": 14, "ES": 14, "IT": 14, "LT": 14,
    "CZ": 15, "FR": 15, "GR": 15, "SI": 15,
}
DEFAULT_AGE = 16  # GDPR Art. 8(1); the CHILD_CONSENT_AGE setting's default
OLDEST = 120  # a birth date further back is a typing mistake

_PROFILE = Prepared(lambda slot: Profile.select().where(Profile.user == slot("user")).limit(1))


@dataclass(frozen=True)
class Minor:
    """A person under the age of digital consent where they live."""
    age: int
    consent_age: int
    country: str


def consent_age(country: str | None) -> int:
    default = int(current_app.config["CHILD_CONSENT_AGE"]) if has_app_context() else DEFAULT_AGE  # scripts
    return COUNTRY_AGES.get((country or "").upper(), default)


def whole_years(since: date, today: date) -> int:
    return today.year - since.year - ((today.month, today.day) < (since.month, since.day))


def age_of(profile: Profile | None, today: date | None = None) -> int | None:
    """The age today, or a lower bound of it from a declared age; None when unknown."""
    today = today or utcnow().date()
    if profile is None:
        return None
    if profile.birth_date:
        return whole_years(profile.birth_date, today)
    if profile.declared_age is not None:
        return profile.declared_age + whole_years(profile.declared_age_on or today, today)
    return None


def minor_status(user: User, today: date | None = None) -> Minor | None:
    """The person's age and the age of consent that applies, if they are below it."""
    if not user.id:
        return None
    profile = _PROFILE.first(user=user.id)
    age = age_of(profile, today)
    if age is None:
        return None
    limit = consent_age(profile.country)
    return Minor(age, limit, profile.country) if age < limit else None


def needs_parent(user: User) -> bool:
    return minor_status(user) is not None


# --- what people and imports tell us ---------------------------------------------------

@dataclass(frozen=True)
class AgeFact:
    birth_date: date | None = None
    declared_age: int | None = None


def parse_age(text: str, today: date | None = None) -> AgeFact | None:
    """A birth date (YYYY-MM-DD) or an age in whole years; None for an empty cell.
    Raises ServiceError saying what is wrong with anything else."""
    text = (text or "").strip()
    today = today or utcnow().date()
    if not text:
        return None
    if re.fullmatch(r"\d{1,3}", text):
        age = int(text)
        if age > OLDEST:
            raise ServiceError(f"age “{text}” is not an age in years (0 to {OLDEST})")
        return AgeFact(declared_age=age)
    try:
        born = date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        born = None
    if born is None:
        raise ServiceError(f"birth date “{text[:40]}” is not a date like 2010-04-30, nor an age in years")
    check_birth_date(born, today)
    return AgeFact(birth_date=born)


def check_birth_date(born: date, today: date | None = None) -> None:
    today = today or utcnow().date()
    if born > today:
        raise ServiceError(f"birth date {born.isoformat()} is in the future")
    if whole_years(born, today) > OLDEST:
        raise ServiceError(f"birth date {born.isoformat()} is more than {OLDEST} years ago")


def record_birth_date(user: User, born: date, ip: str | None = None) -> Profile:
    """The person tells us their date of birth (asked at sign-up, correctable later)."""
    check_birth_date(born)
    with database.atomic():
        profile = Profile.get_or_none(Profile.user == user.id) or Profile(user=user)
        profile.birth_date, profile.declared_age, profile.declared_age_on = born, None, None
        profile.updated_at = utcnow()
        profile.save()
        audit.record(audit.Event("profile.rectified", actor=user, subject=user, ip=ip,
                                 details={"fields": ["birth_date"]}))
    return profile
