"""The audit hash covers an immutable copy of the subject's id, so erasing a person
(which nulls the foreign key) cannot break the chain."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("audit_events", subject_ref=pw.IntegerField(null=True, index=True))
    migrator.sql("UPDATE audit_events SET subject_ref = subject_id")


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("audit_events", "subject_ref")
