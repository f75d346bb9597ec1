"""The public privacy notice (/privacy), built from what the code declares rather than
written beside it, so it cannot drift: each registry category with its purpose, legal
basis, recipients and the retention now enforced, and the sub-processors as the
register stands today (GDPR Art. 13/14 contents)."""
from __future__ import annotations

from dataclasses import dataclass

from app.models import REGISTRY
from app.models.registry import PersonalData
from app.services.agreements.subprocessors import list_subprocessors
from app.services.rights.retention_notice import kept, retention_texts


@dataclass(frozen=True)
class Category:
    entry: PersonalData
    kept: str


@dataclass(frozen=True)
class PrivacyNotice:
    categories: list[Category]
    subprocessors: list  # app.models.Subprocessor rows in force


def privacy_notice() -> PrivacyNotice:
    texts = retention_texts()
    entries = sorted({e.category: e for e in REGISTRY.values()}.values(), key=lambda e: e.category.lower())
    return PrivacyNotice([Category(e, kept(e, texts)) for e in entries], list_subprocessors())
