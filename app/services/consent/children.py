"""A parent's or guardian's consent for a child (GDPR Art. 8(1); COPPA's verifiable
parental consent; DPDP Act s.9(1)).

A child below the age of consent (app.services.consent.age) asks from their
preferences page; we email the parent a signed link, and the parent's yes, given on
the page that link opens, is recorded in the consent ledger with source "parent" and
the parent's address as the actor: the address is verified because the link reached
it. The link carries everything (child, purpose, notice version, parent's address),
so nothing is stored until the parent agrees. A link to a notice that changed since is
refused: the parent must agree to the wording the child is shown."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from app.db import transaction
from app.models import Purpose, User
from app.models.base import utcnow
from app.models.consent import ConsentSource
from app.models.user import normalise_email
from app.services.consent import age, ledger
from app.services.consent.purposes import CONSENT
from app.services.consent.suppression import is_erased
from app.services.platform import audit
from app.services.platform.addresses import email_problem
from app.services.platform.errors import ServiceError
from app.services.platform.outbox import queue_email
from app.services.platform.signed_links import SignedLink

PARENT_LINK = SignedLink(
    "parental-consent", timedelta(days=7),
    expired="This link has expired: links for a parent's consent work for 7 days. Ask your child to send a new one.",
    invalid="This link is not valid. Copy the whole link from the email.")


@dataclass(frozen=True)
class ParentAsk:
    child: User
    purpose: Purpose
    parent_email: str


def askable(user: User, purpose: Purpose) -> None:
    """Raise unless a parent's consent is what this purpose needs for this person."""
    if purpose.locked or purpose.legal_basis != CONSENT:
        raise ServiceError(f"{purpose.name} does not need anyone's consent.", 409)
    if not age.needs_parent(user):
        raise ServiceError("You can decide this yourself: switch it on from your preferences.", 409)


def ask_parent(child: User, purpose: Purpose, parent_email: str, link_for: Callable[[str], str]) -> str:
    """Email the parent a link to agree. Returns the normalised address."""
    askable(child, purpose)
    parent = normalise_email(parent_email)
    if problem := email_problem(parent):
        raise ServiceError(f"The parent's address is {problem}. Enter an address like name@example.com.")
    if parent == child.email:
        raise ServiceError("Enter your parent's or guardian's own address, not yours.")
    with transaction():
        audit.record(audit.Event("consent.parent_asked", actor=child, subject=child,
                                 details={"purpose": purpose.key}))
        if is_erased(parent):  # nothing reaches an erased address; the child is told the same
            return parent
        token = PARENT_LINK.make({"c": child.id, "p": purpose.key, "v": purpose.notice_version, "e": parent})
        queue_email(parent, f"{child.display_name} asks for your consent", "parental_consent",
                    expires_at=utcnow() + PARENT_LINK.lifetime, child=child, purpose=purpose, link=link_for(token),
                    days=PARENT_LINK.lifetime.days)
    return parent


def ask_for_token(token: str) -> ParentAsk:
    data = PARENT_LINK.read(token)
    child = User.get_or_none(User.id == data.get("c"))
    if child is None or not child.active:
        raise ServiceError("This account no longer exists.", 410)
    purpose = ledger.purpose_by_key(str(data.get("p")))
    if purpose.notice_version != data.get("v"):
        raise ServiceError(f"What “{purpose.name}” means has changed since this link was sent. Ask your child to "
                           "send a new one, so that you agree to what it says now.", 410)
    return ParentAsk(child, purpose, str(data.get("e")))


def give_parental_consent(token: str, ip: str | None = None, user_agent: str = "") -> ParentAsk:
    """The parent's yes, in the ledger with their verified address. Idempotent."""
    ask = ask_for_token(token)
    ledger.set_consent(ask.child, ask.purpose, True, ledger.Origin(
        ConsentSource.PARENT, ip=ip, user_agent=user_agent, actor_label=ask.parent_email))
    return ask
