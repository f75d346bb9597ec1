"""Questions answered by walking the personal-data registry."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import peewee

from app.models import REGISTRY, User
from app.models.registry import PersonalData
from app.services.errors import ServiceError


@dataclass(frozen=True)
class CategoryHolding:
    entry: PersonalData
    rows: int


def rows_of(entry: PersonalData, user: User) -> peewee.ModelSelect:
    """Every row of the entry's table that belongs to `user`, following its person path."""
    model = entry.model
    if entry.person_email:
        return model.select().where(getattr(model, entry.person_email) == user.email)
    if entry.person == "self":
        return model.select().where(model.id == user.id)
    query, current = model.select(), model
    names = entry.person.split(".")
    for name in names[:-1]:
        field = getattr(current, name)
        query = query.join_from(current, field.rel_model, on=field)
        current = field.rel_model
    return query.where(getattr(current, names[-1]) == user.id)


def holdings_of(user: User) -> list[CategoryHolding]:
    """Each registry category with how many rows it holds about `user`."""
    return [CategoryHolding(entry, rows_of(entry, user).count()) for entry in registry_entries()]


def registry_entries() -> list[PersonalData]:
    return sorted(REGISTRY.values(), key=lambda e: e.category)


def slug_of(entry: PersonalData) -> str:
    return entry.model._meta.table_name


def entry_by_slug(slug: str) -> PersonalData:
    for entry in REGISTRY.values():
        if slug_of(entry) == slug:
            return entry
    raise ServiceError("There is no such category.", 404)


def columns_of(entry: PersonalData) -> list[str]:
    """The columns a person sees and exports: all but credentials."""
    return [f.column_name for f in entry.model._meta.sorted_fields if f.name not in entry.secret_fields]


def values_of(entry: PersonalData, row) -> dict:
    """One row as plain JSON-ready values, masked where the registry says so."""
    out = {}
    for field in entry.model._meta.sorted_fields:
        if field.name in entry.secret_fields:
            continue
        value = row.__data__.get(field.name)
        if field.name in entry.masked_fields and value:
            value = "…" + str(value)[-4:]
        out[field.column_name] = _plain(value)
    return out


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat() + ("Z" if value.tzinfo is None else "")
    if isinstance(value, Decimal):
        return str(value)
    return value


def page_of_rows(entry: PersonalData, user: User, after: int | None = None, size: int = 25):
    """One page of the person's rows in a category, by id (keyset)."""
    model = entry.model
    query = rows_of(entry, user).order_by(model.id)
    if after:
        query = query.where(model.id > after)
    rows = list(query.limit(size + 1))
    more = len(rows) > size
    rows = rows[:size]
    return [values_of(entry, r) for r in rows], (rows[-1].id if more else None)
