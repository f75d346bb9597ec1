"""Run the queued jobs (exports, erasures), and any a killed scheduler left half-done."""
from __future__ import annotations

from flask import Flask

from app.db import database
from app.services.platform.jobs import run_pending


def run(app: Flask) -> int:
    with app.app_context(), database.connection_context():
        return run_pending()
