"""What the DPO needs on a request: an assignee, the receipt confirmation, the one
extension; and an index for the queue's (due date, id) order."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.add_fields(
        "privacy_request",
        assignee=pw.ForeignKeyField(column_name='assignee_id', field='id', model=migrator.orm['users'], null=True,
                                    on_delete='SET NULL'),
        receipt_confirmed_at=pw.DateTimeField(null=True),
        extended_at=pw.DateTimeField(null=True),
        extension_reason=pw.TextField(null=True),
    )
    migrator.add_index("privacy_request", "due_at", "id")


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.drop_index("privacy_request", "due_at", "id")
    migrator.remove_fields("privacy_request", "assignee", "receipt_confirmed_at", "extended_at", "extension_reason")
