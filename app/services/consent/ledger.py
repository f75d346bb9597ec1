"""Consent: reading a person's choices and changing them provably.

Every change appends a ConsentEvent, moves the ConsentState to it and writes the audit
log, all in one transaction that first locks the person, so two clicks racing are
applied one after the other and the state always equals the last event.

Channels and newsletters: "Marketing email" covers all marketing by email, and each
newsletter is a topic under it. Switching Marketing email off switches every newsletter
off too, in the same transaction (one event each, so the ledger says why); switching a
newsletter on later is consent to that topic alone. Essential purposes (security,
account, billing) are never touched by any marketing switch or by suppression.

Children (app.services.consent.age): below the age of digital consent, a purpose based
on consent counts as granted only when a parent's or guardian's consent is the last
word on it (source "parent", with the parent's verified address as the actor)."""
from __future__ import annotations

from dataclasses import dataclass

from app.db import database, is_postgres, transaction
from app.models import Newsletter, User
from app.models.base import utcnow
from app.models.consent import ConsentEvent, ConsentSource, ConsentState, Purpose, PurposeKind
from app.prepared import Prepared
from app.services.consent import age
from app.services.consent.purposes import CONSENT
from app.services.consent.suppression import lift_suppression, suppress
from app.services.platform import audit
from app.services.platform.errors import ServiceError

MARKETING_EMAIL = "marketing_email"  # the channel every newsletter is a topic of


@dataclass(frozen=True)
class Origin:
    """Where a change came from; built by the caller (a view, the API, an import)."""
    source: ConsentSource
    actor: User | None = None
    ip: str | None = None
    user_agent: str = ""
    actor_label: str | None = None  # who acted when it is no account: a parent's verified address


@dataclass(frozen=True)
class Choice:
    purpose: Purpose
    granted: bool                 # what we may do now
    state: ConsentState | None
    needs_reconfirmation: bool    # agreed to an older notice; not assumed until confirmed
    needs_parent: bool = False    # a child: only a parent's consent counts (Art. 8)

    @property
    def locked(self) -> bool:
        return self.purpose.locked


def effective(purpose: Purpose, state: ConsentState | None, child: bool = False) -> Choice:
    if purpose.locked:
        return Choice(purpose, True, state, False)
    child = child and purpose.legal_basis == CONSENT
    if state is None:
        return Choice(purpose, purpose.default_granted and not child, None, False, child)
    stale = (state.granted and purpose.legal_basis == CONSENT
             and state.notice_version < purpose.reconfirm_from_version)
    by_parent = not child or state.source == ConsentSource.PARENT.value
    return Choice(purpose, state.granted and not stale and by_parent, state, stale, child)


def choices_for(user: User) -> list[Choice]:
    states = {s.purpose_id: s for s in ConsentState.select().where(ConsentState.user == user.id)}
    child = age.needs_parent(user)
    return [effective(p, states.get(p.id), child) for p in Purpose.catalogue()]


def choice_for(user: User, purpose: Purpose) -> Choice:
    state = _state_of(user, purpose)
    # The age is read only when it could change the answer: a consent that is on.
    child = bool(state and state.granted and purpose.legal_basis == CONSENT) and age.needs_parent(user)
    return effective(purpose, state, child)


def toggle(user: User, purpose: Purpose, granted: bool, origin: Origin) -> Choice:
    """Set a yes or no and return the resulting choice. The state just written is
    known without reading it back; after a no-op (a double click) it is read, since
    a concurrent request may have moved it."""
    event = set_consent(user, purpose, granted, origin)
    if event is None:
        return choice_for(user, purpose)
    if granted and purpose.is_marketing:
        # The person's own yes, signed in or from their signed link: as good as a
        # confirmed double opt-in, the one thing that lifts their suppression.
        lift_suppression(user.email)
    return effective(purpose, ConsentState(
        user=user.id, purpose=purpose.id, granted=event.granted, notice_version=event.notice_version,
        source=event.source, updated_at=event.occurred_at, last_event=event.id),
        purpose.legal_basis == CONSENT and age.needs_parent(user))


# The toggle's statements, prepared once (see app.prepared for why).
_PURPOSE_BY_KEY = Prepared(lambda slot: Purpose.select().where(Purpose.key == slot("key")).limit(1))
_STATE = Prepared(lambda slot: ConsentState.select().where(ConsentState.user == slot("user"),
                                                           ConsentState.purpose == slot("purpose")).limit(1))
_EVENT_FIELDS = ("user", "purpose", "granted", "notice_version", "occurred_at", "source", "actor", "actor_label",
                 "ip", "user_agent")
_STATE_FIELDS = ("granted", "notice_version", "source", "updated_at", "last_event")
_INSERT_EVENT = Prepared(lambda slot: ConsentEvent.insert({getattr(ConsentEvent, f): slot(f) for f in _EVENT_FIELDS}))
_INSERT_STATE = Prepared(lambda slot: ConsentState.insert(
    {getattr(ConsentState, f): slot(f) for f in ("user", "purpose", *_STATE_FIELDS)}))
_UPDATE_STATE = Prepared(lambda slot: ConsentState.update(
    {getattr(ConsentState, f): slot(f) for f in _STATE_FIELDS}).where(ConsentState.id == slot("id")))


def _state_of(user: User, purpose: Purpose) -> ConsentState | None:
    return _STATE.first(user=user.id, purpose=purpose.id)


def purpose_by_key(key: str) -> Purpose:
    purpose = _PURPOSE_BY_KEY.first(key=key)
    if purpose is None:
        raise ServiceError("There is no such preference.", 404)
    return purpose


def _lock_person(user: User) -> None:
    """Serialise changes to one person's consent. SQLite transactions already take
    the write lock at BEGIN (app.db); PostgreSQL locks the person's row."""
    if is_postgres():
        database.execute_sql("SELECT id FROM users WHERE id = %s FOR UPDATE", (user.id,))


def set_consent(user: User, purpose: Purpose, granted: bool, origin: Origin) -> ConsentEvent | None:
    """Record a yes or no. Returns the new event, or None when nothing changed
    (a double submit is idempotent)."""
    if purpose.locked:
        raise ServiceError(f"{purpose.name} cannot be switched off: {purpose.locked_reason}")
    if (granted and purpose.legal_basis == CONSENT and origin.source is not ConsentSource.PARENT
            and age.needs_parent(user)):
        raise ServiceError(f"{purpose.name} needs the consent of a parent or guardian: you are under the age "
                           "at which you can agree to it yourself. Ask a parent from your preferences page.", 403)
    with transaction():
        _lock_person(user)
        event = _apply(user, purpose, granted, origin)
        if event and not granted and purpose.key == MARKETING_EMAIL:
            for newsletter in _newsletters_on(user):
                _apply(user, newsletter, False, origin)
        return event


def newsletter_choices(user: User) -> list[Choice]:
    """The person's choice for each newsletter on offer (the topics under Marketing email)."""
    purposes = (Purpose.catalogue().join(Newsletter, on=(Newsletter.purpose == Purpose.id)))
    return [choice_for(user, p) for p in purposes]


def _newsletters_on(user: User) -> list[Purpose]:
    return list(Purpose.select().join(Newsletter, on=(Newsletter.purpose == Purpose.id))
                .switch(Purpose).join(ConsentState, on=(ConsentState.purpose == Purpose.id))
                .where(ConsentState.user == user.id, ConsentState.granted == True))  # noqa: E712


def _apply(user: User, purpose: Purpose, granted: bool, origin: Origin) -> ConsentEvent | None:
    state = _state_of(user, purpose)
    if state and state.granted == granted and state.notice_version == purpose.notice_version:
        return None
    event = ConsentEvent(
        user=user.id, purpose=purpose.id, granted=granted, notice_version=purpose.notice_version,
        occurred_at=utcnow(), source=origin.source.value, actor=origin.actor.id if origin.actor else None,
        actor_label=origin.actor_label or (origin.actor.email if origin.actor else "system"),
        ip=audit.truncate_ip(origin.ip), user_agent=(origin.user_agent or "")[:300])
    event.id = _INSERT_EVENT.insert(**{f: event.__data__[f] for f in _EVENT_FIELDS})
    moved = dict(granted=granted, notice_version=purpose.notice_version, source=event.source,
                 updated_at=event.occurred_at, last_event=event.id)
    if state:
        _UPDATE_STATE.execute(id=state.id, **moved)
    else:
        _INSERT_STATE.insert(user=user.id, purpose=purpose.id, **moved)
    audit.record(audit.Event("consent.granted" if granted else "consent.withdrawn", actor=origin.actor,
                             subject=user, ip=origin.ip, details={
                                 "purpose": purpose.key, "notice_version": purpose.notice_version,
                                 "source": origin.source.value, "event_id": event.id}))
    return event


def stop_all_marketing(user: User, origin: Origin) -> list[ConsentEvent]:
    """One action withdraws every marketing channel and the tracking that profiles
    people for marketing (an objection is absolute for both, Art. 21(2)-(3)). It also
    covers newsletters created later: the address goes on the suppression list, which
    only the person's own new yes lifts."""
    events = _withdraw_kinds(user, (PurposeKind.MARKETING, PurposeKind.TRACKING), origin)
    suppress(user.email, "unsubscribed")
    return events


def honour_gpc(user: User, origin: Origin) -> list[ConsentEvent]:
    """Global Privacy Control: opt out of sale/sharing, asking nothing more (CCPA
    §7025). One rule: the signal withdraws sharing once; if the person then switches
    sharing on themselves, that later explicit choice stands (§7025(c)(3)) and the
    signal does not flip it back on every request."""
    return _withdraw_kinds(user, (PurposeKind.SHARING,), origin, keep_explicit_after_gpc=True)


def _withdraw_kinds(user: User, kinds, origin: Origin, keep_explicit_after_gpc: bool = False) -> list[ConsentEvent]:
    # Archived newsletters too: "stop all marketing" must hold if one is ever revived.
    purposes = [p for p in Purpose.select().where(Purpose.kind.in_([k.value for k in kinds])) if not p.locked]
    pending = [p for p in purposes if _needs_withdrawal(user, p, keep_explicit_after_gpc)]
    if not pending:
        return []
    with database.atomic():
        _lock_person(user)
        events = [_apply(user, p, False, origin) for p in pending]
    return [e for e in events if e]


def _needs_withdrawal(user: User, purpose: Purpose, keep_explicit_after_gpc: bool = False) -> bool:
    # No state yet also counts: an explicit "no" on record outlives any later default.
    state = _state_of(user, purpose)
    if state is None or not state.granted:
        return state is None
    if keep_explicit_after_gpc and state.source in (ConsentSource.PORTAL.value, ConsentSource.EMAIL_LINK.value):
        gpc_before = (ConsentEvent.select().where(ConsentEvent.user == user.id, ConsentEvent.purpose == purpose.id,
                                                  ConsentEvent.source == ConsentSource.GPC.value,
                                                  ConsentEvent.id < state.last_event_id).exists())
        return not gpc_before
    return True


def history(user: User):
    return (ConsentEvent.select(ConsentEvent, Purpose).join(Purpose)
            .where(ConsentEvent.user == user.id).order_by(ConsentEvent.id.desc()))
