"""Unsubscribing from the link in every newsletter email.

Two ways in, one rule each (RFC 8058, RFC 2369, GDPR Art. 7(3) and 21):
- the mailbox provider's one-click POST acts at once, on that POST alone, for the
  newsletter the email came from (source `one_click`);
- the page behind the footer's "Unsubscribe" link acts only when the person confirms
  there, for this newsletter or for all marketing (source `email_link`). Link
  scanners prefetch links, so opening the page changes nothing.

The link's token names the person and the newsletter and is signed; it never
expires, because unsubscribing must keep working long after the email was sent
(CAN-SPAM: at least 30 days). Every unsubscribe that changed something also adds an
anonymous statistics row (Unsubscribe) with the optional reason."""
from __future__ import annotations

import enum
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from app.db import database
from app.models import Newsletter, PendingSubscription, Purpose, Unsubscribe, User
from app.models.base import utcnow
from app.models.consent import ConsentSource
from app.prepared import Prepared
from app.services.consent import ledger
from app.services.consent.suppression import suppress
from app.services.platform.errors import ServiceError

# Short on purpose: asking is optional, and nothing beyond the address may be required
# to opt out (CAN-SPAM).
REASONS = {
    "too_many": "I get too many emails",
    "not_relevant": "The content is not relevant to me",
    "never_signed_up": "I never signed up",
    "other": "Another reason",
}
SUPPRESSION_REASON = "unsubscribed"


class Scope(enum.StrEnum):
    NEWSLETTER = "newsletter"
    ALL_MARKETING = "all"


@dataclass(frozen=True)
class Target:
    person: User
    newsletter: Newsletter


def _serializer() -> URLSafeSerializer:
    # Its own salt: a token signed for another purpose (preferences, confirmation)
    # is not an unsubscribe token, and this one is not theirs.
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="newsletter-unsubscribe")


def make_token(person: User, newsletter: Newsletter) -> str:
    return _serializer().dumps({"u": person.id, "n": newsletter.id})


def target_for(token: str) -> Target:
    try:
        data = _serializer().loads(token)
    except BadSignature:
        raise ServiceError("This unsubscribe link is not valid: it may have been cut short or changed. Copy the "
                           "whole link from the email, or manage your emails from your preferences.", 400)
    if not isinstance(data, dict) or not isinstance(data.get("n"), int) or not isinstance(data.get("u"), int):
        raise ServiceError("This unsubscribe link no longer works: we hold nothing more to send you here.", 410)
    newsletter = _NEWSLETTER.first(id=data["n"])
    person = _PERSON.first(id=data["u"])
    if newsletter is None or person is None:
        raise ServiceError("This unsubscribe link no longer works: we hold nothing more to send you here.", 410)
    return Target(person, newsletter)


# The one-click path's statements, prepared once: mailbox providers post these in
# bursts right after an issue goes out (see app.prepared for why).
_NEWSLETTER = Prepared(lambda slot: Newsletter.select(Newsletter, Purpose).join(Purpose)
                       .where(Newsletter.id == slot("id")).limit(1))
_PERSON = Prepared(lambda slot: User.select().where(User.id == slot("id")).limit(1))
_DROP_PENDING = Prepared(lambda slot: PendingSubscription.delete().where(
    PendingSubscription.newsletter == slot("newsletter"), PendingSubscription.user == slot("user")))
_COUNT_UNSUBSCRIBE = Prepared(lambda slot: Unsubscribe.insert(
    {getattr(Unsubscribe, f): slot(f) for f in ("newsletter", "reason", "source", "occurred_at")}))


def is_subscribed(target: Target) -> bool:
    return ledger.choice_for(target.person, target.newsletter.purpose).granted


def one_click(token: str, ip: str | None, user_agent: str) -> bool:
    """RFC 8058: the provider's POST unsubscribes from this list, nothing more asked.
    True when it changed something (a repeated POST changes nothing)."""
    target = target_for(token)
    return unsubscribe(target, Scope.NEWSLETTER, _origin(target, ConsentSource.ONE_CLICK, ip, user_agent))


def by_mail(token: str) -> bool:
    """RFC 2369's mail fallback: a message to the List-Unsubscribe mailto: address,
    whose subject carries the token, acts like the one-click POST."""
    target = target_for(token)
    return unsubscribe(target, Scope.NEWSLETTER, _origin(target, ConsentSource.EMAIL_REPLY, None, "email"))


def confirm_on_page(token: str, scope: Scope, reason: str, ip: str | None, user_agent: str) -> bool:
    target = target_for(token)
    return unsubscribe(target, scope, _origin(target, ConsentSource.EMAIL_LINK, ip, user_agent), reason)


def _origin(target: Target, source: ConsentSource, ip: str | None, user_agent: str) -> ledger.Origin:
    # The person acted (in their mailbox or on our page): they are the actor on record.
    return ledger.Origin(source, actor=target.person, ip=ip, user_agent=user_agent)


def unsubscribe(target: Target, scope: Scope, origin: ledger.Origin, reason: str = "") -> bool:
    with database.atomic():
        if scope is Scope.ALL_MARKETING:
            changed = _stop_all_marketing(target.person, origin)
        else:
            changed = _leave_newsletter(target, origin)
        if changed:  # the chart counts unsubscribes, not repeated clicks
            _COUNT_UNSUBSCRIBE.insert(newsletter=None if scope is Scope.ALL_MARKETING else target.newsletter.id,
                                      reason=reason if reason in REASONS else "", source=origin.source.value,
                                      occurred_at=_today())
    return changed


def _leave_newsletter(target: Target, origin: ledger.Origin) -> bool:
    # A sign-up still waiting for confirmation is withdrawn too: "unsubscribe" means
    # no more of this newsletter, whatever state it was in.
    pending = _DROP_PENDING.execute(newsletter=target.newsletter.id, user=target.person.id)
    event = ledger.set_consent(target.person, target.newsletter.purpose, False, origin)
    return bool(event or pending)


def _stop_all_marketing(person: User, origin: ledger.Origin) -> bool:
    """An objection to direct marketing is absolute (Art. 21(3)): every marketing and
    marketing-tracking purpose off, and the address on the suppression list so no
    import or staff sign-up can bring it back; only the person's own confirmed new
    sign-up lifts that (app.services.newsletters.catalogue.confirm)."""
    events = ledger.stop_all_marketing(person, origin)
    pending = PendingSubscription.delete().where(PendingSubscription.user == person.id).execute()
    suppress(person.email, SUPPRESSION_REASON)
    return bool(events or pending)


def _today():
    """Statistics keep the day only: an exact time would match the row to the person's
    consent event and make the anonymous reason personal again."""
    return utcnow().replace(hour=0, minute=0, second=0)
