"""A deletion approved in part names the categories kept under a legal hold; the
privacy team keeps internal notes on each request."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields("privacy_request", legal_holds=pw.TextField(null=True))

    @migrator.create_model
    class RequestNote(pw.Model):
        id = pw.AutoField()
        request = pw.ForeignKeyField(column_name='request_id', field='id', model=migrator.orm['privacy_request'],
                                     on_delete='CASCADE')
        author = pw.ForeignKeyField(column_name='author_id', field='id', model=migrator.orm['users'], null=True,
                                    on_delete='SET NULL')
        author_label = pw.CharField(max_length=254)
        body = pw.TextField()
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "request_note"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("request_note")
    migrator.remove_fields("privacy_request", "legal_holds")
