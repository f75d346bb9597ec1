"""Queue the nightly backup; the job runner writes it, and writes it again if the
scheduler is killed half-way (app.services.retention.backups)."""
from __future__ import annotations

from flask import Flask

from app.db import database
from app.services.retention.backups import queue_backup


def run(app: Flask) -> int:
    with app.app_context(), database.connection_context():
        return queue_backup().id
