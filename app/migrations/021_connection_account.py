"""A connection records which provider account it is (its email, from the OpenID
Connect id_token), so the person can see which account they connected."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("connection", account_email=pw.CharField(max_length=320, default=""))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_fields("connection", "account_email")
