"""The personal-data registry: every table holding personal data says, beside its
model, what it holds, why, on what basis, for how long, how it is erased and how a
row reaches its person. Everything that must cover "all the data" (My data, export,
erasure, retention, the DPA's Annex I) walks REGISTRY and nothing else.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

import peewee


class LegalBasis(enum.StrEnum):
    CONSENT = "consent (GDPR Art. 6(1)(a))"
    CONTRACT = "performance of a contract (GDPR Art. 6(1)(b))"
    LEGAL_OBLIGATION = "legal obligation (GDPR Art. 6(1)(c))"
    LEGITIMATE_INTEREST = "legitimate interest (GDPR Art. 6(1)(f))"


class Audience(enum.StrEnum):
    """Whom a category's rows are about. The portal, My data and the erasure certificate
    show an end user the END_USERS categories (folded away when empty) and any other
    category only where it holds rows about them: a staff member or a customer's admin
    is also a data subject, and sees their own."""
    END_USERS = "end users"
    STAFF = "our staff"
    BUSINESS_CUSTOMERS = "business customers' admins"


class Erasure(enum.StrEnum):
    DELETE = "delete"
    ANONYMISE = "anonymise"
    LEGAL_HOLD = "legal hold"


@dataclass(frozen=True)
class RetentionRule:
    """How the retention sweep (app.services.retention.policies) acts on a category: rows whose
    `clock` column is older than the policy's period go. `clock_means` says in words
    what the clock is ("the device was last seen"). `days` and `action` are the
    default policy; the DPO may change both. Anonymising a row cuts its link to the
    person, generalises its clock to the month, rounds `rounded` numbers (map
    coordinates to about 10 km) and blanks whichever `blankable` text fields the DPO
    chose: what stays serves statistics and names nobody. `min_days`: the shortest
    period the law allows (a request log's 24 months).
    `withdrawn_consent`: (purpose key, (field, value) or None) pairs: rows that exist
    only because of that consent go as soon as their person withdrew it."""
    clock: str
    clock_means: str
    days: int
    action: str = "delete"
    blankable: tuple[str, ...] = ()
    rounded: tuple[str, ...] = ()
    min_days: int = 1
    withdrawn_consent: tuple[tuple[str, tuple[str, str] | None], ...] = ()


@dataclass(frozen=True)
class PersonalData:
    """One registry entry. `person` is the path of foreign keys from the row to its
    User (e.g. "owner", or "lead.owner"; "self" for the User table itself); `person_email` names an email column when
    the row reaches its person by address instead (people without an account).

    A row can also be *about* someone other than the account it belongs to: a lead a
    customer typed in is about the person named in it. `identifiers` maps the kinds of
    identifier a row holds about that person to their columns ({"email": "email",
    "phone": "phone"}); `about` says where those identifiers are: "self" (in this row),
    or the foreign key of a row that has them (a call log's "lead"). The person a
    verified identifier names (app.services.rights.personal_data.VERIFIED) then sees,
    exports and erases the row like their own, with `others_fields` (whose the row
    is: the customer who entered it) withheld."""
    category: str
    holds: str
    source: str
    purpose: str
    legal_basis: LegalBasis
    recipients: tuple[str, ...]
    retention: str
    erasure: Erasure
    person: str | None = None
    person_email: str | None = None
    hold_reason: str | None = None
    masked_fields: tuple[str, ...] = ()   # shown and exported as their last 4 characters only
    secret_fields: tuple[str, ...] = ()   # never shown or exported (credentials)
    retention_rule: RetentionRule | None = None  # None: kept as long as what it belongs to
    # False for what we hold as controller for our own business (what staff did, the
    # DPA contracts themselves): a DPA's Annex I describes only the processing we do
    # for customers, so it leaves these out.
    for_customers: bool = True
    identifiers: dict[str, str] = field(default_factory=dict, compare=False)
    about: str | None = None
    others_fields: tuple[str, ...] = ()
    # Whom the rows are about; every entry says it (no default, so no entry is guessed).
    audience: Audience | None = None
    model: type[peewee.Model] | None = field(default=None, compare=False)

    def __post_init__(self):
        if (self.erasure is Erasure.LEGAL_HOLD) != bool(self.hold_reason):
            raise ValueError(f"{self.category}: a legal hold needs its reason, and only a hold has one")
        if not (self.person or self.person_email):
            raise ValueError(f"{self.category}: say how a row reaches its person")
        if (self.about == "self") != bool(self.identifiers):
            raise ValueError(f"{self.category}: a row about someone names their identifiers, and only such a row")
        if not isinstance(self.audience, Audience):
            raise ValueError(f"{self.category}: say whom it concerns (audience=Audience.END_USERS, STAFF or "
                             "BUSINESS_CUSTOMERS)")
        if self.audience is not Audience.END_USERS and self.for_customers:
            # Records of our staff and of our customers' admins are ours, as controller:
            # a DPA's Annex I, which lists the processing done for customers, leaves them out.
            raise ValueError(f"{self.category}: a category about {self.audience} is not processed for customers "
                             "(for_customers=False)")


REGISTRY: dict[type[peewee.Model], PersonalData] = {}


def personal_data(**entry):
    """Class decorator: register the model with its entry."""
    def register(model):
        record = PersonalData(**entry, model=model)
        _check_path(model, record)
        REGISTRY[model] = record
        model.personal_data = record
        return model
    return register


def _check_path(model, record: PersonalData) -> None:
    target = model
    path = record.person if record.person not in (None, "self") else ""
    for name in filter(None, path.split(".")):
        fk = target._meta.fields.get(name)
        if not isinstance(fk, peewee.ForeignKeyField):
            raise ValueError(f"{model.__name__}: '{record.person}' is not a foreign-key path")
        target = fk.rel_model
    if record.person_email and record.person_email not in model._meta.fields:
        raise ValueError(f"{model.__name__}: no column '{record.person_email}'")
    for name in (*record.identifiers.values(), *record.others_fields):
        if name not in model._meta.fields:
            raise ValueError(f"{model.__name__}: no column '{name}'")
    if record.about not in (None, "self"):
        fk = model._meta.fields.get(record.about)
        target = REGISTRY.get(fk.rel_model) if isinstance(fk, peewee.ForeignKeyField) else None
        if target is None or target.about != "self":
            raise ValueError(f"{model.__name__}: '{record.about}' must lead to a registered row about someone")
    if record.about and "." in (record.person or "."):
        raise ValueError(f"{model.__name__}: a row about someone must name its owner by one foreign key")
    rule = record.retention_rule
    if rule:
        for name in (rule.clock, *rule.blankable, *rule.rounded, *(c[1][0] for c in rule.withdrawn_consent if c[1])):
            if name not in model._meta.fields:
                raise ValueError(f"{model.__name__}: the retention rule names no column '{name}'")
        if rule.blankable and not model._meta.fields[record.person].null:
            raise ValueError(f"{model.__name__}: anonymising cuts the person link, which must be nullable")


def references_person(model, person_model, _seen=None) -> bool:
    """True when `model` points at `person_model` through any chain of foreign keys."""
    seen = _seen or set()
    if model in seen:
        return False
    seen.add(model)
    for fk in model._meta.refs:
        if fk.rel_model is person_model or references_person(fk.rel_model, person_model, seen):
            return True
    return False
