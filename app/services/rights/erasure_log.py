"""The erasure log: one line per completed erasure, in `<instance>/erasure-log.jsonl`.
It lives outside the database, so that no restore of a backup rolls it back: restoring
a backup (app.services.retention.backups) erases again everyone it names since the
snapshot. Written by the erasure job (app.services.rights.erasure) as its last step."""
from __future__ import annotations

import json
import os
from pathlib import Path

from flask import current_app

from app.models import User
from app.models.base import utcnow
from app.services.consent.suppression import address_hash
from app.services.platform.utc import iso_z
from app.services.rights.legal_holds import Hold

LOG_NAME = "erasure-log.jsonl"


def log_erasure(user: User, address: str, holds: list[Hold], request_id: int) -> None:
    """Append a completed erasure to the log (flushed to disk before returning). The row's
    creation time tells the person apart from a later account that reuses the id."""
    line = json.dumps({"at": iso_z(utcnow()), "user_id": user.id, "user_created_at": user.created_at.isoformat(),
                       "address_hash": address_hash(address), "request_id": request_id,
                       "holds": [{"category": h.category, "reason": h.reason, "until": h.until} for h in holds]})
    fd = os.open(_log_path(), os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        end = os.fstat(fd).st_size
        torn = end and os.pread(fd, 1, end - 1) != b"\n"  # a crash mid-line: start afresh
        os.write(fd, (b"\n" if torn else b"") + line.encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def read_erasure_log() -> list[dict]:
    """Every logged erasure, oldest first. A torn line (a crash while writing it) is
    skipped: its erasure did not complete then, and its retry wrote a whole line."""
    try:
        lines = _log_path().read_text().splitlines()
    except FileNotFoundError:
        return []
    entries = []
    for line in lines:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def _log_path() -> Path:
    Path(current_app.instance_path).mkdir(parents=True, exist_ok=True)
    return Path(current_app.instance_path) / LOG_NAME
