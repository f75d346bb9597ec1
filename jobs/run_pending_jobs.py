"""Start the queued jobs (exports, erasures, imports…), and any a killed scheduler left
half-done. In `flask jobs run` the workers run them (this only wakes them, so a long
job never holds up the tick); anywhere else they run here, one after the other."""
from __future__ import annotations

from flask import Flask

from app.db import database
from app.services.platform.jobs import run_pending


def run(app: Flask) -> int:
    workers = app.extensions.get("job_workers")
    if workers is not None:
        return workers.wake()
    with app.app_context(), database.connection_context():
        return run_pending()
