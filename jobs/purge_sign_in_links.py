"""Delete sign-in links a day after they expired (their registry retention)."""
from __future__ import annotations

from flask import Flask

from app.db import database
from app.services.accounts.auth import purge_sign_in_links


def run(app: Flask) -> int:
    with app.app_context(), database.connection_context():
        deleted = purge_sign_in_links()
    app.logger.info("purge_sign_in_links: deleted %d", deleted)
    return deleted
