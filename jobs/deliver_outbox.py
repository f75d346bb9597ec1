"""Deliver what is left in the outbox: mail that failed at first, retried with back-off
for 3 days (app.services.platform.outbox)."""
from __future__ import annotations

from flask import Flask

from app.db import database
from app.services.platform.outbox import deliver_due


def run(app: Flask) -> int:
    with app.app_context(), database.connection_context():
        return deliver_due()
