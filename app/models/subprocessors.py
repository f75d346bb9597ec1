"""The sub-processor register (GDPR Art. 28(2)/(4)): who processes personal data on
our behalf, for what, where, and under which transfer safeguard.

Two tables, like consent: `Subprocessor` is the current state (the fast read), and
`SubprocessorVersion` the append-only history, one row per change with every field
as it then stood, who made it, when and why. Removing a sub-processor is a version
too, so the register as it stood at any moment (a DPA's Annex III, a change notice)
can be rebuilt from the versions alone (app.services.agreements.subprocessors.register_as_of).
The only personal data here is which staff member made a change."""
from __future__ import annotations

import json
from dataclasses import dataclass

import peewee

from app.models.base import BaseModel, utcnow
from app.models.registry import Audience, Erasure, LegalBasis, personal_data
from app.models.user import User


@dataclass(frozen=True)
class Country:
    name: str
    zone: str  # "eea" / "adequate" (an EU adequacy decision) / "third"


EEA, ADEQUATE, THIRD = "eea", "adequate", "third"
# A short explicit list, by ISO 3166-1 alpha-2 code: the EEA (the EU, Iceland,
# Liechtenstein, Norway), the countries with an EU adequacy decision that
# sub-processors commonly use, and a few common third countries. The United States'
# adequacy decision (Data Privacy Framework) covers only certified companies, so
# the register asks for SCCs there; Canada's covers organisations under PIPEDA.
COUNTRIES: dict[str, Country] = {code: Country(name, zone) for code, name, zone in (
    ("AT", "Austria", EEA), ("BE", "Belgium", EEA), ("BG", "Bulgaria", EEA), ("HR", "Croatia", EEA),
    ("CY", "Cyprus", EEA), ("CZ", "Czechia", EEA), ("DK", "Denmark", EEA), ("EE", "Estonia", EEA),
    ("FI", "Finland", EEA), ("FR", "France", EEA), ("DE", "Germany", EEA), ("GR", "Greece", EEA),
    ("HU", "Hungary", EEA), ("IS", "Iceland", EEA), ("IE", "Ireland", EEA), ("IT", "Italy", EEA),
    ("LV", "Latvia", EEA), ("LI", "Liechtenstein", EEA), ("LT", "Lithuania", EEA), ("LU", "Luxembourg", EEA),
    ("MT", "Malta", EEA), ("NL", "Netherlands", EEA), ("NO", "Norway", EEA), ("PL", "Poland", EEA),
    ("PT", "Portugal", EEA), ("RO", "Romania", EEA), ("SK", "Slovakia", EEA), ("SI", "Slovenia", EEA),
    ("ES", "Spain", EEA), ("SE", "Sweden", EEA),
    ("GB", "United Kingdom", ADEQUATE), ("CH", "Switzerland", ADEQUATE), ("CA", "Canada", ADEQUATE),
    ("JP", "Japan", ADEQUATE), ("KR", "South Korea", ADEQUATE), ("NZ", "New Zealand", ADEQUATE),
    ("IL", "Israel", ADEQUATE),
    ("US", "United States", THIRD), ("IN", "India", THIRD), ("AU", "Australia", THIRD),
    ("SG", "Singapore", THIRD), ("BR", "Brazil", THIRD),
)}

NONE, ADEQUACY, SCC_2, SCC_3 = "none", "adequacy", "scc_module_2", "scc_module_3"
MECHANISMS = {
    NONE: "None needed (within the EEA)",
    ADEQUACY: "Adequacy decision",
    SCC_2: "SCC module 2 (controller to processor)",
    SCC_3: "SCC module 3 (processor to processor)",
}


class _Described:
    """What a current row and a version share: the fields the register shows."""

    @property
    def categories(self) -> list[str]:
        return json.loads(self.data_categories)

    @property
    def country_name(self) -> str:
        return COUNTRIES[self.country].name if self.country in COUNTRIES else self.country

    @property
    def mechanism_label(self) -> str:
        label = MECHANISMS.get(self.transfer_mechanism, self.transfer_mechanism)
        return f"{label}, with the UK Addendum" if self.uk_addendum else label


class Subprocessor(_Described, BaseModel):
    """A sub-processor as it stands now; `removed_at` set once it is off the register."""
    name = peewee.CharField(max_length=120)  # a company, not a person
    purpose = peewee.TextField()
    data_categories = peewee.TextField(default="[]")  # JSON list of registry categories
    country = peewee.CharField(max_length=2)  # ISO 3166-1 alpha-2
    transfer_mechanism = peewee.CharField(max_length=20)  # a key of services.subprocessors.MECHANISMS
    uk_addendum = peewee.BooleanField(default=False)
    since = peewee.DateField()  # engaged since (may be ahead: a change announced before it happens)
    version = peewee.IntegerField(default=1)  # the number of its latest version
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    removed_at = peewee.DateTimeField(null=True, index=True)


@personal_data(category="Sub-processor register changes you made (staff)",
               audience=Audience.STAFF,
               for_customers=False,
               holds="For the privacy team: the changes you made to the sub-processor register, when, and why.",
               source="Our systems, when a staff member changes the sub-processor register.",
               purpose="Accountability: to show who changed the list of sub-processors customers were told about "
                       "(GDPR Arts. 5(2) and 28(2)).",
               legal_basis=LegalBasis.LEGAL_OBLIGATION, recipients=("None",),
               retention="As long as the register's history is kept.",
               erasure=Erasure.ANONYMISE,  # the version stays (customers were told of it); who made it is dropped
               person="changed_by")
class SubprocessorVersion(_Described, BaseModel):
    """One change to one sub-processor, with all its fields as they stood after it.
    Never updated except to drop `changed_by` when that person is erased."""
    subprocessor = peewee.ForeignKeyField(Subprocessor, backref="versions")
    number = peewee.IntegerField()  # 1, 2, … per sub-processor
    change = peewee.CharField(max_length=10)  # added / changed / removed
    name = peewee.CharField(max_length=120)
    purpose = peewee.TextField()
    data_categories = peewee.TextField(default="[]")
    country = peewee.CharField(max_length=2)
    transfer_mechanism = peewee.CharField(max_length=20)
    uk_addendum = peewee.BooleanField(default=False)
    since = peewee.DateField()
    reason = peewee.TextField()
    changed_at = peewee.DateTimeField(default=utcnow, index=True)
    changed_by = peewee.ForeignKeyField(User, null=True, backref="+", on_delete="SET NULL")

    class Meta:
        indexes = ((("subprocessor", "number"), True),)
