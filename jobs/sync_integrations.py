"""Queue a sync of every connected integration (the job runner does the work)."""
from __future__ import annotations

from flask import Flask

from app.db import database
from app.services.integrations.connections import sync_all_due


def run(app: Flask) -> int:
    with app.app_context(), database.connection_context():
        return sync_all_due()
