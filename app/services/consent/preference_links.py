"""Signed "Manage preferences" links for email footers: no login, one person's
preferences only, valid 90 days (itsdangerous)."""
from __future__ import annotations

from datetime import timedelta
from typing import Callable

from app.models import User
from app.models.user import normalise_email
from app.services.platform.errors import ServiceError
from app.models.base import utcnow
from app.services.platform.outbox import queue_email
from app.services.platform.signed_links import SignedLink

LINK_LIFETIME = timedelta(days=90)
SCOPE = "preferences"


PREFERENCES_LINK = SignedLink(
    "preferences-link", LINK_LIFETIME,
    expired="This preferences link has expired: links work for 90 days. We can email you a fresh one.",
    invalid="This preferences link is not valid: it may have been cut short or changed. "
            "We can email you a fresh one.")


def make_token(user: User) -> str:
    return PREFERENCES_LINK.make({"u": user.id, "s": SCOPE})


def person_for_token(token: str) -> User:
    data = PREFERENCES_LINK.read(token)
    user = User.get_or_none(User.id == data.get("u")) if data.get("s") == SCOPE else None
    if user is None or not user.active:
        raise ServiceError("This preferences link no longer works. We can email you a fresh one.", 410)
    return user


def send_fresh_link(email: str, link_for: Callable[[str], str]) -> None:
    """Email a new link if the address is on file. The caller says the same thing
    either way, so the answer never reveals whether an address exists."""
    user = User.by_email(normalise_email(email))
    if user is None or not user.active:
        return
    queue_email(user.email, "Your link to manage your preferences", "preferences_link",
                expires_at=utcnow() + LINK_LIFETIME, link=link_for(make_token(user)), days=LINK_LIFETIME.days)
