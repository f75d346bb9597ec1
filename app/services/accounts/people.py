"""Finding people on file."""
from __future__ import annotations

from dataclasses import dataclass

import peewee

from app.models import Role, User
from app.models.user import normalise_email

PAGE_SIZE = 25


@dataclass(frozen=True)
class PeoplePage:
    people: list[User]
    next_after: int | None  # keyset cursor: id of the last row shown


def search_people(text: str = "", role: str | None = None, after: int | None = None,
                  page_size: int = PAGE_SIZE) -> PeoplePage:
    """People matching `text` (email or name), newest id first, one page after `after`.
    Keyset pagination: each page costs the same however deep it is."""
    query = User.select().order_by(User.id.desc())
    if text.strip():
        needle = normalise_email(text)
        query = query.where(User.email.contains(needle) | User.name.contains(text.strip()))
    if role:
        query = query.where(User.role == role)
    if after:
        query = query.where(User.id < after)
    rows = list(query.limit(page_size + 1))
    more = len(rows) > page_size
    rows = rows[:page_size]
    return PeoplePage(rows, rows[-1].id if more else None)


def count_by_role() -> dict[Role, int]:
    counts = dict(User.select(User.role, peewee.fn.COUNT(User.id)).group_by(User.role).tuples())
    return {role: counts.get(role.value, 0) for role in Role}


def count_without_password() -> int:
    """End users who never set a password: subscribers added by the company."""
    return User.select().where(User.role == Role.SUBJECT.value, User.password_hash.is_null()).count()
