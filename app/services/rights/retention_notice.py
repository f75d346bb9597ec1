"""What people are told about how long each category is kept. The registry's text
is the default; once the DPO changes an enforced policy (/dpo/retention), the text
follows the policy, so the portal, My data and the export never promise a period
the sweep no longer keeps."""
from __future__ import annotations

from app.models import REGISTRY
from app.models.registry import PersonalData, RetentionRule
from app.models.retention import RetentionPolicy

_VERBS = {"delete": "Deleted", "anonymise": "Anonymised"}
PAUSED = ("Kept until our data protection officer resumes its retention period, which is paused for now; "
          "you can ask us to erase it at any time.")


def retention_texts() -> dict[str, str]:
    """Category → what to say, for every category a policy now overrides: a changed
    period, or a paused one (nothing is then removed by age, so none is promised)."""
    entries = {e.category: e for e in REGISTRY.values() if e.retention_rule}
    texts = {}
    for row in RetentionPolicy.select():
        entry = entries.get(row.category)
        if entry is None:
            continue
        rule = entry.retention_rule
        if not row.enabled:
            texts[row.category] = PAUSED
        elif (row.days, row.action) != (rule.days, rule.action):
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
