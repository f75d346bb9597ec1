"""The sub-processor register (GDPR Art. 28(2)/(4), SCC Decision 2021/914).

Every sub-processor names its purpose, the personal-data categories it receives
(from the registry, app.models.registry), where it processes them and the transfer
safeguard: none within the EEA, an adequacy decision, or the Standard Contractual
Clauses (module 2 or 3), with the UK Addendum where UK data goes. Each change is a
new version with every field, who made it, when and why, written in one transaction
with the current row and one audit record; removing is a version too. So the
register as it stood at any moment can be rebuilt (`register_as_of`): what a DPA's
Annex III lists, and what a change notice compares against.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, time

from peewee import fn

from app.db import database, is_postgres, transaction
from app.models import REGISTRY, User
from app.models.base import utcnow
from app.models.subprocessors import (
    ADEQUATE,
    COUNTRIES,
    EEA,
    MECHANISMS,
    NONE,
    SCC_2,
    SCC_3,
    THIRD,
    Country,
    Subprocessor,
    SubprocessorVersion,
)
from app.services.platform import audit
from app.services.platform.errors import ServiceError
from app.services.rights.erasure import ANONYMISERS

SCCS = (SCC_2, SCC_3)
ADDED, CHANGED, REMOVED = "added", "changed", "removed"
# Called with the new SubprocessorVersion once an add or change has committed
# (app.services.agreements.subprocessor_notices registers the customers' change notices).
AFTER_CHANGE: list = []
FIELDS = ("name", "purpose", "data_categories", "country", "transfer_mechanism", "uk_addendum", "since")


class SubprocessorError(ServiceError):
    """What is wrong with a change, per form field (`errors`); `field` is the first."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(errors.values()))
        self.errors = errors
        self.field = next(iter(errors))


@dataclass(frozen=True)
class Details:
    """A sub-processor's fields, as the DPO enters them."""
    name: str
    purpose: str
    data_categories: list[str]
    country: str
    transfer_mechanism: str
    uk_addendum: bool
    since: date | None

    def cleaned(self) -> Details:
        return Details(self.name.strip(), self.purpose.strip(), sorted(set(self.data_categories)),
                       self.country.strip().upper(), self.transfer_mechanism, bool(self.uk_addendum), self.since)

    def columns(self) -> dict:
        return {**asdict(self), "data_categories": json.dumps(self.data_categories)}


def data_categories() -> list[str]:
    """What a sub-processor may receive: the personal-data registry's categories."""
    return sorted(entry.category for entry in REGISTRY.values())


def countries() -> list[tuple[str, Country]]:
    return sorted(COUNTRIES.items(), key=lambda item: item[1].name)


# --- reading ----------------------------------------------------------------------

def list_subprocessors(include_removed: bool = False) -> list[Subprocessor]:
    """The register as it stands now, by name."""
    query = Subprocessor.select()
    if not include_removed:
        query = query.where(Subprocessor.removed_at.is_null())
    return list(query.order_by(fn.LOWER(Subprocessor.name), Subprocessor.id))


def removed_subprocessors() -> list[Subprocessor]:
    return list(Subprocessor.select().where(Subprocessor.removed_at.is_null(False))
                .order_by(Subprocessor.removed_at.desc(), Subprocessor.id.desc()))


def get_subprocessor(subprocessor_id: int) -> Subprocessor:
    found = Subprocessor.get_or_none(Subprocessor.id == subprocessor_id)
    if found is None:
        raise ServiceError("There is no such sub-processor.", 404)
    return found


def history(subprocessor_id: int) -> list[SubprocessorVersion]:
    """Every version of one sub-processor, newest first."""
    return list(SubprocessorVersion.select().where(SubprocessorVersion.subprocessor == subprocessor_id)
                .order_by(SubprocessorVersion.number.desc()))


def register_as_of(moment: datetime | date) -> list[SubprocessorVersion]:
    """The register as it stood at `moment` (UTC; a date means the end of that day):
    for each sub-processor, its latest version recorded by then, leaving out those
    not yet added and those removed by then. By name."""
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, time.max).replace(microsecond=0)
    V = SubprocessorVersion
    latest = (V.select(V.subprocessor.alias("sp"), fn.MAX(V.number).alias("n"))
              .where(V.changed_at <= moment).group_by(V.subprocessor))
    rows = (V.select().join(latest, on=((V.subprocessor == latest.c.sp) & (V.number == latest.c.n)))
            .where(V.change != REMOVED))
    return sorted(rows, key=lambda v: (v.name.lower(), v.subprocessor_id))


# --- changing ---------------------------------------------------------------------

def add_subprocessor(details: Details, reason: str, actor: User | None, now: datetime | None = None) -> Subprocessor:
    details, reason = _validated(details, reason)
    now = now or utcnow()
    with transaction():
        _lock_register()
        _check_name_free(details.name)
        row = Subprocessor.create(**details.columns(), version=1, created_at=now, updated_at=now)
        version = _write_version(row, ADDED, reason, actor, now)
        audit.record(audit.Event("subprocessor.added", actor=actor, details=_audited(row, version)))
    for callback in AFTER_CHANGE:
        callback(version)
    return row


def change_subprocessor(subprocessor_id: int, details: Details, reason: str, actor: User | None,
                        now: datetime | None = None) -> SubprocessorVersion | None:
    """Save a new version; None (and nothing written) when nothing changed."""
    details, reason = _validated(details, reason)
    with transaction():
        _lock_register()
        row = _current(subprocessor_id)
        changed = [f for f, value in details.columns().items() if getattr(row, f) != value]
        if not changed:
            return None
        _check_name_free(details.name, but=row.id)
        now = max(now or utcnow(), row.updated_at)  # versions never go back in time
        for name, value in details.columns().items():
            setattr(row, name, value)
        row.version, row.updated_at = row.version + 1, now
        row.save()
        version = _write_version(row, CHANGED, reason, actor, now)
        audit.record(audit.Event("subprocessor.changed", actor=actor,
                                 details={**_audited(row, version), "fields": changed}))
    for callback in AFTER_CHANGE:
        callback(version)
    return version


def remove_subprocessor(subprocessor_id: int, reason: str, actor: User | None,
                        now: datetime | None = None) -> SubprocessorVersion:
    """Take a sub-processor off the register: a version like any other, never a deletion."""
    reason = _checked_reason(reason)
    with transaction():
        _lock_register()
        row = _current(subprocessor_id)
        now = max(now or utcnow(), row.updated_at)
        row.version, row.updated_at, row.removed_at = row.version + 1, now, now
        row.save()
        version = _write_version(row, REMOVED, reason, actor, now)
        audit.record(audit.Event("subprocessor.removed", actor=actor, details=_audited(row, version)))
    return version


def _lock_register() -> None:
    """One change at a time: on SQLite every transaction already holds the write
    lock (app.db); on PostgreSQL a transaction-scoped advisory lock serialises them,
    so version numbers and the one-name-once check never race."""
    if is_postgres():
        database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_REGISTER_LOCK_ID,))


_REGISTER_LOCK_ID = 0x53555050  # 'SUPP'


def _current(subprocessor_id: int) -> Subprocessor:
    row = get_subprocessor(subprocessor_id)
    if row.removed_at is not None:
        raise ServiceError(f"{row.name} was removed from the register: add it again instead.", 409)
    return row


def _write_version(row: Subprocessor, change: str, reason: str, actor: User | None,
                   now: datetime) -> SubprocessorVersion:
    return SubprocessorVersion.create(
        subprocessor=row, number=row.version, change=change, reason=reason, changed_at=now,
        changed_by=actor.id if actor else None, **{f: getattr(row, f) for f in FIELDS})


def _audited(row: Subprocessor, version: SubprocessorVersion) -> dict:
    # Company names and ids only: the reason is free text and stays in the version.
    return {"subprocessor_id": row.id, "version_id": version.id, "version": version.number, "name": row.name}


def _check_name_free(name: str, but: int | None = None) -> None:
    query = Subprocessor.select().where(Subprocessor.removed_at.is_null(),
                                        fn.LOWER(Subprocessor.name) == name.lower())
    if but is not None:
        query = query.where(Subprocessor.id != but)
    if query.exists():
        raise SubprocessorError({"name": f"{name} is already on the register: change that entry instead."})


def _checked_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not 3 <= len(reason) <= 500:
        raise SubprocessorError({"reason": "Say in a few words why (at most 500 characters): the history keeps it."})
    return reason


def _validated(details: Details, reason: str) -> tuple[Details, str]:
    details = details.cleaned()
    errors: dict[str, str] = {}
    if not 2 <= len(details.name) <= 120:
        errors["name"] = "Give the company's name (at most 120 characters)."
    if not 5 <= len(details.purpose) <= 1000:
        errors["purpose"] = "Say what the sub-processor does with the data (5 to 1,000 characters)."
    known = set(data_categories())
    if not details.data_categories:
        errors["data_categories"] = "Choose the categories of personal data it receives."
    elif unknown := [c for c in details.data_categories if c not in known]:
        errors["data_categories"] = f"Not in the personal-data registry: {', '.join(unknown)}."
    country = COUNTRIES.get(details.country)
    if country is None:
        errors["country"] = "Choose the country where it processes the data."
    mechanism = details.transfer_mechanism
    if mechanism not in MECHANISMS:
        errors["transfer_mechanism"] = "Choose the transfer mechanism."
    elif country is not None:
        if country.zone == EEA and mechanism != NONE:
            errors["transfer_mechanism"] = (f"{country.name} is in the EEA: no transfer safeguard is needed. "
                                            f"Choose \u201c{MECHANISMS[NONE]}\u201d.")
        elif country.zone == ADEQUATE and mechanism == NONE:
            errors["transfer_mechanism"] = (f"{country.name} is outside the EEA: choose its adequacy decision, "
                                            "or the SCCs.")
        elif country.zone == THIRD and mechanism not in SCCS:
            errors["transfer_mechanism"] = (f"{country.name} is outside the EEA and has no adequacy decision "
                                            "covering every company: choose the SCC module (2 or 3).")
    if details.uk_addendum and mechanism not in SCCS:
        errors["uk_addendum"] = "The UK Addendum amends the SCCs: choose an SCC module, or leave it out."
    if details.since is None:
        errors["since"] = "Give the date it has processed data since (or will, for an announced change)."
    try:
        reason = _checked_reason(reason)
    except SubprocessorError as e:
        errors.update(e.errors)
    if errors:
        raise SubprocessorError(errors)
    return details, reason


# Erasing a staff member keeps the register's history and drops who made each change.
ANONYMISERS[SubprocessorVersion] = lambda user: SubprocessorVersion.update(changed_by=None).where(
    SubprocessorVersion.changed_by == user.id).execute()
