"""Newsletters: each one a marketing purpose (archivable), and the sign-ups waiting
for the person's confirmation (double opt-in)."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("purpose", archived_at=pw.DateTimeField(null=True))

    @migrator.create_model
    class Newsletter(pw.Model):
        id = pw.AutoField()
        purpose = pw.ForeignKeyField(column_name='purpose_id', field='id', model=migrator.orm['purpose'],
                                     on_delete='RESTRICT', unique=True)
        topic = pw.CharField(max_length=80)
        double_opt_in = pw.BooleanField()
        created_at = pw.DateTimeField()
        archived_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "newsletter"

    @migrator.create_model
    class PendingSubscription(pw.Model):
        id = pw.AutoField()
        newsletter = pw.ForeignKeyField(column_name='newsletter_id', field='id', model=migrator.orm['newsletter'],
                                        on_delete='CASCADE')
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['users'],
                                  on_delete='CASCADE')
        source = pw.CharField(max_length=20)
        evidence = pw.TextField()
        requested_at = pw.DateTimeField()
        expires_at = pw.DateTimeField(index=True)

        class Meta:
            table_name = "pending_subscription"
            indexes = ((("newsletter", "user"), True),)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("pending_subscription")
    migrator.remove_model("newsletter")
    migrator.remove_fields("purpose", "archived_at")
