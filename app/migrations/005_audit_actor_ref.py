"""The audit hash covers the actor's id instead of their address, so erasure can
pseudonymise the readable label. Existing records are re-sealed under the new hash,
once, here (the digest is frozen in this file so later changes cannot alter it)."""

import hashlib
import json

import peewee as pw
from peewee_migrate import Migrator

GENESIS = "0" * 64


def _digest(prev, occurred_at, action, actor_ref, subject_ref, details, ip):
    payload = json.dumps([prev, occurred_at.isoformat(), action, actor_ref, subject_ref, details, ip],
                         separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _reseal(database):
    from datetime import datetime
    cursor = database.execute_sql(
        "SELECT id, occurred_at, action, actor_ref, subject_ref, details, ip FROM audit_events ORDER BY id")
    prev = GENESIS
    for row_id, occurred_at, action, actor_ref, subject_ref, details, ip in cursor.fetchall():
        if isinstance(occurred_at, str):
            occurred_at = datetime.fromisoformat(occurred_at)
        new = _digest(prev, occurred_at, action, actor_ref, subject_ref, json.loads(details), ip)
        # prev_hash and hash are unique: move each record aside first, then set it.
        database.execute_sql("UPDATE audit_events SET prev_hash = %s, hash = %s WHERE id = %s"
                             .replace("%s", database.param), (f"r{row_id}", f"h{row_id}", row_id))
        database.execute_sql("UPDATE audit_events SET prev_hash = %s, hash = %s WHERE id = %s"
                             .replace("%s", database.param), (prev, new, row_id))
        prev = new


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("audit_events", actor_ref=pw.IntegerField(null=True, index=True))
    migrator.sql("UPDATE audit_events SET actor_ref = actor_id")
    migrator.run(_reseal, database)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("audit_events", "actor_ref")
