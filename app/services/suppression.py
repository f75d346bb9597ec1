"""The suppression list: addresses that must never be imported or mailed again. Only
a keyed hash is stored (HMAC-SHA256 with the instance's suppression key), so the list
can be checked but names nobody, even to someone who reads the database."""
from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from peewee import IntegrityError

from app.db import database
from app.models import Suppression
from app.models.user import normalise_email


def address_hash(email: str) -> str:
    key = current_app.config["SUPPRESSION_KEY"].encode()
    return hmac.new(key, normalise_email(email).encode(), hashlib.sha256).hexdigest()


def suppress(email: str, reason: str) -> None:
    try:
        with database.atomic():
            Suppression.create(address_hash=address_hash(email), reason=reason)
    except IntegrityError:
        pass  # already suppressed: never un-suppressed, never duplicated


def is_suppressed(email: str) -> bool:
    return Suppression.select().where(Suppression.address_hash == address_hash(email)).exists()


def lift_suppression(email: str) -> int:
    """Only for the person's own confirmed new sign-up (double opt-in): nobody else
    may take an address off the list."""
    return Suppression.delete().where(Suppression.address_hash == address_hash(email)).execute()
