"""Counts per week for the dashboards' charts (DPO, sales, retention): grouped by day
in SQL, folded into weeks here. Weeks start on Monday, in UTC; days are calendar days,
computed the same way on SQLite and PostgreSQL."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from peewee import SQL, fn

from app.db import is_postgres
from app.models.base import utcnow

WEEKS = 12
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class WeekCount:
    start: date  # a Monday
    count: int

    @property
    def end(self) -> date:
        return self.start + timedelta(days=6)


def week_starts(now: datetime | None = None, weeks: int = WEEKS) -> list[date]:
    """The Mondays of the last `weeks` weeks, oldest first; the last is this week's."""
    today = (now or utcnow()).date()
    this_monday = today - timedelta(days=today.weekday())
    return [this_monday - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]


def count_per_week(model, column, *conditions, now: datetime | None = None) -> list[WeekCount]:
    """Rows of `model` per week of `column` over the last WEEKS weeks: grouped by day
    in SQL (at most 7 x WEEKS rows come back), folded into weeks here."""
    mondays = week_starts(now)
    day = day_of(column)
    query = (model.select(day, fn.COUNT(SQL("*"))).where(column >= midnight(mondays[0]), *conditions)
             .group_by(day).tuples())
    return fold_into_weeks(query, mondays)


def fold_into_weeks(day_counts, mondays: list[date]) -> list[WeekCount]:
    """Per-day counts (at most 7 × WEEKS rows) into the weeks they fall in."""
    totals = dict.fromkeys(mondays, 0)
    for day, count in day_counts:
        day = as_date(day)
        monday = day - timedelta(days=day.weekday())
        if monday in totals:
            totals[monday] += count
    return [WeekCount(monday, totals[monday]) for monday in mondays]


# --- days, identical on both backends --------------------------------------------

def day_number(column):
    # Uncoerced: peewee would otherwise read the answer as the column's datetime.
    return fn.unixepoch(column).coerce(False) / 86400


def day_of(column):
    """The calendar day of a timestamp: a date on PostgreSQL, a day number on SQLite."""
    return column.cast("date") if is_postgres() else day_number(column)


def as_date(value) -> date:
    if isinstance(value, int):
        return EPOCH + timedelta(days=value)
    return value.date() if isinstance(value, datetime) else value


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)
