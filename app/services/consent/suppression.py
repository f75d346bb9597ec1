"""The suppression list: addresses that must never be imported or mailed again. Only
a keyed hash is stored (HMAC-SHA256 with the instance's suppression key), so the list
can be checked but names nobody, even to someone who reads the database.

Entries come from the person (an unsubscribe from all marketing, an erasure) or from
staff. Staff may add addresses and take back their own entries; an entry the person
caused is lifted only by that person's own confirmed new sign-up."""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
from dataclasses import dataclass, field

from flask import current_app
from peewee import IntegrityError, fn

from app.db import database
from app.models import Suppression, User
from app.models.user import normalise_email
from app.services.platform import audit
from app.services.platform.addresses import email_problem
from app.services.platform.errors import ServiceError


def address_hash(email: str) -> str:
    key = current_app.config["SUPPRESSION_KEY"].encode()
    return hmac.new(key, normalise_email(email).encode(), hashlib.sha256).hexdigest()


ERASURE = "erasure"  # the person's data was erased: the address receives nothing at all


def suppress(email: str, reason: str) -> None:
    suppress_hash(address_hash(email), reason)


def suppress_hash(hashed: str, reason: str) -> None:
    try:
        with database.atomic():
            Suppression.create(address_hash=hashed, reason=reason)
    except IntegrityError:
        # Already suppressed: never duplicated. An erasure outranks any earlier reason,
        # since it alone also stops essential mail (sign-in links included).
        if reason == ERASURE:
            Suppression.update(reason=ERASURE).where(Suppression.address_hash == hashed).execute()


def is_suppressed(email: str) -> bool:
    """No marketing may go to this address. Essential mail (security, account, billing)
    still may, unless the address was erased (`is_erased`)."""
    return Suppression.select().where(Suppression.address_hash == address_hash(email)).exists()


def is_erased(email: str) -> bool:
    """The address's person was erased: nothing at all is sent to it again."""
    return Suppression.select().where(Suppression.address_hash == address_hash(email),
                                      Suppression.reason == ERASURE).exists()


def lift_suppression(email: str) -> int:
    """Only for the person's own confirmed new sign-up (double opt-in): nobody else
    may take an address off the list."""
    return Suppression.delete().where(Suppression.address_hash == address_hash(email)).execute()


STAFF = "staff"  # the reason of an entry sales ops added
BOUNCED = "bounced"  # the mailbox said it does not exist
# Neither was the person's own choice, so staff may take them back (a mailbox can be
# created again); the person's opt-out and erasure only the person can lift.
REMOVABLE_BY_STAFF = (STAFF, BOUNCED)
REASON_LABELS = {"unsubscribed": "The person unsubscribed from all marketing", ERASURE: "The person's data was erased",
                 STAFF: "Added by staff", BOUNCED: "Mail to the address bounced: the mailbox does not exist"}


def entry_for(email: str) -> Suppression | None:
    return Suppression.get_or_none(Suppression.address_hash == address_hash(email))


def counts_by_reason() -> dict[str, int]:
    return dict(Suppression.select(Suppression.reason, fn.COUNT(Suppression.id)).group_by(Suppression.reason).tuples())


@dataclass
class Added:
    added: int = 0
    already: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, why)

    def summary(self) -> str:
        said = f"{self.added} added; {self.already} were already on the list"
        if self.rejected:
            said += f"; {len(self.rejected)} lines rejected: " + "; ".join(
                f"line {n}: {why}" for n, why in self.rejected[:20])
        return said + "."


def add_by_staff(texts: list[str], actor: User) -> Added:
    """Each text: addresses one per line, or a CSV whose "email" column (else first
    column) holds them. Bad lines are reported by number; nothing of them is stored."""
    outcome = Added()
    for text in texts:
        for line, email in _addresses(text):
            if email_problem(email):
                outcome.rejected.append((line, f"“{email[:80]}” is not an email address"))
            elif is_suppressed(email):
                outcome.already += 1
            else:
                suppress(email, STAFF)
                outcome.added += 1
    if outcome.added:
        audit.record(audit.Event("suppression.added", actor=actor, details={"count": outcome.added}))
    return outcome


def _addresses(text: str):
    rows = list(csv.reader(io.StringIO(text)))
    header = [c.strip().lower() for c in rows[0]] if rows else []
    column = header.index("email") if "email" in header else 0
    start = 1 if "email" in header else 0
    for number, row in enumerate(rows[start:], start=start + 1):
        value = (row[column] if len(row) > column else "").strip()
        if value:
            yield number, normalise_email(value)


def remove_by_staff(email: str, actor: User) -> None:
    entry = entry_for(email)
    if entry is None:
        raise ServiceError("That address is not on the suppression list.", 404)
    if entry.reason not in REMOVABLE_BY_STAFF:
        raise ServiceError(f"This entry cannot be removed by staff: {REASON_LABELS.get(entry.reason, entry.reason).lower()}. "
                           "Only the person can lift it, by signing up again and confirming.", 409)
    Suppression.delete().where(Suppression.id == entry.id).execute()
    audit.record(audit.Event("suppression.removed", actor=actor, details={"reason": entry.reason}))
