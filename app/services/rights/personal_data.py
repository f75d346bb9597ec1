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


# The identifiers a person has proved are theirs: the account's address, verified by
# the sign-in link or the password account's confirmation. A phone number in a lead is
# not matched: nobody has proved it is theirs (a wrong match would show a stranger's
# call logs).
VERIFIED = ("email",)
WITHHELD = "(withheld)"  # whose the row is: the customer who keeps it


@dataclass(frozen=True)
class CategoryHolding:
    entry: PersonalData
    rows: int
    kept: str  # how long it is kept, as the DPO's policy now says (app.services.rights.retention_notice)
    about_you: int = 0  # of `rows`, those kept by someone else about the person (a customer's lead)


def rows_of(entry: PersonalData, user: User) -> peewee.ModelSelect:
    """Every row of the entry's table that belongs to `user`, following its person
    path, and every row about them under a verified identifier (a customer's lead
    with their address, and that lead's calls, texts, files and meetings)."""
    return _owned_by(entry, user.id, user.email)


def rows_of_people(entry: PersonalData, people: peewee.ModelSelect) -> peewee.ModelSelect:
    """Every row of the entry's table that belongs to any of `people`'s accounts (a
    query of users, used as a subquery: no id list in memory, however many people).
    Not the rows others keep about them: a company's export holds what its accounts
    hold, not what other customers keep about its staff."""
    query, owned = _account_rows(entry, people.select(User.id), people.select(User.email),
                                 match=lambda c, v: c.in_(v))
    return query.where(owned)


def _owned_by(entry: PersonalData, user_id, email) -> peewee.ModelSelect:
    query, owned = _account_rows(entry, user_id, email)
    about = _about_condition(entry, email)
    return query.where(owned if about is None else (owned | about))


def _account_rows(entry: PersonalData, user_id, email, match=lambda column, value: column == value):
    model = entry.model
    if entry.person_email:
        return model.select(), match(getattr(model, entry.person_email), email)
    if entry.person == "self":
        return model.select(), match(model.id, user_id)
    query, current = model.select(), model
    names = entry.person.split(".")
    for name in names[:-1]:
        field = getattr(current, name)
        query = query.join_from(current, field.rel_model, on=field)
        current = field.rel_model
    return query, match(getattr(current, names[-1]), user_id)


def _about_condition(entry: PersonalData, email):
    """Rows about the person by a verified identifier, or None if the category holds
    none. Addresses in leads are typed by customers: matched case-blind (an
    expression index on lower(email), migration 027, keeps it a lookup)."""
    if entry.about == "self":
        return fn.LOWER(getattr(entry.model, entry.identifiers["email"])) == email
    if entry.about:
        fk = getattr(entry.model, entry.about)
        target = REGISTRY[fk.rel_model]
        return fk.in_(target.model.select(target.model.id).where(_about_condition(target, email)))
    return None


def _about_only(entry: PersonalData, user_id, email) -> peewee.ModelSelect:
    """The rows about the person that are not also theirs as the account owner."""
    owner = getattr(entry.model, entry.person)
    return entry.model.select().where(_about_condition(entry, email), owner.is_null() | (owner != user_id))


# One prepared count per category: the portal and My data count every category on
# each visit, and rendering ~40 queries' SQL was most of those pages' time.
_COUNTS: dict[type, Prepared] = {}


def _count_of(entry: PersonalData, user: User) -> int:
    statement = _COUNTS.get(entry.model)
    if statement is None:
        statement = _COUNTS[entry.model] = Prepared(
            lambda slot: _owned_by(entry, slot("id"), slot("email")).select(fn.COUNT(SQL("*"))))
    return statement.scalar(id=user.id, email=user.email)


_ABOUT_COUNTS: dict[type, Prepared] = {}


def _about_count_of(entry: PersonalData, user: User) -> int:
    if not entry.about:
        return 0
    statement = _ABOUT_COUNTS.get(entry.model)
    if statement is None:
        statement = _ABOUT_COUNTS[entry.model] = Prepared(
            lambda slot: _about_only(entry, slot("id"), slot("email")).select(fn.COUNT(SQL("*"))))
    return statement.scalar(id=user.id, email=user.email)


def holdings_of(user: User) -> list[CategoryHolding]:
    """Each registry category with how many rows it holds about `user`."""
    texts = retention_texts()
    return [CategoryHolding(entry, _count_of(entry, user), kept(entry, texts), _about_count_of(entry, user))
            for entry in registry_entries()]


def found_under(entry: PersonalData, user: User) -> dict[str, int]:
    """How many of the person's rows were found under each identifier: the account,
    and the verified address (rows customers keep about them). For the certificate."""
    about = _about_only(entry, user.id, user.email).count() if entry.about else 0
    return {"account": rows_of(entry, user).count() - about, "email": about}


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
    return _plain(entry, rows_of(entry, user), after, limit, user)


def plain_rows_of_people(entry: PersonalData, people: peewee.ModelSelect, after: int | None = None,
                         limit: int | None = None):
    """`plain_rows` for every row of any of `people` (app.services.rights.personal_data.rows_of_people)."""
    return _plain(entry, rows_of_people(entry, people), after, limit)


def _plain(entry: PersonalData, rows: peewee.ModelSelect, after: int | None, limit: int | None,
           user: User | None = None):
    fields = _shown_fields(entry)
    names = [f.column_name for f in fields]
    converting = [(i, c) for i, c in enumerate(_converter(entry, f) for f in fields) if c]
    withheld = _withheld(entry, fields, user) if user else None
    query = rows.select(*fields).order_by(entry.model.id)
    if after:
        query = query.where(entry.model.id > after)
    if limit:
        query = query.limit(limit)
    for values in database.execute(query):
        values = list(values)
        for i, convert in converting:
            values[i] = convert(values[i])
        if withheld:
            withheld(values)
        yield dict(zip(names, values))


def _withheld(entry: PersonalData, fields: list[peewee.Field], user: User):
    """For a row about the person that someone else keeps (a customer's lead), a
    function blanking what is that someone's (the customer who entered it); None for
    categories without such rows."""
    if not entry.about:
        return None
    names = [f.name for f in fields]
    owner = names.index(entry.person)
    others = [names.index(n) for n in entry.others_fields if n in names]

    def withhold(values):
        if values[owner] != user.id:
            for i in others:
                values[i] = WITHHELD
    return withhold


def page_of_rows(entry: PersonalData, user: User, after: int | None = None, size: int = 25):
    """One page of the person's rows in a category, by id (keyset)."""
    rows = list(plain_rows(entry, user, after=after, limit=size + 1))
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1]["id"] if more else None)
