"""API keys for other systems, and the consent answer they get."""
from __future__ import annotations

import hashlib
import secrets

from app.models import ApiKey, PurposeKind, User
from app.models.base import utcnow
from app.models.restrictions import DIRECT_MARKETING, Restriction, upheld_objections
from app.models.user import normalise_email
from app.services.consent.ledger import choices_for
from app.services.consent.suppression import is_erased, is_suppressed
from app.services.platform import audit
from app.services.platform.errors import ServiceError

KEY_PREFIX = "pcc_"


def _digest(raw: str) -> str:
    # SHA-256, not argon2: keys carry 256 random bits, so there is nothing to guess
    # offline, and every API call must verify its key quickly.
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_key(name: str, actor: User) -> tuple[ApiKey, str]:
    """A new key; the raw value is returned once and never stored."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.create(name=name.strip(), prefix=raw[:10], key_hash=_digest(raw), created_by=actor)
    audit.record(audit.Event("api_key.created", actor=actor, details={"key_id": key.id, "name": key.name}))
    return key, raw


def revoke_api_key(key_id: int, actor: User) -> ApiKey:
    key = ApiKey.get_or_none(ApiKey.id == key_id)
    if key is None:
        raise ServiceError("No such API key.", 404)
    if key.revoked_at is None:
        ApiKey.update(revoked_at=utcnow()).where(ApiKey.id == key.id).execute()
        audit.record(audit.Event("api_key.revoked", actor=actor, details={"key_id": key.id, "name": key.name}))
    return key


def active_keys():
    return ApiKey.select().order_by(ApiKey.revoked_at.is_null(False), ApiKey.id.desc())


def authenticate_api_key(authorization: str | None) -> ApiKey:
    scheme, _, raw = (authorization or "").partition(" ")
    key = ApiKey.get_or_none(ApiKey.key_hash == _digest(raw.strip())) if scheme.lower() == "bearer" else None
    if key is None or key.revoked_at is not None:
        raise ServiceError("A valid API key is required: send `Authorization: Bearer <key>`.", 401)
    ApiKey.update(last_used_at=utcnow()).where(ApiKey.id == key.id).execute()
    return key


def consent_status(email: str) -> dict | None:
    """Each purpose's current answer for `email`, or None if nobody has that address.
    An unknown address runs the same queries, so response times do not tell them apart.
    A suppressed address gets a no to every purpose but the essential ones (security,
    account, billing), which suppression never touches; an erased address gets a no
    to everything, essential included: nothing at all may reach it. A restricted
    person (Art. 18: stored, not used) gets a no to every purpose but the essential
    ones, with `restricted: true`; a purpose their upheld objection stopped (Art. 21)
    is a no with `objected: true`, until they themselves say yes to it again."""
    user = User.by_email(normalise_email(email))
    person = user or User(id=0, email="")
    choices = choices_for(person)
    restricted = Restriction.applies_to(person.id)
    objected = _objected(choices, upheld_objections(person.id))
    if is_suppressed(email):
        erased = is_erased(email)
        return {"email": normalise_email(email), "suppressed": True, "erased": erased,
                "restricted": restricted and not erased, "purposes": {
                    c.purpose.key: _answer(c, restricted, objected)
                    if c.purpose.kind == PurposeKind.ESSENTIAL.value and not erased else {
                        "granted": False, "locked": False, "needs_reconfirmation": False,
                        "notice_version": c.purpose.notice_version, "last_changed_at": None, "source": "suppressed",
                        "objected": c.purpose.key in objected}
                    for c in choices}}
    if user is None:
        return None
    return {"email": user.email, "suppressed": False, "erased": False, "restricted": restricted,
            "purposes": {c.purpose.key: _answer(c, restricted, objected) for c in choices}}


def _objected(choices, upheld: set[str]) -> set[str]:
    """Purposes an upheld objection stopped and that are still off (the person's own
    later yes ends the objection): each one objected to, and for the absolute
    objection to direct marketing, every marketing and tracking purpose."""
    marketing = DIRECT_MARKETING in upheld
    return {c.purpose.key for c in choices if not c.granted and (
        c.purpose.key in upheld
        or marketing and c.purpose.kind in (PurposeKind.MARKETING.value, PurposeKind.TRACKING.value))}


def _answer(c, restricted: bool = False, objected: set[str] = frozenset()) -> dict:
    usable = c.purpose.kind == PurposeKind.ESSENTIAL.value or not restricted
    return {
        "granted": c.granted and usable and c.purpose.key not in objected,
        "locked": c.locked,
        "needs_reconfirmation": c.needs_reconfirmation,
        "notice_version": c.purpose.notice_version,
        "last_changed_at": c.state.updated_at.isoformat() + "Z" if c.state else None,
        "source": c.state.source if c.state else "default",
        "parental_consent_required": c.needs_parent,
        "objected": c.purpose.key in objected,
    }
