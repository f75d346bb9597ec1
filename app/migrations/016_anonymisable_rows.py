"""Retention may anonymise usage, engagement, calls, messages, check-ins and support
conversations: an anonymised row no longer points at its person. And requests closed
before closing set `completed_at` (refused, cancelled) get it now, from their last
step, so their 24 months can run."""

import peewee as pw
from peewee_migrate import Migrator

ANONYMISABLE = {"usage_event": "user", "email_engagement": "user", "call_log": "owner", "sms_log": "owner",
                "location_checkin": "owner", "support_interaction": "user"}


def migrate(migrator: Migrator, database: pw.Database, *, fake=False):
    for table, person in ANONYMISABLE.items():
        migrator.drop_not_null(table, person)
    migrator.sql(
        "UPDATE privacy_request SET completed_at = (SELECT MAX(e.occurred_at) FROM request_event e "
        "WHERE e.request_id = privacy_request.id) "
        "WHERE completed_at IS NULL AND status IN ('completed', 'denied', 'cancelled')")


def rollback(migrator: Migrator, database: pw.Database, *, fake=False):
    for table, person in ANONYMISABLE.items():
        migrator.add_not_null(table, person)
