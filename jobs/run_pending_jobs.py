"""Run the queued jobs (exports…), and any a killed scheduler left half-done."""
from __future__ import annotations

from flask import Flask

import app.services.exports  # noqa: F401  (registers the export job's handler)
from app.db import database
from app.services.jobs import run_pending


def run(app: Flask) -> int:
    with app.app_context(), database.connection_context():
        return run_pending()
