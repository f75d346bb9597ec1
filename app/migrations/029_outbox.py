"""The outbox (app.models.outbox): mail that matters, written in the transaction of the
change it reports and delivered with retries. The message is kept encrypted."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class OutboxMessage(pw.Model):
        id = pw.AutoField()
        kind = pw.CharField(max_length=40)
        recipient = pw.CharField(max_length=254, index=True)
        message_id = pw.CharField(max_length=250, unique=True)
        body = pw.TextField(null=True)
        ref = pw.CharField(max_length=60, null=True, index=True)
        status = pw.CharField(max_length=10, default="pending")
        created_at = pw.DateTimeField()
        expires_at = pw.DateTimeField(null=True)
        next_attempt_at = pw.DateTimeField()
        attempts = pw.IntegerField(default=0)
        claim = pw.CharField(max_length=32, null=True)
        claimed_until = pw.DateTimeField(null=True)
        last_error = pw.CharField(max_length=120, default="")
        finished_at = pw.DateTimeField(null=True, index=True)

        class Meta:
            table_name = "outbox_message"
            indexes = ((("status", "next_attempt_at"), False),)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("outbox_message")
