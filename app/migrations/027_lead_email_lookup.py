"""Leads are looked up by address, case-blind, when the person they are about signs in
(app.services.rights.personal_data): an expression index keeps it a lookup on
SQLite and PostgreSQL alike."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql("CREATE INDEX lead_email_lower ON lead (lower(email))")


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.sql("DROP INDEX lead_email_lower")
