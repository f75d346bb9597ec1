"""Email each DPO the open requests that are overdue or due within 7 days (once a day)."""
from __future__ import annotations

from flask import Flask

from app.db import database
from app.services.rights.digest import send_dpo_digests


def run(app: Flask) -> int:
    with app.app_context(), database.connection_context():
        sent = send_dpo_digests()
    app.logger.info("send_dpo_digest: sent %d", sent)
    return sent
