"""Queue a sync of every connected integration (the job runner does the work), and try
again the revocations an erasure queued."""
from __future__ import annotations

from flask import Flask

from app.db import database
from app.services.integrations.connections import revoke_pending, sync_all_due


def run(app: Flask) -> int:
    with app.app_context(), database.connection_context():
        revoke_pending()
        return sync_all_due()
