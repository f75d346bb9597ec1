"""Consent: the purposes catalogue, the consent ledger and current state, API keys.
(Written from `flask db revision`'s output, keeping only the new tables: its diff also
proposed renaming every existing index, which changes nothing.)"""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class Purpose(pw.Model):
        id = pw.AutoField()
        key = pw.CharField(max_length=40, unique=True)
        name = pw.CharField(max_length=120)
        description = pw.TextField()
        kind = pw.CharField(max_length=20)
        legal_basis = pw.CharField(max_length=20)
        default_granted = pw.BooleanField(default=False)
        locked_reason = pw.TextField(null=True)
        notice_version = pw.IntegerField(default=1)
        notice_published_at = pw.DateTimeField()
        position = pw.IntegerField(default=0)

        class Meta:
            table_name = "purpose"

    @migrator.create_model
    class ConsentEvent(pw.Model):
        id = pw.AutoField()
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['users'], on_delete='CASCADE')
        purpose = pw.ForeignKeyField(column_name='purpose_id', field='id', model=migrator.orm['purpose'], on_delete='RESTRICT')
        granted = pw.BooleanField()
        notice_version = pw.IntegerField()
        occurred_at = pw.DateTimeField(index=True)
        source = pw.CharField(max_length=20)
        actor = pw.ForeignKeyField(column_name='actor_id', field='id', model=migrator.orm['users'], null=True, on_delete='SET NULL')
        actor_label = pw.CharField(max_length=254)
        ip = pw.CharField(max_length=64, null=True)
        user_agent = pw.CharField(default='', max_length=300)

        class Meta:
            table_name = "consent_event"
            indexes = [(('user', 'purpose', 'id'), False)]

    @migrator.create_model
    class ConsentState(pw.Model):
        id = pw.AutoField()
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['users'], on_delete='CASCADE')
        purpose = pw.ForeignKeyField(column_name='purpose_id', field='id', model=migrator.orm['purpose'], on_delete='RESTRICT')
        granted = pw.BooleanField()
        notice_version = pw.IntegerField()
        source = pw.CharField(max_length=20)
        updated_at = pw.DateTimeField()
        last_event = pw.ForeignKeyField(column_name='last_event_id', field='id', model=migrator.orm['consent_event'], on_delete='RESTRICT', unique=True)

        class Meta:
            table_name = "consent_state"
            indexes = [(('user', 'purpose'), True)]

    @migrator.create_model
    class ApiKey(pw.Model):
        id = pw.AutoField()
        name = pw.CharField(max_length=100)
        prefix = pw.CharField(index=True, max_length=12)
        key_hash = pw.CharField(max_length=64, unique=True)
        created_by = pw.ForeignKeyField(column_name='created_by_id', field='id', model=migrator.orm['users'], null=True, on_delete='SET NULL')
        created_at = pw.DateTimeField()
        last_used_at = pw.DateTimeField(null=True)
        revoked_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "api_key"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model('api_key')
    migrator.remove_model('consent_state')
    migrator.remove_model('consent_event')
    migrator.remove_model('purpose')
