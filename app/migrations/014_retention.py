"""Retention: the DPO's policies, the record of every sweep, and the last outcome of
each scheduled job."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class RetentionPolicy(pw.Model):
        id = pw.AutoField()
        category = pw.CharField(max_length=120, unique=True)
        days = pw.IntegerField()
        action = pw.CharField(max_length=10)
        blank_fields = pw.TextField()
        note = pw.TextField()
        enabled = pw.BooleanField()
        updated_at = pw.DateTimeField()
        updated_by = pw.ForeignKeyField(column_name='updated_by_id', field='id', model=migrator.orm['users'],
                                        null=True, on_delete='SET NULL')

        class Meta:
            table_name = "retention_policy"

    @migrator.create_model
    class RetentionRun(pw.Model):
        id = pw.AutoField()
        job = pw.ForeignKeyField(column_name='job_id', field='id', model=migrator.orm['job'], null=True,
                                 on_delete='SET NULL', unique=True)
        only_category = pw.CharField(max_length=120, null=True)
        trigger = pw.CharField(max_length=20)
        started_by = pw.ForeignKeyField(column_name='started_by_id', field='id', model=migrator.orm['users'],
                                        null=True, on_delete='SET NULL')
        status = pw.CharField(max_length=10)
        counts = pw.TextField()
        errors = pw.TextField()
        created_at = pw.DateTimeField(index=True)
        started_at = pw.DateTimeField(null=True)
        finished_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "retention_run"

    @migrator.create_model
    class ScheduledRun(pw.Model):
        id = pw.AutoField()
        job_id = pw.CharField(max_length=60, unique=True)
        started_at = pw.DateTimeField(null=True)
        finished_at = pw.DateTimeField(null=True)
        outcome = pw.CharField(max_length=10)
        requested_at = pw.DateTimeField(null=True)
        detail = pw.TextField()

        class Meta:
            table_name = "scheduled_run"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("scheduled_run")
    migrator.remove_model("retention_run")
    migrator.remove_model("retention_policy")
