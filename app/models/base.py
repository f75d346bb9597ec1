"""The base model every table derives from, and the clock they all use."""
from __future__ import annotations

from datetime import datetime, timezone

import peewee

from app.db import database


def utcnow() -> datetime:
    """Now in UTC, without tzinfo: stored identically by SQLite and PostgreSQL."""
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False
