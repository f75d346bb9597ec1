"""Delete export archives 7 days after they were ready (their registry retention)."""
from __future__ import annotations

from flask import Flask

from app.db import database
from app.services.rights.exports import purge_expired_exports


def run(app: Flask) -> int:
    with app.app_context(), database.connection_context():
        return purge_expired_exports()
