"""Newsletters and their subscribers.

A newsletter is a marketing purpose (app.models.newsletters): its name and
description are the notice people consent to, versioned like any other. Subscribed
means the person's consent to that purpose is on; unsubscribed means it is off;
pending means a sign-up waits for the person to confirm it from an emailed link
(double opt-in), and expires after 30 days. Staff never subscribe anyone directly:
they can only start a sign-up the person must confirm, and never for an address on
the suppression list."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import fn

from app.db import database
from app.models import (
    ConsentEvent, ConsentState, Newsletter, NewsletterIssue, OutboxMessage, PendingSubscription, Purpose, Role, User,
)
from app.models.base import utcnow
from app.models.consent import ConsentSource, PurposeKind, PurposeNotice
from app.models.user import normalise_email
from app.services.consent import ledger
from app.services.consent.purposes import CONSENT, update_purpose
from app.services.consent.suppression import is_suppressed, lift_suppression
from app.services.platform import audit
from app.services.platform.addresses import email_problem
from app.services.platform.errors import ServiceError
from app.services.platform.outbox import queue_email
from app.services.platform.signed_links import SignedLink
from app.services.platform.weekly import count_per_week

CONFIRM_WITHIN = timedelta(days=30)
PAGE_SIZE = 50
FIRST_POSITION = 1000  # after the built-in purposes on /preferences


# --- newsletters ----------------------------------------------------------------------

def newsletters(include_archived: bool = False):
    query = Newsletter.select(Newsletter, Purpose).join(Purpose).order_by(Purpose.name)
    return query if include_archived else query.where(Newsletter.archived_at.is_null())


def get_newsletter(newsletter_id: int) -> Newsletter:
    found = newsletters(include_archived=True).where(Newsletter.id == newsletter_id).first()
    if found is None:
        raise ServiceError("There is no such newsletter.", 404)
    return found


def create_newsletter(name: str, description: str, topic: str, double_opt_in: bool, actor: User) -> Newsletter:
    name, description = name.strip(), description.strip()
    if not name or len(description) < 20:
        raise ServiceError("Give the newsletter a name and a description of what people will receive (20+ "
                           "characters): it is what they consent to.")
    with database.atomic():
        if Purpose.select().where(Purpose.name == name, Purpose.kind == PurposeKind.MARKETING.value).exists():
            raise ServiceError(f"A newsletter or marketing purpose called {name!r} exists already.", 409)
        purpose = Purpose.create(key=_free_key(name), name=name, description=description,
                                 kind=PurposeKind.MARKETING.value, legal_basis=CONSENT, default_granted=False,
                                 position=FIRST_POSITION + Newsletter.select().count())
        PurposeNotice.create(purpose=purpose, version=1, name=name, text=description)
        newsletter = Newsletter.create(purpose=purpose, topic=topic.strip()[:80], double_opt_in=double_opt_in)
        audit.record(audit.Event("newsletter.created", actor=actor, details={"newsletter_id": newsletter.id}))
    return get_newsletter(newsletter.id)


def _free_key(name: str) -> str:
    base = "nl-" + (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:30] or "newsletter")
    key, n = base, 1
    while Purpose.select().where(Purpose.key == key).exists():
        n += 1
        key = f"{base[:34]}-{n}"
    return key


def update_newsletter(newsletter: Newsletter, name: str, description: str, topic: str, double_opt_in: bool,
                      material: bool, actor: User) -> Newsletter:
    """New wording is a new notice version (what people agreed to stays provable)."""
    if newsletter.archived_at:
        raise ServiceError("An archived newsletter cannot be changed.", 409)
    with database.atomic():
        update_purpose(newsletter.purpose, name=name.strip(), description=description.strip(),
                       default_granted=False, material=material, actor=actor)
        Newsletter.update(topic=topic.strip()[:80], double_opt_in=double_opt_in).where(
            Newsletter.id == newsletter.id).execute()
    return get_newsletter(newsletter.id)


def archive(newsletter: Newsletter, actor: User) -> Newsletter:
    """No longer offered or sent; subscriptions and their proof are kept."""
    now = utcnow()
    with database.atomic():
        Newsletter.update(archived_at=now).where(Newsletter.id == newsletter.id,
                                                 Newsletter.archived_at.is_null()).execute()
        Purpose.update(archived_at=now).where(Purpose.id == newsletter.purpose_id).execute()
        PendingSubscription.delete().where(PendingSubscription.newsletter == newsletter.id).execute()
        audit.record(audit.Event("newsletter.archived", actor=actor, details={"newsletter_id": newsletter.id}))
    return get_newsletter(newsletter.id)


@dataclass(frozen=True)
class Counts:
    pending: int
    subscribed: int
    unsubscribed: int


def counts(newsletter: Newsletter) -> Counts:
    by_state = dict(ConsentState.select(ConsentState.granted, fn.COUNT(ConsentState.id))
                    .where(ConsentState.purpose == newsletter.purpose_id).group_by(ConsentState.granted).tuples())
    pending = PendingSubscription.select().where(PendingSubscription.newsletter == newsletter.id,
                                                 PendingSubscription.expires_at > utcnow()).count()
    return Counts(pending, by_state.get(True, 0), by_state.get(False, 0))


def weekly_new_subscribers(newsletter: Newsletter, now: datetime | None = None) -> list[int]:
    """Confirmed sign-ups per week over the dashboard's weeks, oldest first: the trend
    beside the counts."""
    weeks = count_per_week(ConsentEvent, ConsentEvent.occurred_at, ConsentEvent.purpose == newsletter.purpose_id,
                           ConsentEvent.granted, now=now)
    return [w.count for w in weeks]


def campaign_of(issue: NewsletterIssue) -> str:
    """The campaign an issue's engagement rows (sent, opened, clicked, bounced) count under."""
    return f"newsletter-issue-{issue.id}"


# --- subscribers ------------------------------------------------------------------------

@dataclass(frozen=True)
class Subscriber:
    user: User
    status: str                 # subscribed / unsubscribed / pending
    since: datetime
    source: str
    notice_version: int | None  # of the consent event: the proof
    evidence: str = ""


def subscribers(newsletter: Newsletter, status: str = "subscribed", search: str = "",
                after: int | None = None) -> tuple[list[Subscriber], int | None]:
    """One page, keyset on the user id. Each row carries its proof: the consent event
    that put it in this state (when, how, which notice version)."""
    if status == "pending":
        return _pending_page(newsletter, search, after)
    query = (ConsentState.select(ConsentState, User, ConsentEvent)
             .join_from(ConsentState, User).join_from(ConsentState, ConsentEvent,
                                                       on=(ConsentState.last_event == ConsentEvent.id))
             .where(ConsentState.purpose == newsletter.purpose_id,
                    ConsentState.granted == (status == "subscribed"))
             .order_by(User.id).limit(PAGE_SIZE + 1))
    if search.strip():
        query = query.where(User.email.contains(normalise_email(search)))
    if after:
        query = query.where(User.id > after)
    rows = [Subscriber(s.user, status, s.last_event.occurred_at, s.last_event.source, s.last_event.notice_version)
            for s in query]
    return _page(rows)


def _pending_page(newsletter: Newsletter, search: str, after: int | None):
    query = (PendingSubscription.select(PendingSubscription, User).join(User)
             .where(PendingSubscription.newsletter == newsletter.id, PendingSubscription.expires_at > utcnow())
             .order_by(User.id).limit(PAGE_SIZE + 1))
    if search.strip():
        query = query.where(User.email.contains(normalise_email(search)))
    if after:
        query = query.where(User.id > after)
    return _page([Subscriber(p.user, "pending", p.requested_at, p.source, None, p.evidence) for p in query])


def _page(rows: list[Subscriber]) -> tuple[list[Subscriber], int | None]:
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return rows, (rows[-1].user.id if more else None)


# --- double opt-in ----------------------------------------------------------------------

SIGN_UP_LINK = SignedLink(
    "newsletter-confirmation", CONFIRM_WITHIN,
    expired="This confirmation link has expired (links work for 30 days). Sign up again from the "
            "newsletter's page or your preferences.",
    invalid="This confirmation link is not valid. Copy the whole link from the email.")


def request_sign_up(newsletter: Newsletter, email: str, source: ConsentSource, confirm_link, actor: User | None,
                    evidence: str = "", notify: bool = True) -> PendingSubscription | None:
    """Start a sign-up the person confirms from an email. None when there is nothing
    to do (already subscribed). Refused for a suppressed address: only the person's
    own new sign-up, confirmed by them, may lift that."""
    email = normalise_email(email)
    if problem := email_problem(email):
        raise ServiceError(f"Enter a valid email address, like name@example.com: {problem}.")
    if newsletter.archived_at:
        raise ServiceError("This newsletter is archived.", 409)
    if source is not ConsentSource.PORTAL and is_suppressed(email):
        raise ServiceError("This address is on the suppression list: we will not sign it up. Only the person "
                           "can, by signing up and confirming themselves.", 409)
    with database.atomic():
        person = _person(email)
        if ledger.choice_for(person, newsletter.purpose).granted:
            return None
        now = utcnow()
        pending, _ = PendingSubscription.get_or_create(
            newsletter=newsletter.id, user=person.id,
            defaults=dict(source=source.value, evidence=evidence[:2000], requested_at=now,
                          expires_at=now + CONFIRM_WITHIN))
        PendingSubscription.update(expires_at=now + CONFIRM_WITHIN).where(
            PendingSubscription.id == pending.id).execute()  # asked again: a fresh 30 days
        audit.record(audit.Event("newsletter.sign_up_requested", actor=actor, subject=person,
                                 details={"newsletter_id": newsletter.id, "source": source.value}))
        if notify:
            send_confirmation(newsletter, person, confirm_link)
    return pending


def _person(email: str) -> User:
    """Subscribers are people in the register, with or without an account."""
    person = User.get_or_none(User.email == email)
    if person is None:
        person = User.create(email=email, role=Role.SUBJECT.value, name="", password_hash=None)
    return person


def send_confirmation(newsletter: Newsletter, person: User, confirm_link) -> OutboxMessage:
    """The double opt-in email, to the outbox (in the caller's transaction)."""
    token = SIGN_UP_LINK.make({"n": newsletter.id, "u": person.id})
    return queue_email(person.email, f"Confirm your subscription to {newsletter.purpose.name}", "newsletter_confirm",
                expires_at=utcnow() + CONFIRM_WITHIN, newsletter=newsletter, link=confirm_link(token),
                days=CONFIRM_WITHIN.days)


def pending_for_token(token: str) -> PendingSubscription | None:
    """The sign-up a confirmation link is for; None when it was already confirmed.
    Forged, expired or withdrawn links are refused with a reason a person understands."""
    data = SIGN_UP_LINK.read(token)
    newsletter = get_newsletter(data.get("n"))
    person = User.get_or_none(User.id == data.get("u"))
    if person is None or not person.active:
        raise ServiceError("This sign-up no longer exists.", 410)
    pending = PendingSubscription.get_or_none(PendingSubscription.newsletter == newsletter.id,
                                              PendingSubscription.user == person.id)
    if pending is None and not ledger.choice_for(person, newsletter.purpose).granted:
        raise ServiceError("This sign-up was withdrawn or has expired. Sign up again if you still want it.", 410)
    return pending


def confirm(token: str, ip: str | None, user_agent: str) -> Newsletter:
    """The person confirmed: their consent is recorded, and their own confirmation
    lifts a suppression. Idempotent: a second click changes nothing."""
    pending = pending_for_token(token)
    if pending is None:
        return get_newsletter(SIGN_UP_LINK.read(token)["n"])
    newsletter, person = get_newsletter(pending.newsletter_id), User.get_by_id(pending.user_id)
    with database.atomic():
        ledger.set_consent(person, newsletter.purpose, True,
                            ledger.Origin(ConsentSource.EMAIL_LINK, actor=person, ip=ip, user_agent=user_agent))
        PendingSubscription.delete().where(PendingSubscription.id == pending.id).execute()
        lift_suppression(person.email)
    return newsletter


def expire_pending(now: datetime | None = None) -> int:
    """Scheduler: sign-ups not confirmed within 30 days are forgotten."""
    return PendingSubscription.delete().where(PendingSubscription.expires_at <= (now or utcnow())).execute()
