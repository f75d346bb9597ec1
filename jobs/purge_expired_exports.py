"""Delete export archives 7 days after they were ready (their registry retention):
people's exports and business customers' company exports."""
from __future__ import annotations

from flask import Flask

from app.db import database
from app.services.agreements.customer_exports import purge_expired_customer_exports
from app.services.rights.exports import purge_expired_exports


def run(app: Flask) -> int:
    with app.app_context(), database.connection_context():
        return purge_expired_exports() + purge_expired_customer_exports()
