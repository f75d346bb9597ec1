"""API keys for other systems, and the consent answer they get."""
from __future__ import annotations

import hashlib
import secrets

from app.models import ApiKey, PurposeKind, User
from app.models.base import utcnow
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
    to everything, essential included: nothing at all may reach it."""
    user = User.by_email(normalise_email(email))
    choices = choices_for(user or User(id=0, email=""))
    if is_suppressed(email):
        erased = is_erased(email)
        return {"email": normalise_email(email), "suppressed": True, "erased": erased, "purposes": {
            c.purpose.key: _answer(c) if c.purpose.kind == PurposeKind.ESSENTIAL.value and not erased else {
                "granted": False, "locked": False, "needs_reconfirmation": False,
                "notice_version": c.purpose.notice_version, "last_changed_at": None, "source": "suppressed"}
            for c in choices}}
    if user is None:
        return None
    return {"email": user.email, "suppressed": False, "erased": False,
            "purposes": {c.purpose.key: _answer(c) for c in choices}}


def _answer(c) -> dict:
    return {
        "granted": c.granted,
        "locked": c.locked,
        "needs_reconfirmation": c.needs_reconfirmation,
        "notice_version": c.purpose.notice_version,
        "last_changed_at": c.state.updated_at.isoformat() + "Z" if c.state else None,
        "source": c.state.source if c.state else "default",
        "parental_consent_required": c.needs_parent,
    }
