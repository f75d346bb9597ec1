"""Restriction of processing (Art. 18) recorded per person, and objections (Art. 21)
that name the processing objected to, with the DPO's compelling grounds on a refusal."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("privacy_request", processing=pw.CharField(max_length=40, null=True),
                        compelling_grounds=pw.TextField(null=True))

    @migrator.create_model
    class Restriction(pw.Model):
        id = pw.AutoField()
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['users'], on_delete='CASCADE')
        reason = pw.CharField(max_length=30)
        request = pw.ForeignKeyField(column_name='request_id', field='id', model=migrator.orm['privacy_request'],
                                     null=True, on_delete='SET NULL')
        started_at = pw.DateTimeField()
        lifted_at = pw.DateTimeField(null=True, index=True)
        lift_notice_sent_at = pw.DateTimeField(null=True)
        lifted_by = pw.CharField(max_length=254)
        lift_reason = pw.TextField()

        class Meta:
            table_name = "restriction"
            indexes = ((("user", "lifted_at"), False),)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("restriction")
    migrator.remove_fields("privacy_request", "processing", "compelling_grounds")
