"""Background jobs with persisted progress, and data exports."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class Job(pw.Model):
        id = pw.AutoField()
        kind = pw.CharField(max_length=30, index=True)
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['users'], null=True, on_delete='CASCADE')
        status = pw.CharField(max_length=10, default='queued', index=True)
        progress_done = pw.IntegerField(default=0)
        progress_total = pw.IntegerField(default=0)
        attempts = pw.IntegerField(default=0)
        error = pw.TextField(null=True)
        created_at = pw.DateTimeField()
        started_at = pw.DateTimeField(null=True)
        heartbeat_at = pw.DateTimeField(null=True)
        finished_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "job"

    @migrator.create_model
    class DataExport(pw.Model):
        id = pw.AutoField()
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['users'], on_delete='CASCADE')
        job = pw.ForeignKeyField(column_name='job_id', field='id', model=migrator.orm['job'], on_delete='CASCADE', unique=True)
        file_name = pw.CharField(max_length=80, null=True)
        size_bytes = pw.BigIntegerField(null=True)
        ready_at = pw.DateTimeField(null=True)
        expires_at = pw.DateTimeField(null=True, index=True)
        downloads = pw.IntegerField(default=0)
        deleted_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "data_export"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model('data_export')
    migrator.remove_model('job')
