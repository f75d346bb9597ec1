"""Signing in with a provider binds the account to the provider's fixed account id
(`sub`), not only to an email address that could change hands."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class ProviderIdentity(pw.Model):
        id = pw.AutoField()
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['users'], on_delete='CASCADE')
        provider = pw.CharField(max_length=20)
        subject = pw.CharField(max_length=255)
        linked_at = pw.DateTimeField()

        class Meta:
            table_name = "provider_identity"
            indexes = ((("provider", "subject"), True), (("user", "provider"), True))


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model("provider_identity")
