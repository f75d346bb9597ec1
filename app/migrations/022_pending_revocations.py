"""Grants an erasure queued for revocation at their provider (the erasure no longer
waits on the provider, nor needs its settings)."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class PendingRevocation(pw.Model):
        id = pw.AutoField()
        provider = pw.CharField(max_length=40)
        token = pw.TextField()
        token_type_hint = pw.CharField(max_length=20)
        queued_at = pw.DateTimeField()
        attempts = pw.IntegerField()
        last_error = pw.TextField()

        class Meta:
            table_name = "pending_revocation"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("pending_revocation")
