"""What a person is shown of the registry: the categories that can concern them.

An end user sees every end-user category (those holding nothing folded away, not
removed: a person must be able to see that we hold nothing), and a staff or business
customer category only where it holds rows about them: a staff member or a customer's
admin is a data subject too, and sees their own. The DPO's register and a DPA's
Annex I still walk the whole registry."""
from __future__ import annotations

from dataclasses import dataclass

from app.models import REGISTRY, User
from app.models.registry import Audience, PersonalData
from app.services.rights.laws import Law
from app.services.rights.personal_data import CategoryHolding, holdings_of


def concerns_everyone(entry: PersonalData) -> bool:
    """Shown, even when empty, to every person: what an end user may have."""
    return entry.audience is Audience.END_USERS


@dataclass(frozen=True)
class PersonsHoldings:
    held: list[CategoryHolding]   # every category with rows about the person, whatever its audience
    empty: list[CategoryHolding]  # end-user categories holding nothing about them

    @property
    def shown(self) -> int:
        return len(self.held) + len(self.empty)


def holdings_for(user: User) -> PersonsHoldings:
    holdings = holdings_of(user)
    return PersonsHoldings(held=[h for h in holdings if h.rows],
                           empty=[h for h in holdings if not h.rows and concerns_everyone(h.entry)])


@dataclass(frozen=True)
class CertificateRows:
    done: list[dict]       # the erasure report's lines for categories that held something
    nothing: list[str]     # end-user categories that held nothing


def certificate_rows(done: list[dict], law: Law) -> CertificateRows:
    """The erasure report as its certificate shows it, what the registry keeps said in
    the request's law (a DPO's own hold reason stays as written). A category the
    registry no longer names (renamed since the erasure) counts as an end user's, so
    nothing is hidden."""
    by_category = {e.category: e for e in REGISTRY.values()}

    def everyone(category: str) -> bool:
        entry = by_category.get(category)
        return entry is None or concerns_everyone(entry)

    def in_its_law(d: dict) -> dict:
        entry = by_category.get(d["category"])
        if d["action"] == "kept" and entry and d.get("reason") == entry.hold_reason:
            return d | {"reason": law.kept_reason(d["category"], d["reason"])}
        return d

    return CertificateRows(done=[in_its_law(d) for d in done if d["rows"]],
                           nothing=sorted(d["category"] for d in done if not d["rows"] and everyone(d["category"])))
