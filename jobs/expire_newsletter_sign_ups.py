"""Forget newsletter sign-ups nobody confirmed within 30 days."""
from __future__ import annotations

from flask import Flask

from app.db import database
from app.services.newsletters.catalogue import expire_pending


def run(app: Flask) -> int:
    with app.app_context(), database.connection_context():
        return expire_pending()
