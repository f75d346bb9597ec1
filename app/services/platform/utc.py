"""Moments written to files outside the database (backup headers, the erasure log):
naive UTC to the second, as ISO 8601 text with a trailing Z."""
from __future__ import annotations

from datetime import datetime, timezone


def naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def iso_z(moment: datetime) -> str:
    return naive_utc(moment).isoformat() + "Z"


def parse_iso_z(text: str) -> datetime:
    return naive_utc(datetime.fromisoformat(text.removesuffix("Z")))
