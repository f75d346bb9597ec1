"""Queue the nightly retention sweep; the job runner does the work in batches, with
progress, and resumes it if the scheduler is killed half-way."""
from __future__ import annotations

from flask import Flask

from app.db import database
from app.services.retention import policies


def run(app: Flask) -> int:
    with app.app_context(), database.connection_context():
        run = policies.start_run("schedule")
    app.logger.info("enforce_retention: queued run %d", run.id)
    return run.id
