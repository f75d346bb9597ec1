"""Questions answered by walking the personal-data registry."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import peewee
from peewee import SQL, fn

from app.db import database
from app.models import REGISTRY, User
from app.models.registry import PersonalData
from app.prepared import Prepared
from app.services.platform.errors import ServiceError
from app.services.rights.retention_notice import kept, retention_texts


@dataclass(frozen=True)
class CategoryHolding:
    entry: PersonalData
    rows: int
    kept: str  # how long it is kept, as the DPO's policy now says (app.services.rights.retention_notice)


def rows_of(entry: PersonalData, user: User) -> peewee.ModelSelect:
    """Every row of the entry's table that belongs to `user`, following its person path."""
    return _owned_by(entry, user.id, user.email)


def rows_of_people(entry: PersonalData, people: peewee.ModelSelect) -> peewee.ModelSelect:
    """Every row of the entry's table that belongs to any of `people` (a query of
    users, used as a subquery: no id list in memory, however many people)."""
    return _owned_by(entry, people.select(User.id), people.select(User.email), match=lambda c, v: c.in_(v))


def _owned_by(entry: PersonalData, user_id, email, match=lambda column, value: column == value) -> peewee.ModelSelect:
    model = entry.model
    if entry.person_email:
        return model.select().where(match(getattr(model, entry.person_email), email))
    if entry.person == "self":
        return model.select().where(match(model.id, user_id))
    query, current = model.select(), model
    names = entry.person.split(".")
    for name in names[:-1]:
        field = getattr(current, name)
        query = query.join_from(current, field.rel_model, on=field)
        current = field.rel_model
    return query.where(match(getattr(current, names[-1]), user_id))


# One prepared count per category: the portal and My data count every category on
# each visit, and rendering ~40 queries' SQL was most of those pages' time.
_COUNTS: dict[type, Prepared] = {}


def _count_of(entry: PersonalData, user: User) -> int:
    statement = _COUNTS.get(entry.model)
    if statement is None:
        statement = _COUNTS[entry.model] = Prepared(
            lambda slot: _owned_by(entry, slot("id"), slot("email")).select(fn.COUNT(SQL("*"))))
    return statement.scalar(id=user.id, email=user.email)


def holdings_of(user: User) -> list[CategoryHolding]:
    """Each registry category with how many rows it holds about `user`."""
    texts = retention_texts()
    return [CategoryHolding(entry, _count_of(entry, user), kept(entry, texts)) for entry in registry_entries()]


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
    return [f.column_name for f in _shown_fields(entry)]


def _shown_fields(entry: PersonalData) -> list[peewee.Field]:
    return [f for f in entry.model._meta.sorted_fields if f.name not in entry.secret_fields]


def _converter(entry: PersonalData, field: peewee.Field):
    """How one stored column becomes a plain JSON/CSV value, decided once per column.
    It takes the driver's raw value (SQLite: text dates, 0/1 booleans; PostgreSQL:
    datetime, bool, Decimal): going through peewee's model conversion first would
    parse every date only to print it again, the bulk of an export's time."""
    if field.name in entry.masked_fields:
        return lambda v: "…" + str(v)[-4:] if v else v
    if isinstance(field, peewee.DateTimeField):
        return lambda v: v.isoformat() + "Z" if isinstance(v, datetime) else (v and v.replace(" ", "T") + "Z")
    if isinstance(field, peewee.BooleanField):
        return lambda v: None if v is None else bool(v)
    if isinstance(field, peewee.DecimalField):
        return lambda v: None if v is None else str(v)
    return None  # as stored


def plain_rows(entry: PersonalData, user: User, after: int | None = None, limit: int | None = None):
    """The person's rows in a category as plain dicts (masked, no credentials), by id,
    straight from the database cursor: an export streams hundreds of thousands."""
    return _plain(entry, rows_of(entry, user), after, limit)


def plain_rows_of_people(entry: PersonalData, people: peewee.ModelSelect, after: int | None = None,
                         limit: int | None = None):
    """`plain_rows` for every row of any of `people` (app.services.rights.personal_data.rows_of_people)."""
    return _plain(entry, rows_of_people(entry, people), after, limit)


def _plain(entry: PersonalData, rows: peewee.ModelSelect, after: int | None, limit: int | None):
    fields = _shown_fields(entry)
    names = [f.column_name for f in fields]
    converting = [(i, c) for i, c in enumerate(_converter(entry, f) for f in fields) if c]
    query = rows.select(*fields).order_by(entry.model.id)
    if after:
        query = query.where(entry.model.id > after)
    if limit:
        query = query.limit(limit)
    for values in database.execute(query):
        values = list(values)
        for i, convert in converting:
            values[i] = convert(values[i])
        yield dict(zip(names, values))


def page_of_rows(entry: PersonalData, user: User, after: int | None = None, size: int = 25):
    """One page of the person's rows in a category, by id (keyset)."""
    rows = list(plain_rows(entry, user, after=after, limit=size + 1))
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1]["id"] if more else None)
