"""Business customers: each company, the accounts that belong to it, and the exports
of everything processed on its behalf (app.models.companies)."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class Company(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=200, unique=True)
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "company"

    @migrator.create_model
    class CompanyMember(pw.Model):
        id = pw.AutoField()
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'],
                                     on_delete='CASCADE')
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['users'],
                                  on_delete='CASCADE', unique=True)
        added_at = pw.DateTimeField()

        class Meta:
            table_name = "company_member"

    @migrator.create_model
    class CompanyExport(pw.Model):
        id = pw.AutoField()
        company = pw.ForeignKeyField(column_name='company_id', field='id', model=migrator.orm['company'],
                                     on_delete='CASCADE')
        requested_by = pw.ForeignKeyField(column_name='requested_by_id', field='id', model=migrator.orm['users'],
                                          null=True, on_delete='SET NULL')
        job = pw.ForeignKeyField(column_name='job_id', field='id', model=migrator.orm['job'], on_delete='CASCADE',
                                 unique=True)
        file_name = pw.CharField(max_length=80, null=True)
        size_bytes = pw.BigIntegerField(null=True)
        ready_at = pw.DateTimeField(null=True)
        expires_at = pw.DateTimeField(null=True, index=True)
        downloads = pw.IntegerField(default=0)
        deleted_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "company_export"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("company_export")
    migrator.remove_model("company_member")
    migrator.remove_model("company")
