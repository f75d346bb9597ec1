"""Privacy requests with their timeline, and the suppression list."""

import peewee as pw
from peewee_migrate import Migrator


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    @migrator.create_model
    class PrivacyRequest(pw.Model):
        id = pw.AutoField()
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['users'], on_delete='RESTRICT')
        kind = pw.CharField(max_length=20, index=True)
        status = pw.CharField(max_length=30, index=True)
        details = pw.TextField(default='')
        jurisdiction = pw.CharField(max_length=10, default='GDPR')
        channel = pw.CharField(max_length=20, default='portal')
        received_at = pw.DateTimeField()
        due_at = pw.DateTimeField(index=True)
        confirmed_at = pw.DateTimeField(null=True)
        cooling_off_until = pw.DateTimeField(null=True)
        decided_at = pw.DateTimeField(null=True)
        completed_at = pw.DateTimeField(null=True)
        denial_reason = pw.TextField(null=True)
        job = pw.ForeignKeyField(column_name='job_id', field='id', model=migrator.orm['job'], null=True, on_delete='SET NULL')
        report = pw.TextField(null=True)

        class Meta:
            table_name = "privacy_request"

    @migrator.create_model
    class RequestEvent(pw.Model):
        id = pw.AutoField()
        request = pw.ForeignKeyField(column_name='request_id', field='id', model=migrator.orm['privacy_request'], on_delete='CASCADE')
        occurred_at = pw.DateTimeField()
        status = pw.CharField(max_length=30)
        note = pw.TextField(default='')
        actor_label = pw.CharField(max_length=254)

        class Meta:
            table_name = "request_event"

    @migrator.create_model
    class Suppression(pw.Model):
        id = pw.AutoField()
        address_hash = pw.CharField(max_length=64, unique=True)
        reason = pw.CharField(max_length=40)
        created_at = pw.DateTimeField()

        class Meta:
            table_name = "suppression"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    migrator.remove_model('suppression')
    migrator.remove_model('request_event')
    migrator.remove_model('privacy_request')
