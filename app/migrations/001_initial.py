"""Peewee migrations -- 001_initial.py.

Some examples (model - class or model name)::

    > Model = migrator.orm['table_name']            # Return model in current state by name
    > Model = migrator.ModelClass                   # Return model in current state by name

    > migrator.sql(sql)                             # Run custom SQL
    > migrator.run(func, *args, **kwargs)           # Run python function with the given args
    > migrator.create_model(Model)                  # Create a model (could be used as decorator)
    > migrator.remove_model(model, cascade=True)    # Remove a model
    > migrator.add_fields(model, **fields)          # Add fields (allow_not_null=True skips default)
    > migrator.change_fields(model, **fields)       # Change fields
    > migrator.remove_fields(model, *field_names, cascade=True)
    > migrator.rename_field(model, old_field_name, new_field_name)
    > migrator.rename_table(model, new_table_name)
    > migrator.add_index(model, *col_names, unique=False)
    > migrator.add_not_null(model, *field_names)
    > migrator.add_default(model, field_name, default)
    > migrator.add_constraint(model, name, sql)
    > migrator.drop_index(model, *col_names)
    > migrator.drop_not_null(model, *field_names)
    > migrator.drop_constraints(model, *constraints)

"""

from contextlib import suppress
from decimal import ROUND_HALF_EVEN  # peewee-migrate writes the rounding mode but not its import

import peewee as pw
from peewee_migrate import Migrator


with suppress(ImportError):
    pass


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    """Write your migrations here."""
    
    @migrator.create_model
    class User(pw.Model):
        id = pw.AutoField()
        email = pw.CharField(max_length=254, unique=True)
        name = pw.CharField(default='', max_length=200)
        role = pw.CharField(default='subject', index=True, max_length=20)
        password_hash = pw.CharField(max_length=255, null=True)
        totp_secret = pw.TextField(null=True)
        totp_last_step = pw.BigIntegerField(null=True)
        active = pw.BooleanField(default=True)
        created_at = pw.DateTimeField()
        updated_at = pw.DateTimeField()
        last_login_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "users"

    @migrator.create_model
    class AuditEvent(pw.Model):
        id = pw.AutoField()
        occurred_at = pw.DateTimeField(index=True)
        action = pw.CharField(index=True, max_length=64)
        actor = pw.ForeignKeyField(column_name='actor_id', field='id', model=migrator.orm['users'], null=True, on_delete='SET NULL')
        actor_label = pw.CharField(max_length=254)
        subject = pw.ForeignKeyField(column_name='subject_id', field='id', model=migrator.orm['users'], null=True, on_delete='SET NULL')
        details = pw.TextField(default='{}')
        ip = pw.CharField(max_length=64, null=True)
        prev_hash = pw.CharField(max_length=64, unique=True)
        hash = pw.CharField(max_length=64, unique=True)

        class Meta:
            table_name = "audit_events"

    @migrator.create_model
    class Lead(pw.Model):
        id = pw.AutoField()
        owner = pw.ForeignKeyField(column_name='owner_id', field='id', model=migrator.orm['users'], on_delete='CASCADE')
        name = pw.CharField(max_length=200)
        email = pw.CharField(default='', max_length=254)
        phone = pw.CharField(default='', max_length=40)
        company = pw.CharField(default='', max_length=200)
        notes = pw.TextField(default='')
        source = pw.CharField(default='manual', max_length=20)
        created_at = pw.DateTimeField(index=True)

        class Meta:
            table_name = "lead"

    @migrator.create_model
    class CalendarEntry(pw.Model):
        id = pw.AutoField()
        owner = pw.ForeignKeyField(column_name='owner_id', field='id', model=migrator.orm['users'], on_delete='CASCADE')
        lead = pw.ForeignKeyField(column_name='lead_id', field='id', model=migrator.orm['lead'], null=True, on_delete='SET NULL')
        title = pw.CharField(max_length=200)
        starts_at = pw.DateTimeField(index=True)
        ends_at = pw.DateTimeField()
        location = pw.CharField(default='', max_length=200)
        attendees = pw.TextField(default='')

        class Meta:
            table_name = "calendar_entry"

    @migrator.create_model
    class CallLog(pw.Model):
        id = pw.AutoField()
        owner = pw.ForeignKeyField(column_name='owner_id', field='id', model=migrator.orm['users'], on_delete='CASCADE')
        lead = pw.ForeignKeyField(column_name='lead_id', field='id', model=migrator.orm['lead'], null=True, on_delete='SET NULL')
        number = pw.CharField(max_length=40)
        direction = pw.CharField(max_length=8)
        duration_seconds = pw.IntegerField(default=0)
        caller_id = pw.CharField(default='', max_length=80)
        called_at = pw.DateTimeField(index=True)

        class Meta:
            table_name = "call_log"

    @migrator.create_model
    class Device(pw.Model):
        id = pw.AutoField()
        owner = pw.ForeignKeyField(column_name='owner_id', field='id', model=migrator.orm['users'], on_delete='CASCADE')
        platform = pw.CharField(max_length=20)
        name = pw.CharField(max_length=100)
        push_token = pw.CharField(max_length=255, null=True)
        push_enabled = pw.BooleanField(default=False)
        last_seen_at = pw.DateTimeField()

        class Meta:
            table_name = "device"

    @migrator.create_model
    class EmailEngagement(pw.Model):
        id = pw.AutoField()
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['users'], on_delete='CASCADE')
        kind = pw.CharField(max_length=10)
        campaign = pw.CharField(max_length=200)
        link_url = pw.CharField(default='', max_length=500)
        occurred_at = pw.DateTimeField(index=True)

        class Meta:
            table_name = "email_engagement"

    @migrator.create_model
    class LocationCheckin(pw.Model):
        id = pw.AutoField()
        owner = pw.ForeignKeyField(column_name='owner_id', field='id', model=migrator.orm['users'], on_delete='CASCADE')
        lead = pw.ForeignKeyField(column_name='lead_id', field='id', model=migrator.orm['lead'], null=True, on_delete='CASCADE')
        latitude = pw.DecimalField(auto_round=False, decimal_places=6, max_digits=9, rounding=ROUND_HALF_EVEN)
        longitude = pw.DecimalField(auto_round=False, decimal_places=6, max_digits=9, rounding=ROUND_HALF_EVEN)
        activity = pw.CharField(default='visit', max_length=40)
        recorded_at = pw.DateTimeField(index=True)

        class Meta:
            table_name = "location_checkin"

    @migrator.create_model
    class PaymentMethod(pw.Model):
        id = pw.AutoField()
        owner = pw.ForeignKeyField(column_name='owner_id', field='id', model=migrator.orm['users'], on_delete='CASCADE')
        cardholder_name = pw.CharField(max_length=200)
        brand = pw.CharField(max_length=20)
        last4 = pw.CharField(max_length=4)
        exp_month = pw.SmallIntegerField()
        exp_year = pw.SmallIntegerField()
        added_at = pw.DateTimeField()

        class Meta:
            table_name = "payment_method"

    @migrator.create_model
    class UploadedFile(pw.Model):
        id = pw.AutoField()
        owner = pw.ForeignKeyField(column_name='owner_id', field='id', model=migrator.orm['users'], on_delete='CASCADE')
        lead = pw.ForeignKeyField(column_name='lead_id', field='id', model=migrator.orm['lead'], null=True, on_delete='CASCADE')
        filename = pw.CharField(max_length=255)
        stored_name = pw.CharField(max_length=80, unique=True)
        content_type = pw.CharField(max_length=100)
        size_bytes = pw.IntegerField()
        sha256 = pw.CharField(max_length=64)
        uploaded_at = pw.DateTimeField()

        class Meta:
            table_name = "uploaded_file"

    @migrator.create_model
    class Profile(pw.Model):
        id = pw.AutoField()
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['users'], on_delete='CASCADE', unique=True)
        phone = pw.CharField(default='', max_length=40)
        company = pw.CharField(default='', max_length=200)
        country = pw.CharField(default='', max_length=2)
        time_zone = pw.CharField(default='UTC', max_length=64)
        language = pw.CharField(default='en', max_length=16)
        photo = pw.ForeignKeyField(column_name='photo_id', field='id', model=migrator.orm['uploaded_file'], null=True, on_delete='SET NULL')
        updated_at = pw.DateTimeField()

        class Meta:
            table_name = "profile"

    @migrator.create_model
    class SignInLink(pw.Model):
        id = pw.AutoField()
        nonce = pw.CharField(max_length=64, unique=True)
        email = pw.CharField(index=True, max_length=254)
        created_at = pw.DateTimeField()
        expires_at = pw.DateTimeField(index=True)
        used_at = pw.DateTimeField(null=True)

        class Meta:
            table_name = "sign_in_link"

    @migrator.create_model
    class SmsLog(pw.Model):
        id = pw.AutoField()
        owner = pw.ForeignKeyField(column_name='owner_id', field='id', model=migrator.orm['users'], on_delete='CASCADE')
        lead = pw.ForeignKeyField(column_name='lead_id', field='id', model=migrator.orm['lead'], null=True, on_delete='SET NULL')
        number = pw.CharField(max_length=40)
        direction = pw.CharField(max_length=8)
        body = pw.TextField(default='')
        sent_at = pw.DateTimeField(index=True)

        class Meta:
            table_name = "sms_log"

    @migrator.create_model
    class SupportInteraction(pw.Model):
        id = pw.AutoField()
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['users'], on_delete='CASCADE')
        channel = pw.CharField(max_length=20)
        subject = pw.CharField(max_length=200)
        body = pw.TextField(default='')
        agent = pw.CharField(default='', max_length=100)
        created_at = pw.DateTimeField(index=True)

        class Meta:
            table_name = "support_interaction"

    @migrator.create_model
    class UsageEvent(pw.Model):
        id = pw.AutoField()
        user = pw.ForeignKeyField(column_name='user_id', field='id', model=migrator.orm['users'], on_delete='CASCADE')
        path = pw.CharField(max_length=500)
        referrer = pw.CharField(default='', max_length=500)
        user_agent = pw.CharField(default='', max_length=500)
        ip = pw.CharField(default='', max_length=64)
        occurred_at = pw.DateTimeField(index=True)

        class Meta:
            table_name = "usage_event"


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    """Write your rollback migrations here."""
    
    migrator.remove_model('usage_event')

    migrator.remove_model('support_interaction')

    migrator.remove_model('sms_log')

    migrator.remove_model('sign_in_link')

    migrator.remove_model('profile')

    migrator.remove_model('uploaded_file')

    migrator.remove_model('payment_method')

    migrator.remove_model('location_checkin')

    migrator.remove_model('email_engagement')

    migrator.remove_model('device')

    migrator.remove_model('call_log')

    migrator.remove_model('calendar_entry')

    migrator.remove_model('lead')

    migrator.remove_model('audit_events')

    migrator.remove_model('users')
