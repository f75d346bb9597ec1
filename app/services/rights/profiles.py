"""Rectification (GDPR Art. 16) of the profile fields a person may edit themselves."""
from __future__ import annotations

from app.db import database
from app.models import Profile, User
from app.models.base import utcnow
from app.services.platform import audit

EDITABLE = ("name", "phone", "company", "country", "time_zone", "language")


def profile_of(user: User) -> Profile:
    return Profile.get_or_none(Profile.user == user.id) or Profile(user=user)


def rectify_profile(user: User, changes: dict, ip: str | None = None) -> list[str]:
    """Apply the changes; return the names of the fields that really changed."""
    profile = profile_of(user)
    changed = []
    with database.atomic():
        for name in EDITABLE:
            if name not in changes:
                continue
            value = (changes[name] or "").strip()
            value = value.upper() if name == "country" else value
            target = user if name == "name" else profile
            if getattr(target, name) != value:
                setattr(target, name, value)
                changed.append(name)
        if changed:
            user.save()
            profile.updated_at = utcnow()
            profile.save()
            audit.record(audit.Event("profile.rectified", actor=user, subject=user, ip=ip,
                                     details={"fields": changed}))
    return changed
