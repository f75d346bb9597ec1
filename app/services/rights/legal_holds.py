"""Deletion approved in part (GDPR Art. 17(3)): the DPO keeps some categories under a
legal hold, with the ground for keeping them; the erasure job leaves those alone and
the certificate names the hold."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from app.models import REGISTRY, DataExport, Job, PrivacyRequest, SignInLink, UploadedFile, User
from app.models.consent import ConsentState
from app.models.registry import Erasure, PersonalData
from app.services.platform.errors import ServiceError
from app.services.rights.personal_data import CategoryHolding, holdings_of

# Operational records that no legal ground asks anyone to keep.
NOT_HOLDABLE = {SignInLink, Job, DataExport, ConsentState}


class HoldError(ServiceError):
    """A hold the DPO asked for that cannot be: `field` names the form field at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Hold:
    category: str
    reason: str
    until: str  # ISO date: kept data carries its end date (LEGAL.md)

    @property
    def ends(self) -> str:
        return f"Until {date.fromisoformat(self.until):%d %B %Y} at the latest, then deleted."


def holdable(person: User) -> list[CategoryHolding]:
    """What an erasure of `person` would delete that a DPO could keep instead."""
    return [h for h in holdings_of(person)
            if h.rows and h.entry.erasure is Erasure.DELETE and h.entry.model not in NOT_HOLDABLE]


def holds_for(person: User, categories: list[str], reason: str, until: date | None, today: date) -> list[Hold]:
    """Validate the DPO's choice. A kept category also keeps the categories its rows
    cannot lose (a link that would cascade or block a deletion; a link that merely
    goes empty, like a profile's photo, is let go)."""
    if not categories:
        return []
    if len(reason.strip()) < 10:
        raise HoldError("hold_reason", "Give the legal ground for keeping these categories: the person will read it.")
    if until is None or until <= today:
        raise HoldError("hold_until", "Give the date until which they are kept: a day after today.")
    allowed = {h.entry.category: h.entry for h in holdable(person)}
    unknown = [c for c in categories if c not in allowed]
    if unknown:
        raise HoldError("keep", f"These cannot be kept under a hold: {', '.join(unknown)}.")
    kept = _with_what_they_point_at([allowed[c] for c in categories])
    return [Hold(e.category, reason.strip(), until.isoformat()) for e in sorted(kept, key=lambda e: e.category)]


def _with_what_they_point_at(entries: list[PersonalData]) -> set[PersonalData]:
    kept, todo = set(), list(entries)
    while todo:
        entry = todo.pop()
        if entry in kept:
            continue
        kept.add(entry)
        todo += [REGISTRY[fk.rel_model] for fk in entry.model._meta.refs
                 if fk.rel_model in REGISTRY and REGISTRY[fk.rel_model].erasure is Erasure.DELETE
                 and fk.on_delete != "SET NULL"]
    return kept


def to_json(holds: list[Hold]) -> str | None:
    return json.dumps([{"category": h.category, "reason": h.reason, "until": h.until} for h in holds]) if holds else None


def holds_of(request: PrivacyRequest) -> list[Hold]:
    return [Hold(**h) for h in json.loads(request.legal_holds or "[]")]


def describe(holds: list[Hold]) -> str:
    """One sentence for the timeline and the person's email."""
    groups = {}
    for h in holds:
        groups.setdefault((h.reason, h.until), []).append(h.category)
    return " ".join(f"Kept under a legal hold until {date.fromisoformat(until):%d %B %Y}: {', '.join(cats)}. "
                    f"Why: {reason}" for (reason, until), cats in groups.items())


def kept_uploads(holds: list[Hold]) -> bool:
    return REGISTRY[UploadedFile].category in {h.category for h in holds}
