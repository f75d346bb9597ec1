"""The sub-processor register: each sub-processor as it stands now, and the
append-only history of its versions (who changed what, when and why)."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class Subprocessor(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=120)
        purpose = pw.TextField()
        data_categories = pw.TextField()
        country = pw.CharField(max_length=2)
        transfer_mechanism = pw.CharField(max_length=20)
        uk_addendum = pw.BooleanField()
        since = pw.DateField()
        version = pw.IntegerField()
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        removed_at = pw.DateTimeField(index=True, null=True)

        class Meta:
            table_name = "subprocessor"

    @migrator.create_model
    class SubprocessorVersion(pw.Model):
        id = pw.AutoField()
        subprocessor = pw.ForeignKeyField(column_name='subprocessor_id', field='id',
                                          model=migrator.orm['subprocessor'])
        number = pw.IntegerField()
        change = pw.CharField(max_length=10)
        name = pw.CharField(max_length=120)
        purpose = pw.TextField()
        data_categories = pw.TextField()
        country = pw.CharField(max_length=2)
        transfer_mechanism = pw.CharField(max_length=20)
        uk_addendum = pw.BooleanField()
        since = pw.DateField()
        reason = pw.TextField()
        changed_at = pw.DateTimeField(index=True)
        changed_by = pw.ForeignKeyField(column_name='changed_by_id', field='id', model=migrator.orm['users'],
                                        null=True, on_delete='SET NULL')

        class Meta:
            table_name = "subprocessor_version"
            indexes = ((("subprocessor", "number"), True),)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("subprocessor_version")
    migrator.remove_model("subprocessor")
