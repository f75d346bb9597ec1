"""Send confirmed erasures whose 14-day cooling-off is over to the privacy team."""
from __future__ import annotations

from flask import Flask

from app.db import database
from app.services.rights.requests import end_cooling_off


def run(app: Flask) -> int:
    with app.app_context(), database.connection_context():
        return end_cooling_off()
