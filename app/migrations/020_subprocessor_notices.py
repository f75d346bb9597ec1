"""Sub-processor change notices: which customer admin was told of which version of
the register, the objection deadline, and their objection if any."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class SubprocessorNotice(pw.Model):
        id = pw.AutoField()
        version = pw.ForeignKeyField(column_name='version_id', field='id',
                                     model=migrator.orm['subprocessor_version'], on_delete='CASCADE')
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['users'], index=True,
                                  on_delete='CASCADE')
        sent_at = pw.DateTimeField()
        objection_deadline = pw.DateField()
        objected_at = pw.DateTimeField(index=True, null=True)
        objection_reason = pw.TextField()
        mail_failed = pw.BooleanField()

        class Meta:
            table_name = "subprocessor_notice"
            indexes = ((("version", "user"), True),)


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("subprocessor_notice")
