"""A person's birth date or declared age, for the age of digital consent (children)."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields(
        "profile",
        birth_date=pw.DateField(null=True),
        declared_age=pw.SmallIntegerField(null=True),
        declared_age_on=pw.DateField(null=True),
    )


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("profile", "birth_date", "declared_age", "declared_age_on")
