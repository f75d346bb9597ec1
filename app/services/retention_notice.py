"""What people are told about how long each category is kept. The registry's text
is the default; once the DPO changes an enforced policy (/dpo/retention), the text
follows the policy, so the portal, My data and the export never promise a period
the sweep no longer keeps."""
from __future__ import annotations

from app.models import REGISTRY
from app.models.registry import PersonalData, RetentionRule
from app.models.retention import RetentionPolicy

_VERBS = {"delete": "Deleted", "anonymise": "Anonymised"}


def retention_texts() -> dict[str, str]:
    """Category → what to say, for every category a policy now overrides."""
    rules = {e.category: e.retention_rule for e in REGISTRY.values() if e.retention_rule}
    texts = {}
    for row in RetentionPolicy.select().where(RetentionPolicy.enabled == True):  # noqa: E712
        rule = rules.get(row.category)
        if rule and (row.days, row.action) != (rule.days, rule.action):
            texts[row.category] = describe(row.days, row.action, rule)
    return texts


def kept(entry: PersonalData, texts: dict[str, str]) -> str:
    return texts.get(entry.category, entry.retention)


def describe(days: int, action: str, rule: RetentionRule) -> str:
    """"Deleted 180 days (about 6 months) after the visit happened." """
    return f"{_VERBS.get(action, 'Removed')} {_period(days)} after {rule.clock_means}."


def _period(days: int) -> str:
    if days % 365 == 0:
        years = days // 365
        return f"{years} year{'s' if years != 1 else ''}"
    if days < 60:
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{days} days (about {round(days / 30.44)} months)"
