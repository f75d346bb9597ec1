"""Subscriber imports: the uploaded CSV, its mapping, dry run, progress and report;
and the consent evidence of each imported row, beside the consent event it proves."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class SubscriberImport(pw.Model):
        id = pw.AutoField()
        newsletter = pw.ForeignKeyField(column_name='newsletter_id', field='id', model=migrator.orm['newsletter'],
                                        on_delete='CASCADE')
        created_by = pw.ForeignKeyField(column_name='created_by_id', field='id', model=migrator.orm['users'],
                                        null=True, on_delete='SET NULL')
        original_name = pw.CharField(max_length=255)
        stored_name = pw.CharField(max_length=80)
        size_bytes = pw.BigIntegerField()
        header = pw.TextField()
        mapping = pw.TextField()
        status = pw.CharField(max_length=10)
        preview = pw.TextField()
        counts = pw.TextField()
        next_line = pw.IntegerField()
        report_bytes = pw.BigIntegerField()
        mail_from_line = pw.IntegerField(null=True)
        report_name = pw.CharField(max_length=80, null=True)
        job = pw.ForeignKeyField(column_name='job_id', field='id', model=migrator.orm['job'], null=True,
                                 on_delete='SET NULL', unique=True)
        created_at = pw.DateTimeField()
        finished_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "subscriber_import"

    @migrator.create_model
    class ImportEvidence(pw.Model):
        id = pw.AutoField()
        consent_event = pw.ForeignKeyField(column_name='consent_event_id', field='id',
                                           model=migrator.orm['consent_event'], on_delete='CASCADE', unique=True)
        subscriber_import = pw.ForeignKeyField(column_name='subscriber_import_id', field='id',
                                               model=migrator.orm['subscriber_import'], null=True,
                                               on_delete='SET NULL')
        line = pw.IntegerField()
        evidence = pw.TextField()

        class Meta:
            table_name = "import_evidence"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("import_evidence")
    migrator.remove_model("subscriber_import")
