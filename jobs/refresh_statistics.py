"""Refresh SQLite's query-planner statistics as the data grows (see app.db)."""
from __future__ import annotations

from flask import Flask

from app.db import database, refresh_statistics


def run(app: Flask) -> None:
    with app.app_context(), database.connection_context():
        refresh_statistics()
