"""A scheduled run beats while it runs (app.services.platform.schedule): a run whose beat
stopped was left by a scheduler that died, and is run again."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("scheduled_run", heartbeat_at=pw.DateTimeField(null=True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("scheduled_run", "heartbeat_at")
