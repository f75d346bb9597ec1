"""Connected integrations (OAuth grants with encrypted tokens), and leads that say
which connection brought them in."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class Connection(pw.Model):
        id = pw.AutoField()
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['users'], on_delete='CASCADE')
        integration = pw.CharField(max_length=40)
        status = pw.CharField(max_length=20)
        direction = pw.CharField(max_length=10)
        granted_scopes = pw.TextField()
        access_token = pw.TextField()
        refresh_token = pw.TextField(null=True)
        token_expires_at = pw.DateTimeField(null=True)
        connected_at = pw.DateTimeField()
        last_synced_at = pw.DateTimeField(null=True)
        last_error = pw.TextField()
        sync_job = pw.ForeignKeyField(column_name='sync_job_id', field='id', model=migrator.orm['job'], null=True,
                                      on_delete='SET NULL', unique=True)
        delete_imported = pw.BooleanField()
        disconnect_job = pw.ForeignKeyField(column_name='disconnect_job_id', field='id', model=migrator.orm['job'],
                                            null=True, on_delete='SET NULL', unique=True)

        class Meta:
            table_name = "connection"
            indexes = ((("user", "integration"), True),)

    migrator.add_fields("lead", connection=pw.ForeignKeyField(
        column_name='connection_id', field='id', model=migrator.orm['connection'], null=True, on_delete='SET NULL'),
        external_id=pw.CharField(max_length=200, default=""))
    migrator.add_index("lead", "connection", "external_id")


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.drop_index("lead", "connection", "external_id")
    migrator.remove_fields("lead", "connection", "external_id")
    migrator.remove_model("connection")
