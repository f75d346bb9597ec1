"""Prepared statements for the hottest paths (loading the signed-in user, a
preference toggle).

peewee renders a query's SQL anew every time it runs: 0.1-0.3 ms of CPU for a small
statement, which measured as half the cost of a preference toggle
(tests/benchmarks/bench_toggle.py). peewee has no statement cache, so this small one
is written here: a statement is described once as an ordinary peewee query whose
inputs are named slots; its SQL is rendered once per kind of database (SQLite and
PostgreSQL differ) and then run with new values. Rows are read back by peewee's own
cursor wrappers, so types convert exactly as for any other query; only the wrapper's
work of matching the result's columns to fields, the same every time, is done once.

Slots are passed to the driver as given: pass plain values (ids, strings, bools,
datetimes), not model instances or enums."""
from __future__ import annotations

from typing import Callable

import peewee

from app.db import database

_PREFIX = "\x00slot:"


# What peewee's model-object cursor wrapper derives from the result's columns in initialize().
# Only for plain model rows (no joins): those are all the statements here.
_COLUMN_MAP = frozenset({"columns", "fields", "converters", "no_convert", "convert", "ncols", "unique_columns"})


class _Slot(str):
    """Where a named input goes in the rendered parameters."""


class Prepared:
    def __init__(self, build: Callable[[Callable[[str], peewee.Node]], peewee.Query]):
        self._build = build
        self._compiled: dict[type, tuple[peewee.Query, str, list]] = {}
        self._columns: dict[type, dict] = {}  # per kind of database: the cursor wrapper's column map

    def rows(self, **values) -> list:
        query, cursor = self._run(values)
        wrapper = query._get_cursor_wrapper(cursor)
        if type(wrapper) is not peewee.ModelObjectCursorWrapper:
            return list(wrapper)
        known = self._columns.get(type(database.obj))
        if known is not None:
            wrapper.initialize = lambda: wrapper.__dict__.update(known)
        rows = list(wrapper)
        if known is None and rows:  # initialize() ran: keep what it worked out
            self._columns[type(database.obj)] = {k: v for k, v in wrapper.__dict__.items() if k in _COLUMN_MAP}
        return rows

    def first(self, **values):
        rows = self.rows(**values)
        return rows[0] if rows else None

    def scalar(self, **values):
        """The first column of the first row (a COUNT, say), or None."""
        row = self._run(values)[1].fetchone()
        return row[0] if row else None

    def execute(self, **values) -> int:
        """An UPDATE or DELETE: the number of rows it changed."""
        return self._run(values)[1].rowcount

    def insert(self, **values) -> int:
        """An INSERT: the new row's id."""
        query, cursor = self._run(values)
        return cursor.fetchone()[0] if query._returning else cursor.lastrowid

    def _run(self, values: dict):
        query, sql, order = self._compile()
        params = [values[p] if isinstance(p, _Slot) else p for p in order]
        return query, database.execute_sql(sql, params)

    def _compile(self):
        kind = type(database.obj)
        compiled = self._compiled.get(kind)
        if compiled is None:
            # Slots render as parameters holding a marker (converter=False: no field
            # conversion touches them), so their positions can be read back.
            query = self._build(lambda name: peewee.Value(_PREFIX + name, converter=False))
            sql, params = query.sql()
            order = [_Slot(p[len(_PREFIX):]) if isinstance(p, str) and p.startswith(_PREFIX) else p
                     for p in params]
            compiled = self._compiled[kind] = (query, sql, order)
        return compiled
