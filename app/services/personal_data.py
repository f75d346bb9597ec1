"""Questions answered by walking the personal-data registry."""
from __future__ import annotations

from dataclasses import dataclass

import peewee

from app.models import REGISTRY, User
from app.models.registry import PersonalData


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
